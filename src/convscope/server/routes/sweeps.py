"""Sweeps: create (queue every run), list, read with each run's values and curve."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, status

from convscope.errors import InvalidInput
from convscope.server.deps import StoreDep
from convscope.server.routes.runs import check_feasible, run_out
from convscope.server.schemas import SweepOut, SweepPoint, SweepRunOut, SweepSummary
from convscope.store import Store, SweepRecord
from convscope.training.sweep import SweepSpec, run_configs, sweep_curves

router = APIRouter(tags=["sweeps"])

_SWEEP_404: dict[int | str, dict[str, Any]] = {404: {"description": "No sweep with this id"}}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def sweep_out(store: Store, sweep: SweepRecord) -> SweepOut:
    """The API view of a sweep: its runs with their varied values and curves."""
    spec = SweepSpec.model_validate(sweep.spec)
    varied = list(spec.parameters)
    runs = store.sweep_runs(sweep.id)
    curves = sweep_curves(store, sweep.id)
    rows = []
    for run in runs:
        curve = [SweepPoint(epoch=e, val_accuracy=_finite(v)) for e, v in curves[run.id]]
        rows.append(
            SweepRunOut(
                run=run_out(store, run),
                values={field: run.config.get(field) for field in varied},
                final_accuracy=curve[-1].val_accuracy if curve else None,
                curve=curve,
                stopped_early=sweep.stopped.get(run.id),
            )
        )
    ranked = sorted(
        (row for row in rows if row.final_accuracy is not None),
        key=lambda row: -(row.final_accuracy or 0.0),
    )
    return SweepOut(
        id=sweep.id,
        name=sweep.name,
        created_at=sweep.created_at.isoformat(),
        method=spec.method,
        varied=varied,
        num_runs=len(rows),
        finished_runs=sum(row.run.status not in ("queued", "running") for row in rows),
        best_accuracy=ranked[0].final_accuracy if ranked else None,
        spec=sweep.spec,
        runs=rows,
        best=[row.run.id for row in ranked],
    )


@router.post(
    "/sweeps",
    response_model=SweepOut,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "A field of the sweep, or a run it makes, is invalid"}},
)
def create_sweep(spec: SweepSpec, store: StoreDep) -> SweepOut:
    """Queue every run of a sweep; the executor trains them, the median rule stops some."""
    configs, varied = run_configs(spec)
    class_names: list[str] | None = None
    # Each run, not only the first: a varied architecture or batch size may ask for a
    # network larger than the limits.
    for index, (config, values) in enumerate(zip(configs, varied, strict=True)):
        try:
            names = check_feasible(config)
        except InvalidInput as error:
            where = "parameters" if error.field in values else "base"
            raise error.at(f"{where}.{error.field}") from error
        if index == 0:
            class_names = names
    sweep = store.create_sweep(
        spec.model_dump(mode="json"),
        [config.to_json_dict() for config in configs],
        source="web",
        name=spec.name,
        run_names=[config.name for config in configs],
        class_names=class_names,
    )
    return sweep_out(store, sweep)


@router.get("/sweeps", response_model=list[SweepSummary])
def list_sweeps(store: StoreDep) -> list[SweepSummary]:
    """Every sweep, newest first."""
    return [
        SweepSummary.model_validate(sweep_out(store, sweep).model_dump())
        for sweep in store.list_sweeps()
    ]


@router.get("/sweeps/{sweep_id}", response_model=SweepOut, responses=_SWEEP_404)
def get_sweep(sweep_id: str, store: StoreDep) -> SweepOut:
    """One sweep, with every run's varied values, final accuracy and curve."""
    return sweep_out(store, store.get_sweep(sweep_id))
