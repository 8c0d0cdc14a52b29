"""Integrated gradients: exact on a linear model, complete on a convnet, three baselines."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses._maps import gaussian_blur
from convscope.lenses.integrated_gradients import baselines
from convscope.models import inspect


@pytest.mark.parametrize("target", [0, 2])
def test_a_linear_models_map_is_input_times_weight(linear, linear_images, target) -> None:
    result = lenses.compute(
        "integrated_gradients", linear.model, linear_images, target=target, steps=4
    )
    expected = (linear_images * linear.column(target)).sum(axis=-1)
    np.testing.assert_allclose(result.arrays["map"], expected, rtol=1e-5, atol=1e-5)
    assert max(result.meta["completeness_gap"]) < 1e-4


def score_change(model, images, starts, target) -> np.ndarray:
    logits = inspect.logits(model, images)[:, target]
    return logits - inspect.logits(model, starts)[:, target]


def test_completeness_gap_is_under_one_percent_with_64_steps(shapes_probe) -> None:
    model, images = shapes_probe.model, shapes_probe.images[:12]
    target = shapes_probe.labels[:12]
    result = lenses.compute("integrated_gradients", model, images, target=target, steps=64)
    gaps = np.array(result.meta["completeness_gap"])
    assert gaps.max() < 0.01, gaps
    # Against the model itself, not the lens's own numbers: the map sums to f(x) - f(black).
    logits = inspect.logits(model, images)
    black = inspect.logits(model, np.zeros_like(images))
    change = logits[np.arange(12), target] - black[np.arange(12), target]
    totals = result.arrays["map"].sum(axis=(1, 2))
    np.testing.assert_allclose(totals, change, rtol=0.01, atol=1e-3)


def test_completeness_holds_on_the_tiny_convnet(conv_model, images) -> None:
    result = lenses.compute("integrated_gradients", conv_model, images, target=1, steps=64)
    assert max(result.meta["completeness_gap"]) < 0.01


def test_the_dataset_mean_baseline_starts_from_the_mean_image(conv_model, images) -> None:
    sample = np.random.default_rng(3).uniform(0, 255, (20, 8, 8, 1)).astype(np.float32)
    result = lenses.compute(
        "integrated_gradients",
        conv_model,
        images,
        target=2,
        baseline="dataset_mean",
        dataset_images=sample,
    )
    mean = np.broadcast_to(sample.mean(axis=0), images.shape)
    change = score_change(conv_model, images, mean, 2)
    np.testing.assert_allclose(
        result.meta["baseline_score"], inspect.logits(conv_model, mean)[:, 2], rtol=1e-5
    )
    np.testing.assert_allclose(result.arrays["map"].sum(axis=(1, 2)), change, rtol=0.02, atol=0.01)


def test_the_dataset_mean_needs_dataset_images(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("integrated_gradients", conv_model, images, baseline="dataset_mean")
    assert caught.value.field == "baseline"
    assert "dataset_images" in caught.value.reason


def test_the_blurred_baseline_is_the_blurred_image(conv_model, images) -> None:
    starts = baselines("blurred", images, blur_sigma=1.5)
    np.testing.assert_allclose(starts, gaussian_blur(images, 1.5))
    result = lenses.compute(
        "integrated_gradients", conv_model, images, target=0, baseline="blurred", blur_sigma=1.5
    )
    np.testing.assert_allclose(
        result.meta["baseline_score"], inspect.logits(conv_model, starts)[:, 0], rtol=1e-5
    )


def test_blur_keeps_a_flat_image_and_the_total(images) -> None:
    flat = np.full((1, 8, 8, 1), 42.0, np.float32)
    np.testing.assert_allclose(gaussian_blur(flat, 2.0), flat, rtol=1e-6)
    blurred = gaussian_blur(images, 1.0)
    assert blurred.std() < images.std()
    np.testing.assert_allclose(blurred.mean(), images.mean(), rtol=0.05)


@pytest.mark.parametrize(
    ("params", "field"), [({"steps": 1}, "steps"), ({"baseline": "grey"}, "baseline")]
)
def test_bad_parameters_name_their_field(conv_model, images, params, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("integrated_gradients", conv_model, images, **params)
    assert caught.value.field == field
