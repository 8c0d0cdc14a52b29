"""Top images rank the probe images by one channel's mean activation, as the model computes it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput


def mean_activation(model: keras.Model, layer: str, images: np.ndarray, channel: int):
    tap = keras.Model(model.inputs[0], model.get_layer(layer).output)
    values = np.asarray(tap(images, training=False))[..., channel]
    return values.reshape(len(images), -1).mean(axis=1)


def test_images_are_ranked_by_the_channels_mean_activation(conv_model, images, labels) -> None:
    result = lenses.compute(
        "top_images", conv_model, images, labels=labels, layer="conv2", channel=3, count=4
    )
    expected = mean_activation(conv_model, "conv2", images, 3)
    order = result.arrays["indices"]
    assert len(order) == 4 and len(set(order.tolist())) == 4
    np.testing.assert_allclose(result.arrays["scores"], expected[order], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.arrays["all_scores"], expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(result.arrays["scores"]) <= 0)
    assert expected[order[-1]] >= np.sort(expected)[-4] - 1e-6  # none better was left out
    assert result.meta["labels"] == labels[order].tolist()


def test_the_logits_rank_images_by_class_score(softmax_model, images, labels) -> None:
    from convscope.models.inspect import logits

    result = lenses.compute("top_images", softmax_model, images, labels=labels, channel=2, count=6)
    scores = logits(softmax_model, images)[:, 2]
    assert result.arrays["indices"].tolist() == np.argsort(-scores, kind="stable").tolist()
    assert result.meta["layer"] is None


def test_a_channel_beyond_the_layer_is_refused(conv_model, images, labels) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("top_images", conv_model, images, labels=labels, layer="conv1", channel=4)
    assert caught.value.field == "channel" and "0..3" in caught.value.reason
