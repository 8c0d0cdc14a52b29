"""Runs: create (queue), list, read, cancel, delete."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from fastapi import APIRouter, Response, status

from convscope.datasets import dataset_options
from convscope.errors import ConvscopeError, DataUnavailable, InvalidInput, InvalidTransition
from convscope.server.deps import CacheDep, ExecutorDep, StoreDep
from convscope.server.encoding import finite_or_none
from convscope.server.schemas import Metrics, Progress, RunOut
from convscope.store import RunRecord, Store
from convscope.training.config import RunConfig, check_against_data
from convscope.training.jobs import process_exists

router = APIRouter(tags=["runs"])

#: How long DELETE waits for a worker to stop a running run before stopping the worker.
DELETE_WAIT_S = 5.0
_RUN_404: dict[int | str, dict[str, Any]] = {404: {"description": "No run with this id"}}


def _metrics(values: dict | None) -> Metrics | None:
    if values is None:
        return None
    return Metrics(**{key: finite_or_none(values.get(key)) for key in Metrics.model_fields})


def _progress(values: dict | None) -> Progress | None:
    if not values:
        return None
    try:
        return Progress.model_validate(values)
    except ValueError:  # a partial progress record: nothing useful to show
        return None


def run_out(store: Store, run: RunRecord) -> RunOut:
    """The API view of a run record (adds its position in the queue)."""
    position = None
    if run.status == "queued":
        with contextlib.suppress(ConvscopeError):
            position = store.queue_position(run.id)
    return RunOut(
        id=run.id,
        name=run.name,
        status=run.status,  # type: ignore[arg-type]
        source=run.source,
        config=run.config,
        class_names=run.class_names,
        created_at=run.created_at.isoformat(),
        started_at=run.started_at.isoformat() if run.started_at else None,
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        final_metrics=_metrics(run.final_metrics),
        error=run.error,
        num_snapshots=run.num_snapshots,
        queue_position=position,
        progress=_progress(run.progress),
        sweep_id=run.sweep_id,
    )


def refuse_server_paths(config: RunConfig) -> None:
    """Refuse a config that would make the server read a path chosen by the client.

    Raises:
        InvalidInput: A dataset option names a path, or the dataset needs one.
    """
    options = {option.name: option for option in dataset_options(config.dataset)}
    for key in config.dataset_options:
        if options[key].is_path:
            raise InvalidInput(
                f"dataset_options.{key}",
                "the server never reads a path chosen by a client; upload the images "
                "instead (a zip of one folder per class, POST /api/datasets)",
            )
    needed = [option.name for option in options.values() if option.is_path]
    if needed:
        raise InvalidInput(
            "dataset",
            f"the {config.dataset} dataset is read from a path on the server, which a client "
            "never chooses; upload the images instead (a zip of one folder per class, "
            "POST /api/datasets) and train on the dataset it creates",
        )


def check_feasible(config: RunConfig) -> list[str] | None:
    """Refuse, before queueing, a config that the dataset cannot satisfy.

    Returns:
        The dataset's class names when known (stored with the run at once).

    Raises:
        InvalidInput: The dataset's files are missing, or a size exceeds what it holds.
        LimitExceeded: The dataset or the network is larger than a limit.
    """
    refuse_server_paths(config)
    try:
        return check_against_data(config).class_names
    except DataUnavailable as error:
        raise InvalidInput("dataset", str(error)) from error


@router.post(
    "/runs",
    response_model=RunOut,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "A field of the RunConfig is invalid"}},
)
def create_run(config: RunConfig, store: StoreDep) -> RunOut:
    """Queue a run of ``config``; a worker process picks it up."""
    class_names = check_feasible(config)
    run = store.create_run(
        config.to_json_dict(), source="web", name=config.name, class_names=class_names
    )
    return run_out(store, run)


@router.get("/runs", response_model=list[RunOut])
def list_runs(store: StoreDep) -> list[RunOut]:
    """Every run, newest first."""
    return [run_out(store, run) for run in store.list_runs()]


@router.get("/runs/{run_id}", response_model=RunOut, responses=_RUN_404)
def get_run(run_id: str, store: StoreDep) -> RunOut:
    """One run."""
    return run_out(store, store.get_run(run_id))


@router.post(
    "/runs/{run_id}/cancel",
    response_model=RunOut,
    responses={**_RUN_404, 409: {"description": "The run has already finished"}},
)
def cancel_run(run_id: str, store: StoreDep, executor: ExecutorDep) -> RunOut:
    """Cancel a run: a queued one at once, a running one after its current batch."""
    run = store.get_run(run_id)
    if run.finished:
        raise InvalidTransition(f"run {run_id} has already finished ({run.status})")
    run = store.request_cancel(run_id)
    if executor is not None:
        executor.cancel(run)
    return run_out(store, run)


def _wait_until_stopped(store: Store, run_id: str, timeout: float) -> RunRecord:
    deadline = time.monotonic() + timeout
    run = store.get_run(run_id)
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        run = store.get_run(run_id)
    return run


@router.delete(
    "/runs/{run_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_RUN_404, 409: {"description": "The run is training in another process"}},
)
def delete_run(run_id: str, store: StoreDep, executor: ExecutorDep, cache: CacheDep) -> Response:
    """Delete a run with its files; a running run is cancelled (or its worker stopped) first."""
    run = store.get_run(run_id)
    if not run.finished:
        run = store.request_cancel(run_id)
        if executor is not None:
            executor.cancel(run)
    ours = executor is not None and executor.owns(run)
    if run.status == "running" and (ours or process_exists(run.worker_pid)):
        run = _wait_until_stopped(store, run_id, DELETE_WAIT_S)
    if run.status == "running":
        if executor is not None and executor.owns(run):
            # The worker did not react to the cancel request: stop it; a local pool starts
            # a fresh one, so the queue keeps moving.
            executor.force_stop(run, "the run was deleted while it was training")
        elif process_exists(run.worker_pid):
            raise InvalidTransition(
                f"run {run_id} is training in process {run.worker_pid}, which this server "
                "does not manage; stop it there first"
            )
        else:
            with contextlib.suppress(InvalidTransition):
                store.set_status(run_id, "interrupted", error="its process is gone")
    store.delete_run(run_id)
    cache.discard_prefix(run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
