"""Faithfulness: deletion and insertion curves measured on the model, against random maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses._maps import gaussian_blur, mask_overlap, pointing_hits
from convscope.lenses.faithfulness import probabilities


@pytest.fixture(scope="module")
def sparse_model() -> keras.Model:
    """Class 1's score rests on three pixels of a 6x6 image; class 0's on nothing."""
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(2, name="logits")]
    )
    weights = np.zeros((36, 2), np.float32)
    weights[[7, 15, 26], 1] = 0.05
    model.get_layer("logits").set_weights([weights, np.array([0.0, -5.0], np.float32)])
    return model


@pytest.fixture(scope="module")
def bright() -> np.ndarray:
    return np.full((2, 6, 6, 1), 100.0, np.float32)


def test_curves_start_and_end_where_the_model_says(conv_model, images) -> None:
    result = lenses.compute("faithfulness", conv_model, images, target=2, steps=4, random_maps=2)
    seen = probabilities(conv_model, images)[:, 2]
    black = probabilities(conv_model, np.zeros_like(images))[:, 2]
    blurred = probabilities(conv_model, gaussian_blur(images, 1.0))[:, 2]
    for key in ("deletion", "deletion_random"):
        np.testing.assert_allclose(result.arrays[key][:, 0], seen, rtol=1e-5)
        np.testing.assert_allclose(result.arrays[key][:, -1], black, rtol=1e-5)
    for key in ("insertion", "insertion_random"):
        np.testing.assert_allclose(result.arrays[key][:, 0], blurred, rtol=1e-5)
        np.testing.assert_allclose(result.arrays[key][:, -1], seen, rtol=1e-5)
    assert result.meta["fractions"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    area = np.trapezoid(result.arrays["deletion"], dx=0.25, axis=1)
    np.testing.assert_allclose(result.meta["deletion_auc"], area, rtol=1e-5)


def test_a_map_on_the_deciding_pixels_beats_random_maps(sparse_model, bright) -> None:
    result = lenses.compute(
        "faithfulness",
        sparse_model,
        bright,
        target=1,
        lens="saliency",
        steps=12,
        insertion_baseline="black",  # the blurred image of a flat one is itself
    )
    meta = result.meta
    # Saliency ranks the three deciding pixels first: deleting them kills the class at the
    # first step, inserting them restores it at once.
    assert np.all(result.arrays["deletion"][:, 1] < 0.01)
    assert np.all(result.arrays["insertion"][:, 1] > 0.99)
    assert all(
        d < r for d, r in zip(meta["deletion_auc"], meta["deletion_random_auc"], strict=True)
    )
    assert all(
        i > r for i, r in zip(meta["insertion_auc"], meta["insertion_random_auc"], strict=True)
    )


def test_the_lens_map_comes_along(conv_model, images) -> None:
    result = lenses.compute("faithfulness", conv_model, images, target=0, lens="grad_cam", steps=4)
    expected = lenses.compute("grad_cam", conv_model, images, target=0)
    np.testing.assert_allclose(result.arrays["map"], expected.arrays["map"], rtol=1e-5)
    assert result.meta["lens"] == "grad_cam" and result.meta["layer"] == "conv2"


def test_with_masks_the_map_is_scored_against_the_object(conv_model, images, masks) -> None:
    result = lenses.compute(
        "faithfulness", conv_model, images, target=1, masks=masks, steps=4, tolerance=0
    )
    maps = result.arrays["map"]
    assert result.meta["pointing_hit"] == pointing_hits(maps, masks).tolist()
    np.testing.assert_allclose(result.meta["mask_overlap"], mask_overlap(maps, masks), atol=1e-6)
    np.testing.assert_allclose(result.meta["mask_share"], masks.mean(axis=(1, 2)))
    without = lenses.compute("faithfulness", conv_model, images, target=1, steps=4)
    assert "pointing_hit" not in without.meta


def test_a_dataset_mean_deletion_needs_the_dataset(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("faithfulness", conv_model, images, deletion_baseline="dataset_mean")
    assert caught.value.field == "deletion_baseline"


def test_any_attribution_lens_can_be_scored_even_wrapped(conv_model, images) -> None:
    result = lenses.compute(
        "faithfulness",
        conv_model,
        images[:2],
        lens="smoothgrad",
        lens_params={"lens": "integrated_gradients", "samples": 2, "lens_params": {"steps": 4}},
        steps=4,
    )
    assert result.meta["lens"] == "smoothgrad"
    assert result.meta["lens_params"]["lens_params"]["steps"] == 4
