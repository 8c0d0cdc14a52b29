"""Loss and input gradients, checked against analytic values and finite differences."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope.errors import InvalidInput
from convscope.models.build import build_model
from convscope.models.gradients import (
    SCORES_BATCH,
    input_gradients,
    integrated_gradients,
    loss_gradients,
    scores,
)
from convscope.models.spec import ArchSpec, ConvBlock, DropoutBlock, FlattenBlock


def linear_model(num_classes: int = 3) -> keras.Model:
    """image -> rescale (x/255) -> flatten -> logits: logits = W^T (x / 255) + b."""
    model = build_model(ArchSpec(blocks=[FlattenBlock()]), (8, 8, 1), num_classes, seed=0)
    bias = np.random.default_rng(3).normal(size=num_classes).astype(np.float32)
    model.get_layer("logits").bias.assign(bias)
    return model


def mean_loss(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    logits = np.asarray(model(images, training=False), dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def test_input_gradient_of_a_linear_model_is_its_weight_column(images_8x8: np.ndarray) -> None:
    model = linear_model()
    kernel = np.asarray(model.get_layer("logits").kernel)
    targets = np.array([0, 2, 1, 2])
    gradients = input_gradients(model, images_8x8, targets)
    assert gradients.shape == images_8x8.shape
    assert gradients.dtype == np.float32
    for row, target in enumerate(targets):
        # The rescaling layer divides pixels by 255, and so the gradient.
        expected = kernel[:, target].reshape(8, 8, 1) / 255.0
        np.testing.assert_allclose(gradients[row], expected, rtol=1e-5, atol=1e-9)


def test_one_target_for_the_whole_batch(images_8x8: np.ndarray) -> None:
    model = linear_model()
    np.testing.assert_array_equal(
        input_gradients(model, images_8x8, 1), input_gradients(model, images_8x8, [1, 1, 1, 1])
    )


def test_batch_of_one_equals_its_row_of_the_batch(images_8x8: np.ndarray) -> None:
    spec = ArchSpec(blocks=[ConvBlock(filters=3, activation="tanh"), DropoutBlock(rate=0.5)])
    model = build_model(spec, (8, 8, 1), 3, seed=1)
    batch = input_gradients(model, images_8x8, [0, 1, 2, 0])
    single = input_gradients(model, images_8x8[2:3], [2])
    np.testing.assert_allclose(single[0], batch[2], rtol=1e-5, atol=1e-8)
    # training=False: dropout is off, so the gradient is deterministic.
    np.testing.assert_array_equal(batch, input_gradients(model, images_8x8, [0, 1, 2, 0]))


def test_loss_gradient_of_a_linear_model_is_analytic(images_8x8: np.ndarray) -> None:
    model = linear_model()
    labels = np.array([0, 1, 2, 1])
    gradients = loss_gradients(model, images_8x8, labels)
    logits = np.asarray(model(images_8x8, training=False), dtype=np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    residual = (probabilities - np.eye(3)[labels]) / len(labels)
    features = images_8x8.reshape(4, -1) / 255.0
    kernel_gradient, bias_gradient = gradients
    np.testing.assert_allclose(bias_gradient, residual.sum(axis=0), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(kernel_gradient, features.T @ residual, rtol=1e-4, atol=1e-7)


def test_loss_gradients_follow_the_trainable_weights(images_8x8: np.ndarray) -> None:
    spec = ArchSpec(blocks=[ConvBlock(filters=2, activation="tanh"), FlattenBlock()])
    model = build_model(spec, (8, 8, 1), 3, seed=2)
    gradients = loss_gradients(model, images_8x8, [0, 1, 2, 0])
    assert len(gradients) == len(model.trainable_weights)
    for gradient, weight in zip(gradients, model.trainable_weights, strict=True):
        assert gradient.shape == tuple(weight.shape)
        assert gradient.dtype == np.float32
        assert np.isfinite(gradient).all()


def test_loss_gradient_matches_finite_differences(images_8x8: np.ndarray) -> None:
    spec = ArchSpec(blocks=[ConvBlock(filters=2, activation="tanh"), FlattenBlock()])
    model = build_model(spec, (8, 8, 1), 3, seed=2)
    labels = np.array([0, 1, 2, 0])
    conv_kernel = model.get_layer("conv1").kernel
    index = model.trainable_weights.index(conv_kernel)
    analytic = loss_gradients(model, images_8x8, labels)[index]
    position = np.unravel_index(np.argmax(np.abs(analytic)), analytic.shape)
    original = np.asarray(conv_kernel).copy()
    step = 1e-2
    losses = []
    for sign in (1, -1):
        moved = original.copy()
        moved[position] += sign * step
        conv_kernel.assign(moved)
        losses.append(mean_loss(model, images_8x8, labels))
    conv_kernel.assign(original)
    numeric = (losses[0] - losses[1]) / (2 * step)
    assert abs(analytic[position]) > 1e-3
    assert analytic[position] == pytest.approx(numeric, rel=2e-2)


def test_loss_from_probabilities() -> None:
    inputs = keras.Input((4,))
    probabilities = keras.layers.Dense(3, activation="softmax")(inputs)
    model = keras.Model(inputs, probabilities)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    gradients = loss_gradients(model, x, [0, 1, 2, 0, 1], from_logits=False)
    assert [g.shape for g in gradients] == [(4, 3), (3,)]
    assert any(np.abs(g).max() > 0 for g in gradients)


@pytest.mark.parametrize(
    ("target", "field"),
    [([0, 1], "target_class"), ([0, 1, 2, 3], "target_class"), ([0, -1, 0, 0], "target_class")],
)
def test_bad_targets_are_refused(images_8x8: np.ndarray, target: list, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        input_gradients(linear_model(), images_8x8, target)
    assert caught.value.field == field


def test_bad_images_and_labels_are_refused(images_8x8: np.ndarray) -> None:
    model = linear_model()
    with pytest.raises(InvalidInput) as caught:
        input_gradients(model, images_8x8[:, :4], 0)
    assert caught.value.field == "x"
    with pytest.raises(InvalidInput) as caught:
        loss_gradients(model, images_8x8, [0.5, 1, 2, 0])
    assert caught.value.field == "y"


def test_layer_gradient_of_the_logits_is_their_weight_column(images_8x8: np.ndarray) -> None:
    from convscope.models.gradients import layer_gradients

    spec = ArchSpec(blocks=[ConvBlock(filters=2, activation="tanh"), FlattenBlock()])
    model = build_model(spec, (8, 8, 1), 3, seed=2)
    kernel = np.asarray(model.get_layer("logits").kernel)
    targets = np.array([0, 2, 1, 2])
    activations, gradients = layer_gradients(model, images_8x8, "flatten", targets)
    tap = keras.Model(model.inputs[0], model.get_layer("flatten").output)
    np.testing.assert_allclose(activations, np.asarray(tap(images_8x8)), rtol=1e-5, atol=1e-6)
    for row, target in enumerate(targets):
        np.testing.assert_allclose(gradients[row], kernel[:, target], rtol=1e-5, atol=1e-7)
    with pytest.raises(InvalidInput) as caught:
        layer_gradients(model, images_8x8, "conv9", 0)
    assert caught.value.field == "layer"


def test_compiled_scores_equal_the_model_in_every_batch() -> None:
    model = build_model(
        ArchSpec(blocks=[ConvBlock(filters=3), FlattenBlock()]), (8, 8, 1), 4, seed=1
    )
    # More images than one compiled call takes: the batches are joined in order.
    images = np.random.default_rng(5).uniform(0, 255, (SCORES_BATCH + 7, 8, 8, 1))
    expected = np.asarray(model(images.astype(np.float32), training=False))
    np.testing.assert_allclose(scores(model, images), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores(model, images[:1]), expected[:1], rtol=1e-5, atol=1e-5)


def test_integrated_gradients_of_a_linear_model_are_exact(images_8x8: np.ndarray) -> None:
    model = linear_model()
    weights = model.get_layer("logits").get_weights()[0]
    starts = np.full_like(images_8x8, 30.0)
    attributions, ends, begins = integrated_gradients(model, images_8x8, starts, 2, steps=3)
    expected = (images_8x8 - starts) * weights[:, 2].reshape(8, 8, 1) / 255
    np.testing.assert_allclose(attributions, expected, rtol=1e-4, atol=1e-7)
    logits = np.asarray(model(images_8x8))[:, 2]
    np.testing.assert_allclose(ends, logits, rtol=1e-5)
    np.testing.assert_allclose(begins, np.asarray(model(starts))[:, 2], rtol=1e-5)


@pytest.mark.parametrize(
    ("starts", "steps", "field"),
    [(np.zeros((3, 8, 8, 1)), 8, "baselines"), (None, 1, "steps"), (None, 2.5, "steps")],
)
def test_bad_integrated_gradients_arguments_are_refused(images_8x8, starts, steps, field) -> None:
    starts = np.zeros_like(images_8x8) if starts is None else starts
    with pytest.raises(InvalidInput) as caught:
        integrated_gradients(linear_model(), images_8x8, starts, 0, steps=steps)
    assert caught.value.field == field
