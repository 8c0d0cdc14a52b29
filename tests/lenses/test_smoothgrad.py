"""SmoothGrad: the wrapped lens averaged over noisy copies, by name, not by copy."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses.base import get_lens


def test_without_noise_it_is_the_wrapped_lens(conv_model, images) -> None:
    for name in ("saliency", "gradient_x_input", "grad_cam"):
        plain = lenses.compute(name, conv_model, images, target=1).arrays["map"]
        smoothed = lenses.compute(
            "smoothgrad", conv_model, images, target=1, lens=name, noise_level=0, samples=3
        )
        np.testing.assert_allclose(smoothed.arrays["map"], plain, rtol=1e-5, atol=1e-8)
        assert smoothed.meta["lens"] == name


def test_it_is_the_mean_of_the_lens_over_the_noisy_copies(conv_model, images) -> None:
    result = lenses.compute("smoothgrad", conv_model, images[:2], target=0, samples=5, seed=3)
    sigma = 0.15 * (images[:2].max(axis=(1, 2, 3)) - images[:2].min(axis=(1, 2, 3)))
    np.testing.assert_allclose(result.meta["noise_sigma"], sigma, rtol=1e-5)
    noise = np.random.default_rng(3).standard_normal((5, 8, 8, 1), dtype=np.float32)
    for row in range(2):
        copies = images[row] + sigma[row] * noise
        maps = lenses.compute("saliency", conv_model, copies, target=0).arrays["map"]
        np.testing.assert_allclose(result.arrays["map"][row], maps.mean(axis=0), rtol=1e-4)


def test_a_linear_models_gradient_needs_no_smoothing(linear, linear_images) -> None:
    smoothed = lenses.compute("smoothgrad", linear.model, linear_images, target=2, samples=8)
    plain = lenses.compute("saliency", linear.model, linear_images, target=2)
    np.testing.assert_allclose(smoothed.arrays["map"], plain.arrays["map"], rtol=1e-5)


def test_the_seed_chooses_the_noise(conv_model, images) -> None:
    first = lenses.compute("smoothgrad", conv_model, images, samples=4, seed=1).arrays["map"]
    second = lenses.compute("smoothgrad", conv_model, images, samples=4, seed=2).arrays["map"]
    assert not np.allclose(first, second)


def test_the_wrapped_lens_keeps_its_parameters(conv_model, images) -> None:
    result = lenses.compute(
        "smoothgrad",
        conv_model,
        images,
        lens="grad_cam",
        lens_params={"layer": "conv1"},
        samples=2,
    )
    assert result.meta["layer"] == "conv1"
    assert result.meta["lens_params"] == {"layer": "conv1"}


def test_it_offers_every_gradient_lens_but_itself() -> None:
    schema = get_lens("smoothgrad").Params.model_json_schema()
    choices = schema["properties"]["lens"]["enum"]
    assert {"saliency", "gradient_x_input", "integrated_gradients", "grad_cam"} <= set(choices)
    assert "smoothgrad" not in choices and "occlusion" not in choices


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"lens": "occlusion"}, "lens", "unknown lens"),
        ({"lens": "smoothgrad"}, "lens", "unknown lens"),
        ({"lens": "grad_cam", "lens_params": {"layers": "x"}}, "lens_params", "layers"),
        ({"lens": "integrated_gradients", "lens_params": {"steps": 0}}, "lens_params", "steps"),
        ({"samples": 0}, "samples", "greater"),
    ],
)
def test_bad_parameters_name_their_field(conv_model, images, params, field, words) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("smoothgrad", conv_model, images, **params)
    assert caught.value.field == field
    assert words in caught.value.reason
