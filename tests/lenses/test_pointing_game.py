"""The pointing game: every attribution lens scored against true object masks."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses._attribution import attribution_lenses
from convscope.lenses._maps import mask_overlap, pointing_hits


def test_scores_are_each_lenss_own_hits_and_overlap(conv_model, images, labels, masks) -> None:
    result = lenses.compute(
        "pointing_game",
        conv_model,
        images,
        labels=labels,
        masks=masks,
        lenses=["saliency", "occlusion"],
        tolerance=0,
    )
    assert result.meta["methods"] == ["saliency", "occlusion", "random", "centre"]
    for row, name in enumerate(["saliency", "occlusion"]):
        maps = lenses.compute(name, conv_model, images, target=labels).arrays["map"]
        np.testing.assert_array_equal(result.arrays["hits"][row], pointing_hits(maps, masks))
        np.testing.assert_allclose(
            result.arrays["overlap"][row], mask_overlap(maps, masks), atol=1e-6
        )
        assert result.meta["pointing"][row] == pytest.approx(
            pointing_hits(maps, masks).mean(), abs=1e-6
        )
    assert result.meta["mask_share"] == pytest.approx(masks.mean(), abs=1e-6)


def test_every_attribution_lens_is_scored_by_default(conv_model, images, labels, masks) -> None:
    result = lenses.compute(
        "pointing_game", conv_model, images, labels=labels, masks=masks, count=2
    )
    assert result.meta["methods"] == [*attribution_lenses(), "random", "centre"]
    assert result.arrays["hits"].shape == (len(attribution_lenses()) + 2, 2)
    assert result.meta["images"] == 2


def test_it_needs_masks_and_labels(conv_model, images, labels) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("pointing_game", conv_model, images, labels=labels)
    assert caught.value.field == "masks" and "shapes" in caught.value.reason
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("pointing_game", conv_model, images, masks=np.zeros((6, 8, 8), bool))
    assert caught.value.field == "labels"


def test_unknown_lenses_are_refused(conv_model, images, labels, masks) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute(
            "pointing_game", conv_model, images, labels=labels, masks=masks, lenses=["activations"]
        )
    assert caught.value.field == "lenses" and "activations" in caught.value.reason


def test_on_trained_shapes_grad_cam_beats_the_random_map(shapes_probe) -> None:
    result = lenses.compute(
        "pointing_game",
        shapes_probe.model,
        shapes_probe.images,
        labels=shapes_probe.labels,
        masks=shapes_probe.masks,
        lenses=["grad_cam", "saliency", "edge_detector"],
    )
    score = dict(zip(result.meta["methods"], result.meta["pointing"], strict=True))
    assert score["grad_cam"] > 2 * score["random"] and score["grad_cam"] > score["random"] + 0.2
    assert score["saliency"] > score["random"] + 0.4
    # The edge detector knows nothing of the model and still points at the object: the
    # pointing game alone does not show that a map explains the model.
    assert score["edge_detector"] > score["random"] + 0.4
