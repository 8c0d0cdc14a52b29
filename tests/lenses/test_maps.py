"""The NumPy helpers behind the attribution lenses and their scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from convscope.lenses._maps import (
    area_under_curve,
    centre_prior,
    dilate,
    importance_order,
    mask_overlap,
    pointing_hits,
    random_maps,
    spearman,
)


def test_importance_order_ranks_the_highest_first_and_breaks_ties_evenly() -> None:
    maps = np.array([[[0.0, 3.0], [1.0, 2.0]]])
    assert importance_order(maps).tolist() == [[[3, 0], [2, 1]]]
    flat = np.zeros((1, 16, 16))
    first = np.unravel_index(np.argmin(importance_order(flat)[0]), (16, 16))
    assert first != (0, 0)  # not the top-left corner's privilege
    np.testing.assert_array_equal(importance_order(flat, 3), importance_order(flat, 3))


def test_area_under_curve_is_the_trapezoidal_rule() -> None:
    values = np.array([[1.0, 0.5, 0.0], [0.2, 0.2, 0.2]])
    np.testing.assert_allclose(area_under_curve(values), [0.5, 0.2])


def test_pointing_hits_and_tolerance() -> None:
    masks = np.zeros((1, 5, 5), bool)
    masks[0, 1:3, 1:3] = True
    peak_inside = np.zeros((1, 5, 5))
    peak_inside[0, 2, 2] = 1
    peak_beside = np.zeros((1, 5, 5))
    peak_beside[0, 2, 3] = 1
    assert pointing_hits(peak_inside, masks).tolist() == [True]
    assert pointing_hits(peak_beside, masks).tolist() == [False]
    assert pointing_hits(peak_beside, masks, tolerance=1).tolist() == [True]
    assert dilate(masks, 1).sum() == 4 + 4 * 2  # a disc of radius 1 adds the four sides


def test_mask_overlap_is_the_positive_mass_on_the_object() -> None:
    masks = np.zeros((3, 2, 2), bool)
    masks[:, 0, 0] = True
    maps = np.array([[[3.0, 1.0], [0.0, -5.0]], [[1.0, 1.0], [1.0, 1.0]], [[-1.0, 0.0], [0, 0]]])
    np.testing.assert_allclose(mask_overlap(maps, masks), [0.75, 0.25, 0.0])


def test_reference_maps() -> None:
    assert random_maps(2, 4, 5, 0).shape == (2, 4, 5)
    np.testing.assert_array_equal(random_maps(1, 4, 4, 9), random_maps(1, 4, 4, 9))
    prior = centre_prior(9, 9)
    assert np.unravel_index(prior.argmax(), prior.shape) == (4, 4)


@pytest.mark.parametrize("seed", [0, 1])
def test_spearman_matches_scipy(seed) -> None:
    rng = np.random.default_rng(seed)
    first = rng.random((6, 6))
    second = first + rng.normal(0, 0.3, (6, 6))
    second[0, :3] = second[0, 3]  # ties
    assert spearman(first, second) == pytest.approx(spearmanr(first.ravel(), second.ravel())[0])
    assert spearman(first, np.zeros((6, 6))) == 0.0
