"""Integrated gradients: the gradient summed along a path from a baseline image to the image.

The gradient is averaged over images that fade from a *baseline* (an image meant to carry
no evidence: black, a blurred copy, the dataset's mean image) to the image itself, and
multiplied by the difference between image and baseline. The attributions then add up to
the change of the class score between baseline and image (*completeness*), which the plain
gradient does not: a saturated unit's zero gradient no longer hides a pixel that mattered.

References:
    Mukund Sundararajan, Ankur Taly, Qiqi Yan. "Axiomatic Attribution for Deep Networks".
    ICML 2017. https://arxiv.org/abs/1703.01365
    Pascal Sturmfels, Scott Lundberg, Su-In Lee. "Visualizing the Impact of Feature
    Attribution Baselines". Distill 2020. https://distill.pub/2020/attribution-baselines/

Caveat: the answer depends on the baseline. With a black baseline, black pixels get zero
attribution whatever their role; a blurred baseline credits edges and fine detail only;
the dataset mean credits what differs from an average image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses._attribution import AttributionLens, check_spatial
from convscope.lenses._maps import default_blur_sigma, gaussian_blur
from convscope.lenses.base import LensInputs, LensParams, register_lens

if TYPE_CHECKING:
    import keras

Baseline = Literal["black", "blurred", "dataset_mean"]


class IntegratedGradientsParams(LensParams):
    """The baseline and the number of points on the path."""

    baseline: Baseline = Field(
        default="black",
        description=(
            "The image the path starts from: black (all zeros), blurred (the image blurred), "
            "or dataset_mean (the mean image of the model's data; over HTTP the run's probe "
            "set, from Python dataset_images=...)."
        ),
    )
    steps: int = Field(
        default=64, ge=2, le=512, description="Points on the path where the gradient is taken."
    )
    blur_sigma: float | None = Field(
        default=None,
        gt=0,
        le=64,
        description="Blur of the blurred baseline, in pixels (default: 1/8 of the image side).",
    )


def baselines(
    name: Baseline,
    images: np.ndarray,
    dataset_images: np.ndarray | None = None,
    blur_sigma: float | None = None,
    *,
    field: str = "baseline",
) -> np.ndarray:
    """The baseline image of each of ``images``, as the model takes them.

    Args:
        name: ``black`` (zeros), ``blurred`` (each image blurred), ``dataset_mean``.
        images: float32 ``(N, H, W, C)``.
        dataset_images: Images of the model's data, for ``dataset_mean``.
        blur_sigma: Blur in pixels for ``blurred`` (default :func:`default_blur_sigma`).
        field: Name of the parameter, for errors.

    Returns:
        float32 ``(N, H, W, C)``.

    Raises:
        InvalidInput: ``dataset_mean`` without ``dataset_images``.
    """
    if name == "black":
        return np.zeros_like(images)
    if name == "blurred":
        sigma = blur_sigma or default_blur_sigma(*images.shape[1:3])
        return gaussian_blur(images, sigma)
    if dataset_images is None:
        raise InvalidInput(
            field,
            "the dataset mean needs images of the model's data: pass dataset_images=... "
            "(over HTTP, the run's probe set is used)",
        )
    mean = dataset_images.mean(axis=0, dtype=np.float64).astype(np.float32)
    return np.broadcast_to(mean, images.shape).copy()


@register_lens(
    "integrated_gradients",
    title="Integrated gradients",
    kind="image_map",
    description=(
        "The gradient averaged along a path from a baseline image (black, blurred, or the "
        "dataset's mean) to the image, times the difference, summed over colour channels. "
        "The map adds up to the score's change from baseline to image; red pixels raise the "
        "score, blue ones lower it."
    ),
)
class IntegratedGradients(AttributionLens):
    """(x - x') * mean gradient on the path x' -> x, summed over channels."""

    Params = IntegratedGradientsParams
    gradient_based = True
    example_params: ClassVar[dict[str, Any]] = {"steps": 8}
    references = (
        "Sundararajan, Taly, Yan. Axiomatic Attribution for Deep Networks. ICML 2017. "
        "https://arxiv.org/abs/1703.01365",
        "Sturmfels, Lundberg, Lee. Visualizing the Impact of Feature Attribution Baselines. "
        "Distill 2020. https://distill.pub/2020/attribution-baselines/",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def attribute(
        self, model: keras.Model, inputs: LensInputs, params: IntegratedGradientsParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        from convscope.models import gradients, inspect

        starts = baselines(params.baseline, inputs.images, inputs.dataset_images, params.blur_sigma)
        attributions, scores, base_scores = gradients.integrated_gradients(
            inspect.logits_model(model), inputs.images, starts, inputs.targets, params.steps
        )
        maps = attributions.sum(axis=-1)
        change = scores.astype(np.float64) - base_scores
        total = maps.sum(axis=(1, 2), dtype=np.float64)
        gap = np.abs(total - change) / np.maximum(np.abs(change), 1e-6)
        return maps, {
            "baseline": params.baseline,
            "steps": params.steps,
            "score": scores.round(6).tolist(),
            "baseline_score": base_scores.round(6).tolist(),
            "completeness_gap": gap.round(6).tolist(),
        }
