"""Occlusion: the drop in the target logit when patches are hidden."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses.occlusion import patch_starts
from convscope.models import inspect


def test_one_pixel_patches_on_a_linear_model_give_input_times_weight(linear, linear_images) -> None:
    result = lenses.compute(
        "occlusion", linear.model, linear_images, target=3, patch=1, stride=1, fill=0.0
    )
    # Hiding one pixel removes exactly its share of the score, all channels at once.
    expected = (linear_images * linear.column(3)).sum(axis=-1)
    np.testing.assert_allclose(result.arrays["map"], expected, rtol=1e-4, atol=1e-4)


def test_every_pixel_is_the_mean_drop_of_the_patches_over_it(conv_model, images) -> None:
    result = lenses.compute(
        "occlusion", conv_model, images[:1], target=1, patch=4, stride=4, fill=10.0
    )
    # Patches tile the 8x8 image exactly: each pixel is covered by one patch.
    reference = inspect.logits(conv_model, images[:1])[0, 1]
    for top in (0, 4):
        for left in (0, 4):
            hidden = images[:1].copy()
            hidden[:, top : top + 4, left : left + 4] = 10.0
            drop = reference - inspect.logits(conv_model, hidden)[0, 1]
            np.testing.assert_allclose(
                result.arrays["map"][0, top : top + 4, left : left + 4], drop, rtol=1e-4, atol=1e-5
            )
    assert result.meta["patches"] == 4


def test_patches_reach_the_last_row() -> None:
    assert patch_starts(28, 4, 2) == list(range(0, 25, 2))
    assert patch_starts(8, 3, 2) == [0, 2, 4, 5]
    assert patch_starts(5, 5, 3) == [0]


def test_a_patch_larger_than_the_image_is_refused(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("occlusion", conv_model, images, patch=9)
    assert caught.value.field == "patch"
