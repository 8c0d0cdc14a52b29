"""The filters lens returns a convolution's kernels exactly as the layer applies them."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput


def test_the_first_convolution_by_default(conv_model, images) -> None:
    result = lenses.compute("filters", conv_model, images)
    layer = conv_model.get_layer("conv1")
    assert result.meta["layer"] == "conv1" and result.meta["layers"] == ["conv1", "conv2"]
    kernels = result.arrays["kernels"]
    assert kernels.shape == (4, 3, 3, 1)  # (output channels, height, width, input channels)
    np.testing.assert_array_equal(kernels, np.asarray(layer.kernel).transpose(3, 0, 1, 2))
    np.testing.assert_array_equal(result.arrays["bias"], np.asarray(layer.bias))


def test_a_kernel_times_a_patch_is_the_layers_output(conv_model, images) -> None:
    result = lenses.compute("filters", conv_model, images, layer="conv2")
    kernels, bias = result.arrays["kernels"], result.arrays["bias"]
    assert kernels.shape == (6, 3, 3, 4)
    layer = conv_model.get_layer("conv2")
    tap = keras.Model(conv_model.inputs[0], [layer.input, layer.output])
    before, after = (np.asarray(t) for t in tap(images[:1], training=False))
    # Position (2, 2) of the output reads the 3x3 patch around it ("same" padding).
    patch = before[0, 1:4, 1:4, :]
    expected = np.maximum(np.einsum("ohwi,hwi->o", kernels, patch) + bias, 0)  # ReLU
    np.testing.assert_allclose(after[0, 2, 2], expected, rtol=1e-5, atol=1e-5)


def test_other_convolutions_are_shown_per_output_channel(images) -> None:
    inputs = keras.Input((8, 8, 1))
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(inputs)
    transposed = keras.layers.Conv2DTranspose(5, 3, name="transposed")(depthwise)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(transposed)))
    result = lenses.compute("filters", model, images, layer="depthwise")
    kernel = np.asarray(model.get_layer("depthwise").kernel)  # (3, 3, 1, 2)
    assert result.arrays["kernels"].shape == (2, 3, 3, 1)
    np.testing.assert_array_equal(result.arrays["kernels"][1, ..., 0], kernel[:, :, 0, 1])
    result = lenses.compute("filters", model, images, layer="transposed")
    kernel = np.asarray(model.get_layer("transposed").kernel)  # (3, 3, out 5, in 2)
    assert result.arrays["kernels"].shape == (5, 3, 3, 2)
    np.testing.assert_array_equal(result.arrays["kernels"][4], kernel[:, :, 4, :])


def test_a_layer_that_is_not_a_convolution_is_refused(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("filters", conv_model, images, layer="dense1")
    assert caught.value.field == "layer" and caught.value.choices == ["conv1", "conv2"]


def test_a_model_without_convolutions_is_refused(images) -> None:
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("filters", model, images)
    assert caught.value.field == "model"
