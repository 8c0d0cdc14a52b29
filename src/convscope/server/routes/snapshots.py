"""Snapshots of a run: summaries, curves, and one snapshot's arrays for the browser."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from fastapi import APIRouter, Path

from convscope.errors import NotFound
from convscope.lenses.forgetting import softmax
from convscope.server.deps import StoreDep
from convscope.server.encoding import encode_array, finite_or_none
from convscope.server.schemas import (
    ArrayPayload,
    BatchCurves,
    Curves,
    LayerStats,
    Metrics,
    SnapshotDetail,
    SnapshotSummary,
)
from convscope.store import SnapshotRecord
from convscope.store.paths import MAX_INDEX

router = APIRouter(tags=["snapshots"])

_404: dict[int | str, dict[str, Any]] = {404: {"description": "No such run or snapshot"}}
_LAYER_FIELDS = {
    "weight_norm": "layer_weight_norm",
    "grad_norm": "layer_grad_norm",
    "update_ratio": "layer_update_ratio",
    "activation_mean": "layer_activation_mean",
    "activation_std": "layer_activation_std",
    "dead_fraction": "layer_dead_fraction",
}


def snapshot_summary(record: SnapshotRecord) -> SnapshotSummary:
    """The API view of a snapshot record (non-finite metrics become null)."""
    metrics = record.metrics or {}
    return SnapshotSummary(
        index=record.index,
        epoch=record.epoch if math.isfinite(record.epoch) else 0.0,
        step=record.step,
        metrics=Metrics(**{key: finite_or_none(metrics.get(key)) for key in Metrics.model_fields}),
    )


def _layers(arrays: dict[str, np.ndarray]) -> list[LayerStats]:
    names = arrays.get("layer_names")
    if names is None:
        return []
    columns = {field: arrays.get(key) for field, key in _LAYER_FIELDS.items()}
    layers = []
    for i, name in enumerate(names.tolist()):
        values: dict[str, Any] = {
            field: finite_or_none(column[i]) if column is not None and i < len(column) else None
            for field, column in columns.items()
        }
        layers.append(LayerStats(name=str(name), **values))
    return layers


@router.get("/runs/{run_id}/snapshots", response_model=list[SnapshotSummary], responses=_404)
def list_snapshots(run_id: str, store: StoreDep) -> list[SnapshotSummary]:
    """Every snapshot of a run, in order."""
    store.get_run(run_id)
    return [snapshot_summary(record) for record in store.list_snapshots(run_id)]


@router.get("/runs/{run_id}/snapshots/{index}", response_model=SnapshotDetail, responses=_404)
def get_snapshot(
    run_id: str, store: StoreDep, index: int = Path(ge=0, le=MAX_INDEX)
) -> SnapshotDetail:
    """One snapshot: the probe set's predictions, probabilities and map positions, the
    confusion matrix over the validation set, and per-layer statistics."""
    record = store.get_snapshot(run_id, index)
    arrays = store.snapshot_arrays(run_id, index)
    missing = [name for name in ("logits", "positions", "confusion") if name not in arrays]
    if missing:
        raise NotFound(f"snapshot {index} of run {run_id} has no {', '.join(missing)} arrays")
    probabilities = softmax(arrays["logits"])
    classes = probabilities.shape[-1]
    predictions = probabilities.argmax(axis=-1)
    return SnapshotDetail(
        **snapshot_summary(record).model_dump(),
        predictions=ArrayPayload(
            **encode_array(predictions, "uint8" if classes <= 256 else "uint16")
        ),
        probabilities=ArrayPayload(**encode_array(probabilities, "float32")),
        positions=ArrayPayload(**encode_array(arrays["positions"], "float32")),
        confusion=np.asarray(arrays["confusion"], dtype=np.int64).tolist(),
        layers=_layers(arrays),
    )


@router.get("/runs/{run_id}/curves", response_model=Curves, responses=_404)
def curves(run_id: str, store: StoreDep) -> Curves:
    """Per-batch loss and accuracy, and every snapshot's metrics."""
    store.get_run(run_id)
    batches = store.batches(run_id)
    return Curves(
        batches=BatchCurves(
            step=ArrayPayload(**encode_array(batches["step"], "int32")),
            epoch=ArrayPayload(**encode_array(batches["epoch"], "float32")),
            loss=ArrayPayload(**encode_array(batches["loss"], "float32")),
            accuracy=ArrayPayload(**encode_array(batches["accuracy"], "float32")),
        ),
        snapshots=[snapshot_summary(record) for record in store.list_snapshots(run_id)],
    )
