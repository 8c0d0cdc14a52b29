"""Gradient x input is each pixel's exact share of a linear model's score."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses


@pytest.mark.parametrize("target", [1, 2])
def test_a_linear_models_map_is_input_times_weight(linear, linear_images, target) -> None:
    result = lenses.compute("gradient_x_input", linear.model, linear_images, target=target)
    expected = (linear_images * linear.column(target)).sum(axis=-1)
    np.testing.assert_allclose(result.arrays["map"], expected, rtol=1e-5, atol=1e-6)
    # The shares add up to the score without its bias.
    scores = linear_images.reshape(4, -1) @ linear.weights[:, target]
    np.testing.assert_allclose(result.arrays["map"].sum(axis=(1, 2)), scores, rtol=1e-4)


def test_black_pixels_get_nothing(conv_model, images) -> None:
    dark = images.copy()
    dark[:, :4] = 0
    result = lenses.compute("gradient_x_input", conv_model, dark, target=0)
    assert np.all(result.arrays["map"][:, :4] == 0)
    assert np.any(result.arrays["map"][:, 4:] != 0)
