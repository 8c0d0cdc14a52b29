"""Channel importance: each row is the ablation of that channel alone, however batched."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses import _ablation
from convscope.models.build import build_model
from convscope.models.presets import get_preset
from convscope.models.split import split_at


def importance(model, images, labels, **params):
    return lenses.compute("channel_importance", model, images, labels=labels, **params)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_each_row_is_the_ablation_of_that_channel(trained_shapes, mode) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = importance(model, images, labels, layer="conv2", mode=mode)
    drop = result.arrays["drop"]
    assert drop.shape == (32, 1 + model.output.shape[-1]) and drop.dtype == np.float32
    for channel in (0, int(result.meta["ranking"][0]), 31):
        alone = lenses.compute(
            "ablation", model, images, labels=labels, layer="conv2", channels=[channel], mode=mode
        )
        accuracy = alone.arrays["accuracy"]
        np.testing.assert_array_equal(result.arrays["intact"], accuracy[1])
        np.testing.assert_allclose(drop[channel], accuracy[1] - accuracy[0], atol=1e-7)
    assert drop[:, 0].max() > 0, "some channel of the trained network matters"


def test_rankings_are_sorted(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = importance(model, images, labels, layer="conv1")
    drop, meta = result.arrays["drop"], result.meta
    assert sorted(meta["ranking"]) == list(range(16))
    assert np.all(np.diff(drop[meta["ranking"], 0]) <= 0)
    assert len(meta["ranking_per_class"]) == model.output.shape[-1]
    for c, ranking in enumerate(meta["ranking_per_class"]):
        assert np.all(np.diff(drop[ranking, 1 + c]) <= 0)
    assert meta["layer"] == "conv1" and meta["mode"] == "zero" and meta["images"] == 300


def test_batches_of_any_size_give_the_same_drops(trained_shapes, monkeypatch) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    together = importance(model, images, labels, layer="conv2").arrays["drop"]
    # conv2's output on 16x16 shapes is 8 x 8 x 32 per image: three channels' copies a batch.
    monkeypatch.setattr(_ablation, "COPIES_BUDGET", 3 * 8 * 8 * 32 * len(images))
    apart = importance(model, images, labels, layer="conv2").arrays["drop"]
    np.testing.assert_array_equal(together, apart)


def test_a_residual_block_is_measured_on_its_branch() -> None:
    model = build_model(get_preset("resnet_mini"), (8, 8, 1), 4, seed=0)
    images = np.random.default_rng(5).integers(0, 256, (16, 8, 8, 1)).astype(np.float32)
    labels = np.arange(16) % 4
    result = importance(model, images, labels, layer="res2_add", mode="mean")
    assert result.meta["ablated_layer"] == "res2_bn_b" and result.arrays["drop"].shape == (32, 5)
    alone = lenses.compute(
        "ablation", model, images, labels=labels, layer="res2_add", channels=[7], mode="mean"
    )
    accuracy = alone.arrays["accuracy"]
    np.testing.assert_allclose(result.arrays["drop"][7], accuracy[1] - accuracy[0], atol=1e-7)


def test_a_layer_the_logits_ignore_is_refused(softmax_model, images, labels) -> None:
    # The last Dense ends in a softmax: its logits come from a linear copy, not from it.
    name = softmax_model.layers[-1].name
    with pytest.raises(InvalidInput) as caught:
        importance(softmax_model, images, labels, layer=name)
    assert caught.value.field == "layer"


def test_the_dense_shortcut_matches_the_whole_rest_of_the_network(trained_shapes) -> None:
    # conv2 -> pool -> flatten -> dropout -> dense1: only the switched-off channel's rows
    # of dense1's kernel are used again; conv1 has a convolution after it: the long way.
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    assert split_at(model, "conv2").shortcut is not None
    assert split_at(model, "dense1").shortcut is not None
    assert split_at(model, "conv1").shortcut is None
    result = importance(model, images, labels, layer="dense1", mode="mean")
    for unit in (0, int(result.meta["ranking"][0])):
        alone = lenses.compute(
            "ablation", model, images, labels=labels, layer="dense1", channels=[unit], mode="mean"
        )
        accuracy = alone.arrays["accuracy"]
        np.testing.assert_allclose(
            result.arrays["drop"][unit], accuracy[1] - accuracy[0], atol=1e-7
        )
