"""Saliency equals the largest absolute weight of the target class on a linear model."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput


@pytest.mark.parametrize("target", [0, 3])
def test_a_linear_models_saliency_is_its_largest_absolute_weight(
    linear, linear_images, target
) -> None:
    result = lenses.compute("saliency", linear.model, linear_images, target=target)
    expected = np.abs(linear.column(target)).max(axis=-1)
    assert result.arrays["map"].shape == (4, 5, 6)
    assert result.arrays["map"].dtype == np.float32
    for row in result.arrays["map"]:
        np.testing.assert_allclose(row, expected, rtol=1e-5)
    assert result.meta["targets"] == [target] * 4


def test_predicted_target_is_each_images_top_class(linear, linear_images) -> None:
    result = lenses.compute("saliency", linear.model, linear_images)
    logits = linear_images.reshape(4, -1) @ linear.weights + linear.bias
    assert result.meta["targets"] == logits.argmax(axis=1).tolist()
    for row, target in zip(result.arrays["map"], result.meta["targets"], strict=True):
        np.testing.assert_allclose(row, np.abs(linear.column(target)).max(axis=-1), rtol=1e-5)


def test_a_softmax_model_is_explained_on_its_logits(softmax_model, images) -> None:
    import keras

    # The same network without its softmax: the gradients of its logits.
    dense = softmax_model.layers[-1]
    logits_layer = keras.layers.Dense(dense.units, name="plain")
    tap = keras.Sequential([keras.Input((8, 8, 1)), *softmax_model.layers[:-1], logits_layer])
    logits_layer.set_weights(dense.get_weights())
    expected = lenses.compute("saliency", tap, images, target=1).arrays["map"]
    got = lenses.compute("saliency", softmax_model, images, target=1).arrays["map"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)


def test_a_target_out_of_range_is_refused(linear, linear_images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("saliency", linear.model, linear_images, target=4)
    assert caught.value.field == "target"
