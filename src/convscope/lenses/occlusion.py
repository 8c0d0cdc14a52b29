"""Occlusion: how much the class score drops when a patch of the image is hidden.

A square patch slides over the image; at each position the patch is filled with one value
and the class's logit is measured again. Each pixel's value is the mean drop over the
patches that covered it: positive where hiding the pixels lowered the score (evidence for
the class), negative where it raised it.

References:
    Matthew D. Zeiler, Rob Fergus. "Visualizing and Understanding Convolutional Networks".
    ECCV 2014. https://arxiv.org/abs/1311.2901

Caveat: the patch size sets what can be found (a patch smaller than the evidence finds
nothing; a larger one blurs it), and the fill value is itself an image the model never saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses._attribution import AttributionLens, check_spatial
from convscope.lenses.base import LensInputs, LensParams, register_lens

if TYPE_CHECKING:
    import keras


class OcclusionParams(LensParams):
    """The patch, how far it moves, and what it hides the image with."""

    patch: int = Field(default=4, ge=1, le=256, description="Side of the square patch, pixels.")
    stride: int = Field(default=2, ge=1, le=256, description="Step between patches, pixels.")
    fill: float = Field(
        default=0.0,
        ge=-1e6,
        le=1e6,
        description="Value of the hidden pixels, in the model's input units (0 is black).",
    )


def patch_starts(size: int, patch: int, stride: int) -> list[int]:
    """Top (or left) edges of the patches along one side; the last one touches the edge."""
    last = size - patch
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


@register_lens(
    "occlusion",
    title="Occlusion",
    kind="image_map",
    description=(
        "How much the class score drops when a small patch of the image is hidden, for "
        "every patch position: red where hiding the pixels lowers the score (evidence for "
        "the class), blue where it raises it. Slow but model-agnostic: no gradients."
    ),
)
class Occlusion(AttributionLens):
    """Mean over covering patches of logit[target](x) - logit[target](x with the patch filled)."""

    Params = OcclusionParams
    example_params: ClassVar[dict[str, Any]] = {"patch": 3, "stride": 2}
    references = (
        "Zeiler and Fergus. Visualizing and Understanding Convolutional Networks. ECCV 2014. "
        "https://arxiv.org/abs/1311.2901",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def attribute(
        self, model: keras.Model, inputs: LensInputs, params: OcclusionParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        from convscope.models import inspect

        images, targets = inputs.images, inputs.targets
        assert targets is not None
        count, height, width, _ = images.shape
        if params.patch > min(height, width):
            raise InvalidInput("patch", f"must be at most the image's side ({min(height, width)})")
        rows = patch_starts(height, params.patch, params.stride)
        columns = patch_starts(width, params.patch, params.stride)
        windows = [(top, left) for top in rows for left in columns]
        covered = np.zeros((len(windows), height, width), dtype=bool)
        for index, (top, left) in enumerate(windows):
            covered[index, top : top + params.patch, left : left + params.patch] = True
        coverage = covered.sum(axis=0)
        logits_model = inspect.logits_model(model)
        reference = inspect.logits(logits_model, images)[np.arange(count), targets]
        maps = np.empty((count, height, width), dtype=np.float32)
        for index in range(count):
            hidden = np.where(covered[..., None], np.float32(params.fill), images[index])
            scores = inspect.logits(logits_model, hidden)[:, targets[index]]
            drops = reference[index] - scores.astype(np.float64)
            maps[index] = np.tensordot(drops, covered, axes=1) / coverage
        return maps, {"patches": len(windows), "score": reference.round(6).tolist()}
