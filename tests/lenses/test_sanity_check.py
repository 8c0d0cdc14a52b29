"""The cascading randomisation sanity check (Adebayo et al. 2018)."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.lenses._maps import spearman
from convscope.lenses.sanity_check import random_weights, weighted_layers
from convscope.models import inspect

GRADIENT_LENSES = ["saliency", "gradient_x_input", "integrated_gradients", "grad_cam", "smoothgrad"]


def test_stages_go_from_the_top_and_weights_come_back(conv_model, images) -> None:
    before = inspect.logits(conv_model, images)
    result = lenses.compute("sanity_check", conv_model, images, target=0, lens="saliency")
    np.testing.assert_array_equal(inspect.logits(conv_model, images), before)
    assert result.meta["stages"] == ["original", "logits", "dense1", "conv2", "conv1"]
    assert result.arrays["maps"].shape == (6, 5, 8, 8)
    original = lenses.compute("saliency", conv_model, images, target=0).arrays["map"]
    np.testing.assert_allclose(result.arrays["maps"][:, 0], original, rtol=1e-6)
    np.testing.assert_allclose(result.arrays["spearman"][:, 0], 1.0, rtol=1e-6)
    for row in range(6):
        for stage in range(5):
            assert result.arrays["spearman"][row, stage] == pytest.approx(
                spearman(original[row], result.arrays["maps"][row, stage]), abs=1e-6
            )


def test_random_weights_keep_the_scale_not_the_values(conv_model) -> None:
    layer = weighted_layers(conv_model)[-1]  # conv1
    kernel = layer.get_weights()[0]
    drawn = random_weights(layer, seed=0, index=3)[0]
    assert drawn.shape == kernel.shape
    assert drawn.std() == pytest.approx(kernel.std(), rel=0.3)
    assert abs(np.corrcoef(drawn.ravel(), kernel.ravel())[0, 1]) < 0.3
    np.testing.assert_array_equal(drawn, random_weights(layer, seed=0, index=3)[0])


def test_the_edge_detector_is_flagged_as_ignoring_the_model(conv_model, images) -> None:
    result = lenses.compute("sanity_check", conv_model, images, lens="edge_detector")
    np.testing.assert_allclose(result.arrays["spearman"], 1.0, rtol=1e-6)
    assert all(result.meta["model_independent"])


def test_on_trained_shapes_gradient_maps_leave_the_original_and_edges_stay(shapes_probe) -> None:
    images = shapes_probe.images[:6]
    targets = shapes_probe.labels[:6]
    for name in GRADIENT_LENSES:
        result = lenses.compute(
            "sanity_check", shapes_probe.model, images, target=targets, lens=name
        )
        final = result.arrays["spearman"][:, -1]
        assert np.all(np.abs(final) < 0.3), (name, final)
        assert not any(result.meta["model_independent"]), name
    control = lenses.compute(
        "sanity_check", shapes_probe.model, images, target=targets, lens="edge_detector"
    )
    assert np.all(control.arrays["spearman"] > 0.999)
    assert all(control.meta["model_independent"])
