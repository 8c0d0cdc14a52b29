"""The explainer's arithmetic redone from its arrays equals the model's own outputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses import conv_explainer as ce
from convscope.models import inspect


def explain(model, images, layer=None):
    params = {} if layer is None else {"layer": layer}
    return lenses.compute("conv_explainer", model, images, **params)


def test_every_convolution_output_is_its_multiply_add_then_relu(conv_model, images) -> None:
    result = explain(conv_model, images[:2], "conv2")
    assert result.meta["kind"] == "convolution" and result.meta["activation"] == "relu"
    assert result.meta["input_layer"] == "pool1"
    image = 1
    inputs, output = result.arrays["input"][image], result.arrays["output"][image]
    kernel, bias = result.arrays["kernel"][image], result.arrays["bias"][image]
    np.testing.assert_array_equal(kernel, conv_model.get_layer("conv2").kernel.numpy())
    height, width, channels = output.shape
    for row in range(height):
        for col in range(width):
            for channel in range(channels):
                terms = ce.conv_terms(inputs, kernel, bias, row, col, channel, result.meta)
                assert terms["products"].shape == (3, 3, inputs.shape[-1])
                assert terms["per_channel"].sum() + terms["bias"] == pytest.approx(terms["total"])
                redone = ce.activate("relu", np.array(terms["total"]))
                assert redone == pytest.approx(output[row, col, channel], abs=1e-4)


def test_same_padding_puts_zeros_around_the_image(conv_model, images) -> None:
    result = explain(conv_model, images[:1])  # the first convolution by default
    assert result.meta["layer"] == "conv1" and result.meta["pad"] == [1, 1]
    assert result.meta["input_layer"] == "rescale"
    terms = ce.conv_terms(
        result.arrays["input"][0],
        result.arrays["kernel"][0],
        result.arrays["bias"][0],
        0,
        0,
        0,
        result.meta,
    )
    assert np.all(terms["patch"][0, :] == 0) and np.all(terms["patch"][:, 0] == 0)
    np.testing.assert_allclose(terms["patch"][1:, 1:, 0], images[0, :2, :2, 0] / 255, atol=1e-6)


def test_a_strided_valid_convolution(images) -> None:
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, strides=2, padding="same", name="c"),
            keras.layers.Conv2D(3, 2, padding="valid", activation="tanh", name="d"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    for name in ("c", "d"):
        result = explain(model, images[:1], name)
        out = result.arrays["output"][0]
        for row in range(out.shape[0]):
            for col in range(out.shape[1]):
                terms = ce.conv_terms(
                    result.arrays["input"][0],
                    result.arrays["kernel"][0],
                    result.arrays["bias"][0],
                    row,
                    col,
                    1,
                    result.meta,
                )
                redone = ce.activate(result.meta["activation"], np.array(terms["total"]))
                assert redone == pytest.approx(out[row, col, 1], abs=1e-3)


def test_max_pooling_keeps_the_winner(conv_model, images) -> None:
    result = explain(conv_model, images[:1], "pool1")
    assert result.meta["kind"] == "pooling" and result.meta["operation"] == "max"
    assert "kernel" not in result.arrays
    inputs, output = result.arrays["input"][0], result.arrays["output"][0]
    for row in range(output.shape[0]):
        for col in range(output.shape[1]):
            for channel in range(output.shape[2]):
                found = ce.pool_window(inputs, row, col, channel, result.meta)
                assert found["value"] == pytest.approx(output[row, col, channel], abs=1e-6)
                r, c = found["winner"]
                assert found["window"][r, c] == found["value"]


def test_flatten_lays_out_rows_then_columns_then_channels(conv_model, images) -> None:
    result = explain(conv_model, images[:1], "flatten")
    inputs, output = result.arrays["input"][0], result.arrays["output"][0]
    for index in (0, 5, len(output) - 1):
        assert output[index] == inputs[ce.flatten_source(index, inputs.shape)]


def test_the_logits_then_the_softmax(conv_model, images) -> None:
    result = explain(conv_model, images[:2], "logits")
    assert result.meta["kind"] == "dense" and result.meta["is_output"] is True
    inputs, output = result.arrays["input"][1], result.arrays["output"][1]
    totals = [
        ce.dense_terms(inputs, result.arrays["kernel"][1], result.arrays["bias"][1], unit)["total"]
        for unit in range(output.shape[0])
    ]
    np.testing.assert_allclose(totals, output, atol=1e-4)
    np.testing.assert_allclose(totals, inspect.logits(conv_model, images[1:2])[0], atol=1e-4)
    probabilities = ce.activate("softmax", np.array(totals))
    np.testing.assert_allclose(probabilities, result.arrays["probabilities"][1], atol=1e-5)
    assert explain(conv_model, images[:1], "dense1").meta["is_output"] is False


def test_a_softmax_model_shows_its_last_layer_as_logits(softmax_model, images) -> None:
    last = softmax_model.layers[-1].name
    result = explain(softmax_model, images[:1], last)
    assert result.meta["activation"] == "softmax" and result.meta["is_output"] is True
    unit_totals = [
        ce.dense_terms(
            result.arrays["input"][0], result.arrays["kernel"][0], result.arrays["bias"][0], u
        )["total"]
        for u in range(3)
    ]
    np.testing.assert_allclose(
        ce.activate("softmax", np.array(unit_totals)), result.arrays["output"][0], atol=1e-5
    )
    # The first convolution's input is the rescaled image.
    conv = explain(softmax_model, images[:1])
    np.testing.assert_allclose(conv.arrays["input"][0], images[0] / 255, atol=1e-6)


def test_a_layer_it_cannot_explain_is_refused_with_the_choices(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        explain(conv_model, images[:1], "rescale")
    assert caught.value.field == "layer" and "Rescaling" in caught.value.reason
    assert caught.value.choices == ["conv1", "pool1", "conv2", "flatten", "dense1", "logits"]
    with pytest.raises(InvalidInput) as unknown:
        explain(conv_model, images[:1], "no_such_layer")
    assert unknown.value.field == "layer"


def test_padding_offsets_follow_tensorflow() -> None:
    assert ce.padding_offsets((8, 8), (3, 3), (1, 1), "same") == (1, 1)
    assert ce.padding_offsets((8, 8), (3, 3), (2, 2), "same") == (0, 0)
    assert ce.padding_offsets((7, 7), (4, 4), (1, 1), "same") == (1, 1)
    assert ce.padding_offsets((8, 8), (3, 3), (1, 1), "valid") == (0, 0)


def test_on_a_trained_run_the_redone_pixel_is_the_activation(trained_run) -> None:
    import convscope
    from convscope.store import Store

    with Store(trained_run.store_dir) as store:
        model = convscope.load_model(store, trained_run.run_id, snapshot=1)
        image = store.read_run_arrays(trained_run.run_id, "probe")["images"][4:5]
    image = inspect.as_images(model, image)
    activation = lenses.compute("activations", model, image, layers=["conv2"]).arrays["conv2"]
    result = explain(model, image, "conv2")
    terms = ce.conv_terms(
        result.arrays["input"][0],
        result.arrays["kernel"][0],
        result.arrays["bias"][0],
        2,
        1,
        7,
        result.meta,
    )
    assert max(terms["total"], 0.0) == pytest.approx(activation[0, 2, 1, 7], abs=1e-4)
