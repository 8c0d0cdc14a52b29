"""Ablation: nothing switched off is the intact network, everything off is a constant
guess, and on a linear model and a residual block the ablated logits are known exactly."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses._ablation import softmax
from convscope.models.build import build_model
from convscope.models.presets import get_preset


def ablate(model, images, labels, **params):
    return lenses.compute("ablation", model, images, labels=labels, **params)


def test_switching_nothing_off_is_the_intact_network(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = ablate(model, images, labels, layer="conv2", channels=[])
    accuracy, predicted = result.arrays["accuracy"], result.arrays["predicted"]
    np.testing.assert_array_equal(accuracy[0], accuracy[1])
    np.testing.assert_array_equal(predicted[0], predicted[1])
    own = np.asarray(model(images, training=False)).argmax(axis=1)
    np.testing.assert_array_equal(predicted[1], own)
    assert accuracy[1, 0] == pytest.approx(np.mean(own == labels))
    assert accuracy[1, 0] > 0.5, "the trained network is far better than chance"
    for c in range(accuracy.shape[1] - 1):
        members = labels == c
        assert accuracy[1, 1 + c] == pytest.approx(np.mean(own[members] == c))
    assert result.meta["layer"] == "conv2" and result.meta["channels"] == []
    assert result.meta["mode"] == "zero" and result.meta["switched_off"] == 0


def test_the_last_hidden_layer_off_leaves_a_constant_guess(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = ablate(model, images, labels, layer="dense1", channels="all")
    ablated = result.arrays["predicted"][0]
    # With dense1 at zero, the logits are the last layer's bias, whatever the image.
    guess = int(np.argmax(model.get_layer("logits").get_weights()[1]))
    assert set(ablated.tolist()) == {guess}
    accuracy = result.arrays["accuracy"][0]
    assert accuracy[0] == pytest.approx(np.mean(labels == guess))
    expected = np.zeros(accuracy.shape[0] - 1)
    expected[guess] = 1
    np.testing.assert_array_equal(accuracy[1:], expected)
    assert result.arrays["accuracy"][1, 0] > accuracy[0]
    assert result.meta["switched_off"] == 64 and result.meta["channels"] == "all"


def test_every_channel_at_its_mean_also_leaves_a_constant_guess(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = ablate(model, images, labels, layer="dense1", channels="all", mode="mean")
    probabilities = result.arrays["probabilities"][0]
    np.testing.assert_allclose(probabilities, probabilities[:1].repeat(len(images), 0), atol=1e-6)
    assert len(set(result.arrays["predicted"][0].tolist())) == 1


def test_confusion_matrices_count_the_predictions(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = ablate(model, images, labels, layer="conv1", channels=[0, 3, 5])
    for row in range(2):
        matrix = result.arrays["confusion"][row]
        classes = matrix.shape[0]
        assert classes == model.output.shape[-1]
        np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=classes))
        predicted = np.bincount(result.arrays["predicted"][row], minlength=classes)
        np.testing.assert_array_equal(matrix.sum(axis=0), predicted)
        assert np.trace(matrix) / len(labels) == pytest.approx(result.arrays["accuracy"][row, 0])
    np.testing.assert_allclose(result.arrays["probabilities"].sum(axis=-1), 1, atol=1e-5)


@pytest.fixture(scope="module")
def linear_with_pixels(linear):
    """The linear model, with an identity layer on the pixels whose channels can be ablated."""
    model = keras.Sequential(
        [
            keras.Input(linear.shape),
            keras.layers.Identity(name="pixels"),
            keras.layers.Flatten(),
            keras.layers.Dense(linear.weights.shape[1], name="logits"),
        ]
    )
    model.get_layer("logits").set_weights([linear.weights, linear.bias])
    return model


@pytest.mark.parametrize("mode", ["zero", "mean"])
@pytest.mark.parametrize("channel", [0, 1])
def test_one_input_channel_of_a_linear_model(linear, linear_with_pixels, mode, channel) -> None:
    images = np.random.default_rng(3).normal(size=(80, *linear.shape)).astype(np.float32)
    intact = images.reshape(len(images), -1) @ linear.weights + linear.bias
    labels = intact.argmax(axis=1)
    labels[::3] = (labels[::3] + 1) % 4  # a third wrong: accuracy moves both ways
    altered = images.copy()
    altered[..., channel] = 0 if mode == "zero" else images[..., channel].mean(axis=0)
    logits = altered.reshape(len(images), -1) @ linear.weights + linear.bias
    result = ablate(
        linear_with_pixels, images, labels, layer="pixels", channels=[channel], mode=mode
    )
    np.testing.assert_allclose(result.arrays["probabilities"][0], softmax(logits), atol=1e-5)
    drop = np.mean(intact.argmax(1) == labels) - np.mean(logits.argmax(1) == labels)
    accuracy = result.arrays["accuracy"]
    assert accuracy[1, 0] - accuracy[0, 0] == pytest.approx(drop)
    assert drop != 0, "the test images are chosen so that the channel matters"


def test_a_residual_block_keeps_its_skip_connection() -> None:
    model = build_model(get_preset("resnet_mini"), (8, 8, 1), 4, seed=0)
    images = np.random.default_rng(4).integers(0, 256, (12, 8, 8, 1)).astype(np.float32)
    labels = np.arange(12) % 4
    result = ablate(model, images, labels, layer="res1_out", channels="all")
    assert result.meta["ablated_layer"] == "res1_bn_b" and result.meta["residual_branch"]
    # Without its branch, the first block passes relu(conv1) = conv1 on to the second.
    rest = keras.Model(model.get_layer("res1_out").output, model.output)
    conv1 = keras.Model(model.input, model.get_layer("conv1").output)
    expected = np.asarray(rest(conv1(images)))
    np.testing.assert_allclose(result.arrays["probabilities"][0], softmax(expected), atol=1e-5)
    intact = softmax(np.asarray(model(images)))
    np.testing.assert_allclose(result.arrays["probabilities"][1], intact, atol=1e-5)


def test_the_default_layer_is_the_last_convolution(conv_model, images, labels) -> None:
    result = ablate(conv_model, images, labels, channels=[1])
    assert result.meta["layer"] == "conv2" and result.meta["layer_channels"] == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channels": [9]}, "channels"),
        ({"channels": [1, 1]}, "channels"),
        ({"channels": [-1]}, "channels.list[int].0"),
        ({"channels": "some"}, "channels.list[int]"),
        ({"layer": "nope"}, "layer"),
        ({"layer": "image"}, "layer"),
        ({"mode": "half"}, "mode"),
    ],
)
def test_bad_parameters_are_named(conv_model, images, labels, params, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        ablate(conv_model, images, labels, **params)
    assert caught.value.field.split(".")[0] == field.split(".")[0]
    assert caught.value.reason


def test_labels_are_needed(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("ablation", conv_model, images)
    assert caught.value.field == "labels"
