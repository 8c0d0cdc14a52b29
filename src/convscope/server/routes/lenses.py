"""Lenses: the registry, and one route that runs any lens on any snapshot of a run.

The server checks everything it can without Keras (the lens, its parameters, the run, the
snapshots, the image), serves results it has computed before from files, and sends the
rest to an inspection worker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
from fastapi import APIRouter

import convscope
from convscope import lenses
from convscope.config import Settings
from convscope.errors import InvalidInput, NotFound
from convscope.inspection.images import (
    input_shape_of,
    pixels_to_images,
    probe_model_inputs,
    run_pixel_scale,
    upload_to_images,
)
from convscope.inspection.requests import InspectionUnavailable, LensReply, LensRequest
from convscope.lenses.base import Lens
from convscope.server.cache import LRUCache
from convscope.server.deps import CacheDep, InspectionDep, SettingsDep, StoreDep
from convscope.server.encoding import encode_array, json_safe
from convscope.server.schemas import (
    ArrayPayload,
    LensOut,
    LensOutput,
    LensRequestBody,
    PixelsImage,
    ProbeImageRef,
    UploadImageRef,
)
from convscope.store import RunRecord, Store

router = APIRouter(tags=["lenses"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such lens, run or snapshot"},
    422: {"description": "A parameter, the image or the target does not fit; the field says"},
    503: {"description": "No inspection worker can answer now"},
}


@router.get("/lenses", response_model=list[LensOut])
def list_lenses() -> list[LensOut]:
    """Every lens: what it shows, how to draw it (``kind``) and its parameters."""
    return [LensOut.model_validate(dataclasses.asdict(info)) for info in lenses.describe()]


def _lens(name: str) -> Lens:
    try:
        return lenses.get_lens(name)
    except InvalidInput as error:
        raise NotFound(
            f"no lens named {name!r} (lenses: {', '.join(error.choices or [])})"
        ) from None


def _params(lens: Lens, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return lenses.parse_params(lens, params).model_dump(mode="json")
    except InvalidInput as error:
        raise InvalidInput(f"params.{error.field}", error.reason, error.choices) from None


def _snapshots(store: Store, run_id: str, wanted: int | str | list[int]) -> tuple[int, ...]:
    """The snapshot indices a request asks for, checked to exist."""
    indices = [record.index for record in store.list_snapshots(run_id)]
    if not indices:
        raise NotFound(f"run {run_id} has no snapshot yet")
    if wanted == "last":
        return (indices[-1],)
    if wanted == "all":
        return tuple(indices)
    asked: list[int] = [wanted] if isinstance(wanted, int) else [int(i) for i in wanted]
    if not asked:
        raise InvalidInput("snapshot", "give at least one snapshot index")
    missing = sorted(set(asked) - set(indices))
    if missing:
        raise NotFound(
            f"run {run_id} has no snapshot {', '.join(map(str, missing))} "
            f"(it has {indices[0]}..{indices[-1]})"
        )
    return tuple(asked)


def _probe(store: Store, cache: LRUCache, run_id: str) -> dict[str, np.ndarray]:
    def load() -> dict[str, np.ndarray]:
        try:
            return store.read_run_arrays(run_id, "probe")
        except NotFound:
            return {}

    return cache.get_or_compute((run_id, "probe_arrays"), load)


def _images(
    store: Store,
    cache: LRUCache,
    settings: Settings,
    run: RunRecord,
    image: ProbeImageRef | PixelsImage | UploadImageRef | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The image as the run's model takes it, and for an upload how it was converted."""
    if image is None:
        raise InvalidInput(
            "image",
            "this lens looks at one image: give {probe: i}, {upload: id} or {pixels: [[...]]}",
        )
    probe = _probe(store, cache, run.id)
    if isinstance(image, ProbeImageRef):
        if "images" not in probe:
            raise NotFound(f"run {run.id} has no probe set yet")
        inputs = cache.get_or_compute((run.id, "probe_inputs"), lambda: probe_model_inputs(probe))
        if image.probe >= len(inputs):
            raise InvalidInput(
                "image.probe", f"the probe set has {len(inputs)} images (0..{len(inputs) - 1})"
            )
        return inputs[image.probe : image.probe + 1], {}
    shape, scale = input_shape_of(run.config, probe), run_pixel_scale(run.config, probe)
    if isinstance(image, UploadImageRef):
        data = store.upload_image(image.upload)
        images, conversion = upload_to_images(data, shape, scale, settings.max_image_pixels)
        return images, {"image": conversion}
    return pixels_to_images(image.pixels, shape, scale), {}


def _masks(store: Store, cache: LRUCache, run_id: str, image: object) -> np.ndarray | None:
    """The true object mask of a probe image, where the run records masks (shapes)."""
    if not isinstance(image, ProbeImageRef):
        return None
    masks = _probe(store, cache, run_id).get("masks")
    return None if masks is None else np.asarray(masks[image.probe : image.probe + 1], bool)


def _cache_key(
    lens: Lens,
    run_id: str,
    snapshots: tuple[int, ...],
    body: LensRequestBody,
    params: dict[str, Any],
) -> str | None:
    if isinstance(body.image, PixelsImage):
        return None  # drawings are never asked twice
    image = body.image.model_dump() if body.image is not None else None
    key = {
        "convscope": convscope.__version__,
        "lens": lens.name,
        "version": lens.version,
        "run": run_id,
        "snapshots": snapshots,
        "image": image if lens.scope == "images" else None,
        "target": body.target if lens.uses_target else None,
        "params": params,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def stored_result(
    store: Store, run_id: str, name: str, request: dict[str, Any]
) -> LensReply | None:
    """The result this route has stored for a probe-image request, without computing it.

    Args:
        store: The store.
        run_id: The run.
        name: The lens.
        request: ``{"snapshot": i, "image": {"probe": i}, "target": ..., "params": {...}}``,
            as a client would post it.

    Returns:
        The stored arrays and meta, or None when this request was never computed.
    """
    lens = _lens(name)
    body = LensRequestBody.model_validate(request)
    snapshots = _snapshots(store, run_id, body.snapshot)
    key = _cache_key(lens, run_id, snapshots, body, _params(lens, body.params))
    found = store.read_lens_result(run_id, key) if key is not None else None
    return None if found is None else LensReply(*found)


def _wire(array: np.ndarray) -> ArrayPayload:
    if array.dtype == np.bool_ or array.dtype == np.uint8:
        return ArrayPayload(**encode_array(array, "uint8"))
    if array.dtype.kind in "iu":
        return ArrayPayload(**encode_array(array, "int32"))
    return ArrayPayload(**encode_array(array, "float32"))


def _located(error: InvalidInput, lens: Lens) -> InvalidInput:
    """Name the request field at fault: a lens parameter, the image or the target."""
    head = error.field.split(".")[0]
    if head in lens.Params.model_fields:
        return InvalidInput(f"params.{error.field}", error.reason, error.choices)
    if head == "images":
        return InvalidInput("image", error.reason, error.choices)
    return error


@router.post("/runs/{run_id}/lenses/{name}", response_model=LensOutput, responses=_RESPONSES)
def run_lens(
    run_id: str,
    name: str,
    body: LensRequestBody,
    store: StoreDep,
    cache: CacheDep,
    settings: SettingsDep,
    inspection: InspectionDep,
) -> LensOutput:
    """Run the lens ``name`` on the run's model at a snapshot (or several), on one image
    (probe image, upload or drawing), on the probe set, or on the model alone."""
    lens = _lens(name)
    params = _params(lens, body.params)
    run = store.get_run(run_id)
    snapshots = _snapshots(store, run_id, body.snapshot)
    images: np.ndarray | None = None
    masks: np.ndarray | None = None
    image_meta: dict[str, Any] = {}
    if lens.scope == "images":
        images, image_meta = _images(store, cache, settings, run, body.image)
        masks = _masks(store, cache, run_id, body.image)
    key = _cache_key(lens, run_id, snapshots, body, params)
    cached = store.read_lens_result(run_id, key) if key is not None else None
    if cached is not None:
        reply = LensReply(*cached)
    else:
        if inspection is None:
            raise InspectionUnavailable("this server runs no inspection worker")
        request = LensRequest(run_id, lens.name, snapshots, images, body.target, params, masks)
        try:
            reply = inspection.run(request)
        except InvalidInput as error:
            raise _located(error, lens) from None
        if key is not None:
            store.write_lens_result(run_id, key, reply.arrays, json_safe(reply.meta))
    epochs = {record.index: record.epoch for record in store.list_snapshots(run_id)}
    meta = {
        **json_safe(reply.meta),
        **image_meta,
        "epochs": [epochs[index] for index in snapshots],
    }
    return LensOutput(
        lens=lens.name,
        kind=lens.kind,
        arrays={name: _wire(array) for name, array in reply.arrays.items()},
        meta=meta,
    )
