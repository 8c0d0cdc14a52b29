"""Answering a :class:`LensRequest` inside a process that has Keras: the worker's work.

The same function serves the local inspection worker and any other executor that runs
inspection work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convscope import lenses
from convscope.errors import InvalidInput, NotFound
from convscope.inspection.requests import LensReply, LensRequest
from convscope.inspection.run_models import RunModels


def run_lens_request(models: RunModels, request: LensRequest) -> LensReply:
    """Run ``request.lens`` on the run's model at each requested snapshot.

    Lenses of scope ``probe_set`` look at the run's probe set with its labels (and its
    object masks, when recorded); others at ``request.images`` (and ``request.masks``).
    Every lens gets the probe set as its sample of the run's data (``dataset_images``, for
    a dataset-mean baseline). With one snapshot, the lens's result is returned as is; with
    several, each array gains a leading snapshot axis, and ``meta`` keeps the values that
    are the same at every snapshot, with the others in ``meta["per_snapshot"]``.

    Raises:
        InvalidInput, NotFound, UnsafeModel: As the lens, the store or the loader raise.
    """
    lens = lenses.get_lens(request.lens)
    labels = None
    if lens.scope == "probe_set":
        images, labels = models.probe_set(request.run_id)
        masks = models.probe_masks(request.run_id)
        dataset_images: np.ndarray | None = images
    elif request.images is None:
        raise InvalidInput("image", f"the lens {lens.name!r} needs an image")
    else:
        images, masks = request.images, request.masks
        try:
            dataset_images = models.probe_set(request.run_id)[0]
        except NotFound:  # a run whose probe set is not recorded
            dataset_images = None
    results = []
    for snapshot in request.snapshots:
        model = models.model(request.run_id, snapshot)
        results.append(
            lenses.compute(
                lens.name,
                model,
                images,
                request.target,
                labels=labels,
                masks=masks,
                dataset_images=dataset_images,
                **request.params,
            )
        )
    if len(results) == 1:
        return LensReply(
            results[0].arrays, {"snapshots": list(request.snapshots), **results[0].meta}
        )
    return LensReply(
        {name: np.stack([result.arrays[name] for result in results]) for name in results[0].arrays},
        {"snapshots": list(request.snapshots), **merge_meta([r.meta for r in results])},
    )


def merge_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """One dict of the keys equal in every ``metas``, plus ``per_snapshot`` for the others."""
    keys = list(dict.fromkeys(key for meta in metas for key in meta))
    shared = {
        key: metas[0][key]
        for key in keys
        if all(key in m and m[key] == metas[0][key] for m in metas)
    }
    varying = [{key: value for key, value in meta.items() if key not in shared} for meta in metas]
    if any(varying):
        shared["per_snapshot"] = varying
    return shared
