"""The probe set of a run: its labels, its sprite atlas, and its timeline across snapshots."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.responses import FileResponse

from convscope.errors import NotFound
from convscope.lenses import forgetting
from convscope.server.atlas import ATLAS_FILE, AtlasLayout, atlas_layout, build_atlas
from convscope.server.deps import CacheDep, StoreDep
from convscope.server.encoding import encode_array
from convscope.server.schemas import ArrayPayload, ProbeOut, Timeline
from convscope.store import Store

router = APIRouter(tags=["probe"])

_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such run, or its probe set is not recorded yet"}
}
# The probe set of a run never changes once written, and run ids are never reused.
_IMMUTABLE = "public, max-age=31536000, immutable"


def _probe_arrays(store: Store, run_id: str) -> dict[str, np.ndarray]:
    store.get_run(run_id)
    try:
        return store.read_run_arrays(run_id, "probe")
    except NotFound:
        raise NotFound(
            f"run {run_id} has no probe set yet (it is recorded when training starts)"
        ) from None


def _labels(store: Store, cache: CacheDep, run_id: str) -> np.ndarray:
    return cache.get_or_compute(
        (run_id, "labels"),
        lambda: np.asarray(_probe_arrays(store, run_id)["labels"], dtype=np.int64),
    )


def _layout(store: Store, cache: CacheDep, run_id: str) -> AtlasLayout:
    return cache.get_or_compute(
        (run_id, "layout"), lambda: atlas_layout(_probe_arrays(store, run_id)["images"])
    )


@dataclass(frozen=True)
class _ProbeFacts:
    """What the probe file says beyond images and labels."""

    evaluated: int | None
    validation_size: int | None
    images_digest: str


def _facts(store: Store, cache: CacheDep, run_id: str) -> _ProbeFacts:
    def read() -> _ProbeFacts:
        arrays = _probe_arrays(store, run_id)
        digest = hashlib.blake2b(digest_size=12)
        for key in ("images", "labels"):
            value = np.ascontiguousarray(arrays[key])
            digest.update(f"{key}{value.dtype.str}{value.shape}".encode())
            digest.update(value.tobytes())
        evaluated = arrays.get("eval_indices")
        size = arrays.get("validation_size")
        return _ProbeFacts(
            evaluated=None if evaluated is None else len(evaluated),
            validation_size=None if size is None else int(size),
            images_digest=digest.hexdigest(),
        )

    return cache.get_or_compute((run_id, "facts"), read)


@router.get("/runs/{run_id}/probe", response_model=ProbeOut, responses=_404)
def probe(run_id: str, store: StoreDep, cache: CacheDep) -> ProbeOut:
    """The probe set's labels, the layout of its atlas, and what every snapshot measures."""
    run = store.get_run(run_id)
    layout = _layout(store, cache, run_id)
    facts = _facts(store, cache, run_id)
    return ProbeOut(
        count=layout.count,
        labels=_labels(store, cache, run_id).tolist(),
        class_names=run.class_names,
        tile_width=layout.tile_width,
        tile_height=layout.tile_height,
        channels=layout.channels,
        columns=layout.columns,
        atlas_url=f"/api/runs/{run_id}/probe/{ATLAS_FILE}",
        evaluated=facts.evaluated,
        validation_size=facts.validation_size,
        images_digest=facts.images_digest,
    )


@router.get(
    f"/runs/{{run_id}}/probe/{ATLAS_FILE}",
    response_class=FileResponse,
    responses={**_404, 200: {"content": {"image/png": {}}}},
)
def atlas(run_id: str, store: StoreDep) -> FileResponse:
    """Every probe image in one PNG, row-major, ``columns`` tiles a row (built once)."""
    try:
        path = store.run_file(run_id, ATLAS_FILE)
    except NotFound:
        png, _ = build_atlas(_probe_arrays(store, run_id)["images"])
        path = store.write_run_file(run_id, ATLAS_FILE, png)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": _IMMUTABLE})


@router.get("/runs/{run_id}/timeline", response_model=Timeline, responses=_404)
def timeline(run_id: str, store: StoreDep, cache: CacheDep) -> Timeline:
    """Each probe image across snapshots: correct or not, probability of its true class,
    forgetting events (Toneva et al. 2019), first snapshot learned, and the hardest ones."""
    labels = _labels(store, cache, run_id)
    snapshots = store.list_snapshots(run_id)

    def rows_of(index: int) -> tuple[np.ndarray, np.ndarray]:
        logits = store.snapshot_arrays(run_id, index)["logits"]
        return forgetting.correctness_rows(logits, labels)

    # Snapshot files never change: each one is read once, then served from the cache.
    rows = [
        cache.get_or_compute(
            (run_id, "correctness", record.index), functools.partial(rows_of, record.index)
        )
        for record in snapshots
    ]
    count = len(labels)
    correct = np.stack([row[0] for row in rows]) if rows else np.zeros((0, count), np.uint8)
    true_probability = (
        np.stack([row[1] for row in rows]) if rows else np.zeros((0, count), np.float32)
    )
    summary = forgetting.summarize(correct, true_probability)
    return Timeline(
        epochs=[float(record.epoch) for record in snapshots],
        true_probability=ArrayPayload(**encode_array(summary.true_probability, "float32")),
        correct=ArrayPayload(**encode_array(summary.correct, "uint8")),
        forgetting_events=summary.forgetting_events.tolist(),
        first_learned=summary.first_learned.tolist(),
        hardest=summary.hardest.tolist(),
    )
