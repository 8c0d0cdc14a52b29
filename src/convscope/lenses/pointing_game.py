"""The pointing game: does an attribution map point at the object, over a whole probe set?

On a dataset that records where the object is (``shapes``), every attribution lens is run
on the probe images for their true class and scored two ways: a *hit* when the map's
highest pixel falls on the object (within a small tolerance), and the *mask overlap*, the
share of the map's positive mass that lies on the object. Two maps that know nothing of
the model set the bar: a random map, and a centre prior (a bump on the image's centre,
which scores well whenever objects sit near the middle).

References:
    Jianming Zhang, Zhe Lin, Jonathan Brandt, Xiaohui Shen, Stan Sclaroff. "Top-down Neural
    Attention by Excitation Backprop". ECCV 2016. https://arxiv.org/abs/1608.00507
    Julius Adebayo et al. "Sanity Checks for Saliency Maps". NeurIPS 2018.
    https://arxiv.org/abs/1810.03292

Caveat: a map can point at the object for the wrong reason (edges are on the object too:
see the edge detector's score), and a model may rightly use context outside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from convscope.lenses._attribution import attribution_lenses, attribution_maps, check_spatial
from convscope.lenses._maps import centre_prior, mask_overlap, pointing_hits, random_maps
from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, get_lens, register_lens

if TYPE_CHECKING:
    import keras

#: The two reference maps, scored beside the lenses.
REFERENCES = ("random", "centre")


class PointingGameParams(LensParams):
    """Which lenses to score, on how many probe images."""

    lenses: list[str] | None = Field(
        default=None,
        max_length=32,
        description="Attribution lenses to score, with their default parameters (default: all).",
    )
    count: int = Field(
        default=30, ge=1, le=1000, description="Probe images scored (the first ones)."
    )
    tolerance: int = Field(
        default=1, ge=0, le=32, description="Pixels around the object that still count as a hit."
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the random map.")

    @field_validator("lenses")
    @classmethod
    def _known(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        choices = attribution_lenses()
        unknown = [name for name in names if name not in choices]
        if unknown:
            raise ValueError(
                f"not attribution lenses: {', '.join(unknown)}; choose among {', '.join(choices)}"
            )
        return list(dict.fromkeys(names))


@register_lens(
    "pointing_game",
    title="Pointing game",
    kind="table",
    description=(
        "Every attribution lens scored on the probe set against the true object masks "
        "(shapes only): how often the map's peak is on the object, and what share of the "
        "map lies on it, beside a random map and a centre prior."
    ),
)
class PointingGame(Lens):
    """Pointing accuracy and mean mask overlap per attribution lens on the probe set."""

    Params = PointingGameParams
    needs_labels = True
    needs_masks = True
    scope = "probe_set"
    example_params: ClassVar[dict[str, Any]] = {"lenses": ["saliency", "grad_cam"], "count": 6}
    references = (
        "Zhang, Lin, Brandt, Shen, Sclaroff. Top-down Neural Attention by Excitation Backprop. "
        "ECCV 2016. https://arxiv.org/abs/1608.00507",
        "Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim. Sanity Checks for Saliency Maps. "
        "NeurIPS 2018. https://arxiv.org/abs/1810.03292",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: PointingGameParams
    ) -> LensResult:
        assert inputs.labels is not None and inputs.masks is not None
        images = inputs.images[: params.count]
        labels, masks = inputs.labels[: params.count], inputs.masks[: params.count]
        count, height, width = masks.shape
        names = params.lenses if params.lenses is not None else attribution_lenses()
        scored = LensInputs(images, labels, labels, masks, inputs.dataset_images)
        maps = []
        for name in names:
            lens = get_lens(name)
            lens.check_model(model)
            maps.append(attribution_maps(name, {}, model, scored)[0])
        maps.append(random_maps(count, height, width, params.seed))
        maps.append(np.broadcast_to(centre_prior(height, width), (count, height, width)))
        hits = np.stack([pointing_hits(m, masks, params.tolerance) for m in maps])
        overlap = np.stack([mask_overlap(m, masks) for m in maps])
        methods = [*names, *REFERENCES]
        return LensResult(
            arrays={"hits": hits, "overlap": overlap.astype(np.float32)},
            meta={
                "methods": methods,
                "titles": [get_lens(name).title for name in names] + ["Random map", "Centre prior"],
                "pointing": hits.mean(axis=1).round(6).tolist(),
                "overlap": overlap.mean(axis=1).round(6).tolist(),
                "mask_share": round(float(masks.mean()), 6),
                "images": count,
                "tolerance": params.tolerance,
            },
        )
