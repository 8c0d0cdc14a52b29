"""Depth: at which layer, and from which snapshot, the classes become separable.

Two resources for the Depth view, one value per (layer, snapshot):

- ``GET /runs/{id}/depth``: linear-probe and k-NN accuracy of every layer at every
  snapshot, with the network's own accuracy;
- ``GET /runs/{id}/depth/maps``: every layer's 2-D map of the probe images at every
  snapshot, aligned across layers and snapshots.

A run recorded with ``record_depth`` has its accuracies already; for the others (and for
the maps) each request computes, in the inspection worker, the snapshots still missing
for up to :data:`COMPUTE_BUDGET_S` seconds, stores them with the run, and lists the rest
as ``pending``: the client asks again until nothing is pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

import numpy as np
from fastapi import APIRouter

from convscope.depth.recording import (
    RECORDED,
    DepthRecord,
    read_record,
    record_from_lenses,
    record_key,
    write_record,
)
from convscope.depth.reduction import RULE
from convscope.inspection.inspector import Inspector
from convscope.inspection.requests import InspectionUnavailable, LensReply, LensRequest
from convscope.server.deps import InspectionDep, StoreDep
from convscope.server.encoding import encode_array, finite_or_none
from convscope.server.schemas import ArrayPayload, DepthMapsOut, DepthOut
from convscope.store import RunRecord, SnapshotRecord, Store
from convscope.training.projection import align_maps

router = APIRouter(tags=["depth"])

#: Seconds a request spends computing missing snapshots before it answers with the rest
#: pending (a snapshot already started is finished).
COMPUTE_BUDGET_S = 4.0

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such run"},
    503: {"description": "Snapshots need computing and no inspection worker can answer"},
}

Value = TypeVar("Value")


def _awaited(run: RunRecord, snapshots: list[SnapshotRecord]) -> set[int]:
    """The snapshots whose accuracies the Recorder will store: while a run that records
    them trains, it measures each snapshot (in the background, a little behind)."""
    recording = run.status == "running" and bool(run.config.get("record_depth"))
    return {record.index for record in snapshots} if recording else set()


def _gather(
    snapshots: list[SnapshotRecord],
    read: Callable[[int], Value | None],
    compute: Callable[[int], Value],
    inspection: Inspector | None,
    skip: frozenset[int] | set[int] = frozenset(),
) -> tuple[dict[int, Value], list[int], list[int]]:
    """Stored values, plus missing ones (but those in ``skip``) computed within the budget.

    Returns:
        The values by snapshot index; the snapshots still pending; those that cannot be
        computed (no weights were recorded).
    """
    found: dict[int, Value] = {}
    missing: list[SnapshotRecord] = []
    for record in snapshots:
        value = read(record.index)
        if value is not None:
            found[record.index] = value
        else:
            missing.append(record)
    unavailable = [r.index for r in missing if not r.has_weights and r.index not in skip]
    computable = [r.index for r in missing if r.has_weights and r.index not in skip]
    if computable and inspection is None:
        raise InspectionUnavailable("this server runs no inspection worker")
    deadline = time.monotonic() + COMPUTE_BUDGET_S
    for index in computable:
        if time.monotonic() > deadline:
            break
        found[index] = compute(index)
    pending = [r.index for r in missing if r.index not in found and r.index not in unavailable]
    return found, pending, unavailable


def _lens(
    inspection: Inspector | None, run_id: str, lens: str, index: int, params: dict[str, Any]
) -> LensReply:
    assert inspection is not None
    return inspection.run(LensRequest(run_id, lens, (index,), None, "predicted", params))


def _grid(records: dict[int, DepthRecord], order: list[int], rows: int, pick: str) -> np.ndarray:
    grid = np.full((rows, len(order)), np.nan, dtype=np.float32)
    for column, index in enumerate(order):
        record = records.get(index)
        if record is not None:
            grid[:, column] = getattr(record, pick)
    return grid


def _float32(array: np.ndarray) -> ArrayPayload:
    return ArrayPayload(**encode_array(array, "float32"))


@router.get("/runs/{run_id}/depth", response_model=DepthOut, responses=_RESPONSES)
def get_depth(run_id: str, store: StoreDep, inspection: InspectionDep) -> DepthOut:
    """Linear-probe and k-NN accuracy of every layer (rows, raw pixels first) at every
    snapshot (columns), with the network's own accuracy; NaN where not measured yet."""
    run = store.get_run(run_id)
    snapshots = store.list_snapshots(run_id)

    def compute(index: int) -> DepthRecord:
        knn = _lens(inspection, run_id, "knn_accuracy", index, RECORDED.knn_params())
        probes = _lens(inspection, run_id, "linear_probes", index, RECORDED.probe_params())
        record = record_from_lenses((knn.arrays, knn.meta), (probes.arrays, probes.meta))
        write_record(store, run_id, index, record)
        return record

    records, pending, unavailable = _gather(
        snapshots,
        lambda index: read_record(store, run_id, index),
        compute,
        inspection,
        skip=_awaited(run, snapshots),
    )
    first = next(iter(records.values()), None)
    layers = first.layers if first is not None else []
    order = [record.index for record in snapshots]
    return DepthOut(
        layers=layers,
        same_as=first.same_as if first is not None else {},
        snapshots=order,
        epochs=[record.epoch for record in snapshots],
        probe=_float32(_grid(records, order, len(layers), "probe")),
        knn=_float32(_grid(records, order, len(layers), "knn")),
        network_probe=[
            finite_or_none(records[i].network_probe) if i in records else None for i in order
        ],
        network_knn=[
            finite_or_none(records[i].network_knn) if i in records else None for i in order
        ],
        pending=pending,
        unavailable=unavailable,
        settings=asdict(RECORDED),
        rule=RULE.format(max_features=RECORDED.max_features),
    )


_Maps = tuple[list[str], np.ndarray, dict[str, str]]


def _read_maps(store: Store, run_id: str, index: int) -> _Maps | None:
    found = store.read_lens_result(run_id, record_key(index, kind="maps"))
    if found is None:
        return None
    arrays, meta = found
    return list(meta["layers"]), arrays["positions"], dict(meta.get("same_as", {}))


@router.get("/runs/{run_id}/depth/maps", response_model=DepthMapsOut, responses=_RESPONSES)
def get_depth_maps(run_id: str, store: StoreDep, inspection: InspectionDep) -> DepthMapsOut:
    """Every layer's 2-D map of the probe images at every snapshot measured so far,
    aligned across layers (first snapshot) and snapshots (each layer)."""
    store.get_run(run_id)
    snapshots = store.list_snapshots(run_id)

    def compute(index: int) -> _Maps:
        params = {"max_features": RECORDED.max_features}
        reply = _lens(inspection, run_id, "layer_maps", index, params)
        layers, positions = list(reply.meta["layers"]), reply.arrays["positions"]
        same_as = dict(reply.meta.get("same_as", {}))
        store.write_lens_result(
            run_id,
            record_key(index, kind="maps"),
            {"positions": positions},
            {"layers": layers, "same_as": same_as},
        )
        return layers, positions, same_as

    maps, pending, unavailable = _gather(
        snapshots, lambda index: _read_maps(store, run_id, index), compute, inspection
    )
    done = [record for record in snapshots if record.index in maps]
    layers, _, same_as = maps[done[0].index] if done else ([], None, {})
    stacked = (
        align_maps(np.stack([maps[record.index][1] for record in done]))
        if done
        else np.zeros((0, 0, 0, 2), dtype=np.float32)
    )
    return DepthMapsOut(
        layers=layers,
        same_as=same_as,
        snapshots=[record.index for record in done],
        epochs=[record.epoch for record in done],
        positions=_float32(stacked),
        pending=pending,
        unavailable=unavailable,
    )
