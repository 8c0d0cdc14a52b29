"""Faithfulness of an attribution map: do the pixels it ranks first really carry the class?

Deletion removes the map's most important pixels first (replacing them by a baseline,
black by default) and follows the target class's probability: a faithful map makes it fall
at once, so the area under the curve is small. Insertion starts from a blurred image and
puts back the most important pixels first: a faithful map makes the probability rise at
once, so the area is large. The same curves for random maps are the reference a method
must beat. Where the true object mask is known (``shapes``), the map is also scored
against it: is its peak on the object (pointing game), and what share of its positive mass
lies on the object.

References:
    Vitali Petsiuk, Abir Das, Kate Saenko. "RISE: Randomized Input Sampling for Explanation
    of Black-box Models". BMVC 2018. https://arxiv.org/abs/1806.07421
    Jianming Zhang, Zhe Lin, Jonathan Brandt, Xiaohui Shen, Stan Sclaroff. "Top-down Neural
    Attention by Excitation Backprop". ECCV 2016. https://arxiv.org/abs/1608.00507

Caveat: images with pixels deleted are unlike any training image, so the curves also
measure how the model reacts to that damage, not only the map's faithfulness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.lenses._attribution import WrapperParams, attribution_maps, check_spatial, wrapped
from convscope.lenses._maps import (
    area_under_curve,
    importance_order,
    mask_overlap,
    pointing_hits,
    random_maps,
)
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens
from convscope.lenses.integrated_gradients import Baseline, baselines

if TYPE_CHECKING:
    import keras


class FaithfulnessParams(WrapperParams):
    """The attribution lens to score, and how its curves are drawn."""

    steps: int = Field(
        default=32, ge=2, le=128, description="Steps from no pixel to every pixel changed."
    )
    deletion_baseline: Baseline = Field(
        default="black", description="What deleted pixels become: black, blurred or dataset_mean."
    )
    insertion_baseline: Baseline = Field(
        default="blurred", description="The image insertion starts from, before pixels return."
    )
    random_maps: int = Field(
        default=4, ge=1, le=16, description="Random maps averaged into the reference curves."
    )
    tolerance: int = Field(
        default=1, ge=0, le=32, description="Pointing game: pixels around the object that count."
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the random maps.")


def probabilities(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities (the softmax of the logits), float64 ``(N, classes)``."""
    from convscope.models import inspect

    logits = inspect.logits(model, images).astype(np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def deletion_insertion(
    model: keras.Model,
    image: np.ndarray,
    target: int,
    maps: np.ndarray,
    deleted: np.ndarray,
    inserted_from: np.ndarray,
    steps: int,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves of one image for several maps.

    Args:
        model: The model.
        image: ``(H, W, C)``, as the model takes it.
        target: The class followed.
        maps: ``(M, H, W)`` maps ranking the pixels.
        deleted: ``(H, W, C)`` values that deleted pixels take.
        inserted_from: ``(H, W, C)`` image that insertion starts from.
        steps: Steps from no pixel to all pixels; the curves have ``steps + 1`` points.
        seed: Seed of the order among equal map values.

    Returns:
        ``(deletion, insertion)``, each ``(M, steps + 1)``: the target's probability after
        deleting (inserting) the first ``k / steps`` of the pixels, most important first.
    """
    height, width = image.shape[:2]
    ranks = importance_order(maps, seed)
    counts = np.round(np.linspace(0.0, 1.0, steps + 1) * height * width)
    changed = ranks[:, None] < counts[None, :, None, None]  # (M, steps + 1, H, W)
    changed = changed[..., None]
    deletion = np.where(changed, deleted, image)
    insertion = np.where(changed, image, inserted_from)
    batch = np.concatenate([deletion, insertion]).reshape(-1, *image.shape).astype(np.float32)
    curves = probabilities(model, batch)[:, target].reshape(2, len(maps), steps + 1)
    return curves[0], curves[1]


@register_lens(
    "faithfulness",
    title="Faithfulness",
    kind="curves",
    description=(
        "Deletion and insertion curves of an attribution lens: the class probability as the "
        "map's most important pixels are removed, or put back into a blurred image, first; "
        "with random maps as the reference, and, on shapes, whether the map points at the "
        "object."
    ),
)
class Faithfulness(Lens):
    """Deletion/insertion curves and their areas (Petsiuk et al. 2018); pointing game and
    mask overlap where object masks are known."""

    Params = FaithfulnessParams
    uses_target = True
    example_params: ClassVar[dict[str, Any]] = {"steps": 4, "random_maps": 2}
    references = (
        "Petsiuk, Das, Saenko. RISE: Randomized Input Sampling for Explanation of Black-box "
        "Models. BMVC 2018. https://arxiv.org/abs/1806.07421",
        "Zhang, Lin, Brandt, Shen, Sclaroff. Top-down Neural Attention by Excitation Backprop. "
        "ECCV 2016. https://arxiv.org/abs/1608.00507",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: FaithfulnessParams
    ) -> LensResult:
        images, targets = inputs.images, inputs.targets
        assert targets is not None
        name, lens_params = wrapped(params)
        maps, inner_meta = attribution_maps(name, lens_params, model, inputs)
        height, width = images.shape[1:3]
        references = random_maps(params.random_maps, height, width, params.seed)
        deleted = baselines(
            params.deletion_baseline, images, inputs.dataset_images, field="deletion_baseline"
        )
        inserted_from = baselines(
            params.insertion_baseline, images, inputs.dataset_images, field="insertion_baseline"
        )
        names = ("deletion", "insertion", "deletion_random", "insertion_random")
        curves: dict[str, list[np.ndarray]] = {key: [] for key in names}
        for index, image in enumerate(images):
            deletion, insertion = deletion_insertion(
                model,
                image,
                int(targets[index]),
                np.concatenate([maps[index : index + 1], references]),
                deleted[index],
                inserted_from[index],
                params.steps,
                params.seed,
            )
            curves["deletion"].append(deletion[0])
            curves["insertion"].append(insertion[0])
            curves["deletion_random"].append(deletion[1:].mean(axis=0))
            curves["insertion_random"].append(insertion[1:].mean(axis=0))
        arrays = {key: np.asarray(rows, dtype=np.float32) for key, rows in curves.items()}
        areas = {f"{key}_auc": area_under_curve(arrays[key]) for key in arrays}
        meta: dict[str, Any] = {
            **{key: value for key, value in inner_meta.items() if key != "targets"},
            "lens": name,
            "lens_params": lens_params,
            "fractions": np.linspace(0.0, 1.0, params.steps + 1).round(6).tolist(),
            **{key: value.round(6).tolist() for key, value in areas.items()},
        }
        if inputs.masks is not None:
            meta["pointing_hit"] = pointing_hits(maps, inputs.masks, params.tolerance).tolist()
            meta["mask_overlap"] = mask_overlap(maps, inputs.masks).round(6).tolist()
            meta["mask_share"] = inputs.masks.mean(axis=(1, 2)).round(6).tolist()
        return LensResult(arrays={"map": maps, **arrays}, meta=meta)
