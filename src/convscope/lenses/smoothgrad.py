"""SmoothGrad: any gradient lens, averaged over noisy copies of the image.

Gradients of ReLU networks jump from pixel to pixel, so single maps look like noise.
SmoothGrad adds Gaussian noise to the image many times, runs a gradient lens on every
noisy copy, and averages the maps: the noise cancels, what the lens finds consistently
stays. It wraps a lens by name (``lens``, with its ``lens_params``) rather than copying it.

References:
    Daniel Smilkov, Nikhil Thorat, Been Kim, Fernanda Viégas, Martin Wattenberg.
    "SmoothGrad: removing noise by adding noise". 2017. https://arxiv.org/abs/1706.03825

Caveat: smoother is not truer. Averaging also blurs, and a smoothed map can look
convincing while still failing the randomisation sanity check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.lenses._attribution import (
    AttributionLens,
    WrapperParams,
    attribution_lenses,
    attribution_maps,
    check_spatial,
    wrapped,
)
from convscope.lenses.base import LensInputs, register_lens

if TYPE_CHECKING:
    import keras


class SmoothGradParams(WrapperParams):
    """The gradient lens to smooth, and the noise."""

    noise_level: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="Standard deviation of the noise, as a share of the image's value range.",
    )
    samples: int = Field(default=25, ge=1, le=200, description="Noisy copies averaged.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the noise.")

    @classmethod
    def lens_choices(cls) -> list[str]:
        return [name for name in attribution_lenses(gradient_only=True) if name != "smoothgrad"]


@register_lens(
    "smoothgrad",
    title="SmoothGrad",
    kind="image_map",
    description=(
        "A gradient lens (saliency by default) averaged over many copies of the image with "
        "random noise added: the pixel-to-pixel jitter of gradients cancels out and what the "
        "lens finds consistently remains."
    ),
)
class SmoothGrad(AttributionLens):
    """Mean of ``lens`` over ``x + N(0, (noise_level * (max x - min x))^2)`` copies."""

    Params = SmoothGradParams
    gradient_based = True
    example_params: ClassVar[dict[str, Any]] = {"samples": 4}
    references = (
        "Smilkov, Thorat, Kim, Viégas, Wattenberg. SmoothGrad: removing noise by adding noise. "
        "2017. https://arxiv.org/abs/1706.03825",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def attribute(
        self, model: keras.Model, inputs: LensInputs, params: SmoothGradParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        images, targets = inputs.images, inputs.targets
        assert targets is not None
        count, samples = len(images), params.samples
        value_range = images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))
        sigma = params.noise_level * value_range
        # The same noise pattern for every image: a batch of one gets what its row of a
        # batch gets.
        noise = np.random.default_rng(params.seed).standard_normal(
            (samples, *images.shape[1:]), dtype=np.float32
        )
        noisy = images[:, None] + sigma[:, None, None, None, None] * noise[None]
        name, lens_params = wrapped(params)
        maps, inner_meta = attribution_maps(
            name,
            lens_params,
            model,
            LensInputs(
                noisy.reshape(count * samples, *images.shape[1:]),
                np.repeat(targets, samples),
                dataset_images=inputs.dataset_images,
            ),
        )
        # Facts about the whole wrapped lens (its layer...) are kept; per-copy lists are not.
        kept = {key: value for key, value in inner_meta.items() if not isinstance(value, list)}
        return maps.reshape(count, samples, *maps.shape[1:]).mean(axis=1), {
            **kept,
            "lens": name,
            "lens_params": lens_params,
            "noise_sigma": sigma.round(6).tolist(),
        }
