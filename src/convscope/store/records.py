"""What the store hands out: immutable records, the run state machine, JSON helpers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import numpy as np

from convscope.errors import InvalidInput, InvalidTransition

RunStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
#: Statuses a run never leaves.
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled", "interrupted"})
#: The run state machine: the statuses reachable from each status.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled", "failed"}),
    "running": frozenset({"done", "failed", "cancelled", "interrupted"}),
}
#: Where a run was started from.
SOURCES: tuple[str, ...] = ("cli", "web", "notebook", "imported")


@dataclass(frozen=True)
class RunRecord:
    """One run as stored.

    Attributes:
        id: 12 lowercase hexadecimal characters.
        name: Optional label chosen by the user.
        status: One of ``RUN_STATUSES``.
        source: ``"cli"``, ``"web"``, ``"notebook"`` or ``"imported"`` (a model file).
        config: The run configuration (JSON-compatible).
        class_names: Names of the classes, once known.
        created_at: When the run was created (UTC).
        started_at: When it started running (UTC), if it did.
        finished_at: When it reached a finished status (UTC), if it did.
        final_metrics: Metrics at the end of training.
        error: Why it failed or was interrupted.
        versions: Library versions it was trained with.
        worker_pid: Process id of the process training it.
        cancel_requested: Whether a user asked to cancel it.
        num_snapshots: How many snapshots it has.
        progress: Last known ``{"epoch", "step", "steps_per_epoch", "epochs"}``.
        sweep_id: The sweep the run belongs to, if any.
    """

    id: str
    name: str | None
    status: str
    source: str
    config: dict[str, Any]
    class_names: list[str] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    final_metrics: dict[str, Any] | None
    error: str | None
    versions: dict[str, Any] | None
    worker_pid: int | None
    cancel_requested: bool
    num_snapshots: int
    progress: dict[str, Any] | None
    sweep_id: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the run has reached a status it never leaves."""
        return self.status in FINISHED


@dataclass(frozen=True)
class SweepRecord:
    """A set of runs that explore some fields of one RunConfig.

    Attributes:
        id: 12 lowercase hexadecimal characters.
        name: Optional label.
        spec: The sweep specification (JSON-compatible), as given.
        created_at: When it was created (UTC).
        run_ids: Its runs, in the order they were generated.
        stopped: Runs stopped early by the sweep's rule, with the reason.
    """

    id: str
    name: str | None
    spec: dict[str, Any]
    created_at: datetime
    run_ids: list[str]
    stopped: dict[str, str]


@dataclass(frozen=True)
class SnapshotRecord:
    """One recorded moment of a run; its arrays are in ``runs/<id>/snapshots/<index>.npz``.

    Attributes:
        run_id: The run it belongs to.
        index: Its position in the run, from 0.
        epoch: Fractional epoch at which it was taken (0.25 = a quarter into epoch 1).
        step: Global training step at which it was taken.
        created_at: When it was written (UTC).
        metrics: Metrics measured at that moment.
        has_weights: Whether a weights file was stored with it.
    """

    run_id: str
    index: int
    epoch: float
    step: int
    created_at: datetime
    metrics: dict[str, Any]
    has_weights: bool


@dataclass(frozen=True)
class EventRecord:
    """One entry of the event log that the server streams to browsers.

    Attributes:
        id: Increasing integer, usable to resume a stream.
        run_id: The run it concerns.
        kind: ``"status"``, ``"snapshot"``, ... .
        payload: Its content (JSON-compatible).
        created_at: When it was appended (UTC).
    """

    id: int
    run_id: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def check_status(status: str) -> str:
    """Return ``status`` if it is a run status, else raise ``InvalidInput``."""
    if status not in RUN_STATUSES:
        raise InvalidInput("status", f"unknown run status {status!r}", RUN_STATUSES)
    return status


def check_transition(run_id: str, old: str, new: str) -> None:
    """Raise ``InvalidTransition`` unless the state machine allows ``old`` -> ``new``.

    Args:
        run_id: The run, named in the message.
        old: Its current status.
        new: The status asked for.
    """
    check_status(new)
    if new not in TRANSITIONS.get(old, frozenset()):
        allowed = sorted(TRANSITIONS.get(old, frozenset()))
        hint = f"allowed: {', '.join(allowed)}" if allowed else f"{old!r} is final"
        raise InvalidTransition(f"run {run_id} cannot go from {old!r} to {new!r} ({hint})")


def _to_builtin(value: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, field: str) -> str:
    """Serialise a JSON-compatible value for a TEXT column.

    Args:
        value: Dicts, lists, strings, numbers, booleans, None; numpy scalars are accepted.
        field: Name of the field, for the error message.

    Returns:
        The JSON text.
    """
    try:
        return json.dumps(value, default=_to_builtin, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(field, f"must be JSON-compatible: {error}") from error


def dumps_optional(value: Any, field: str) -> str | None:
    """Like ``dumps`` but keeps None as SQL NULL."""
    return None if value is None else dumps(value, field)


def loads(text: str | None) -> Any:
    """Parse a JSON TEXT column; NULL gives None."""
    return None if text is None else json.loads(text)


def as_utc(value: datetime | None) -> datetime | None:
    """Make a datetime read from the database timezone-aware in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def float_or_nan(value: float | None) -> float:
    """A REAL column read back: SQL NULL (how SQLite stores NaN) becomes NaN."""
    return math.nan if value is None else float(value)


def run_from_row(row: Mapping[Any, Any]) -> RunRecord:
    """Build a ``RunRecord`` from a ``runs`` row that carries a ``num_snapshots`` column."""
    created_at = as_utc(row["created_at"])
    assert created_at is not None  # NOT NULL column
    return RunRecord(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        source=row["source"],
        config=loads(row["config"]),
        class_names=loads(row["class_names"]),
        created_at=created_at,
        started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]),
        final_metrics=loads(row["final_metrics"]),
        error=row["error"],
        versions=loads(row["versions"]),
        worker_pid=row["worker_pid"],
        cancel_requested=bool(row["cancel_requested"]),
        num_snapshots=int(row["num_snapshots"] or 0),
        progress=loads(row["progress"]),
        sweep_id=row.get("sweep_id"),
    )


def snapshot_from_row(row: Mapping[Any, Any]) -> SnapshotRecord:
    """Build a ``SnapshotRecord`` from a ``snapshots`` row."""
    created_at = as_utc(row["created_at"])
    assert created_at is not None  # NOT NULL column
    return SnapshotRecord(
        run_id=row["run_id"],
        index=int(row["idx"]),
        epoch=float_or_nan(row["epoch"]),
        step=int(row["step"]),
        created_at=created_at,
        metrics=loads(row["metrics"]),
        has_weights=bool(row["has_weights"]),
    )


def event_from_row(row: Mapping[Any, Any]) -> EventRecord:
    """Build an ``EventRecord`` from an ``events`` row."""
    created_at = as_utc(row["created_at"])
    assert created_at is not None  # NOT NULL column
    return EventRecord(
        id=int(row["id"]),
        run_id=row["run_id"],
        kind=row["kind"],
        payload=loads(row["payload"]),
        created_at=created_at,
    )
