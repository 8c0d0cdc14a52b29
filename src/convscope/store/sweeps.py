"""Sweeps: a named set of queued runs created together, and the runs they stopped early."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from convscope.errors import InvalidInput, NotFound

from . import schema
from .base import StoreBase, run_select
from .paths import RUN_ID_PATTERN
from .records import (
    RunRecord,
    SweepRecord,
    as_utc,
    dumps,
    float_or_nan,
    loads,
    run_from_row,
    utcnow,
)
from .runs import RunsMixin, _check_name, _run_values

#: The most runs one sweep may create.
MAX_SWEEP_RUNS = 500


class SweepsMixin(RunsMixin, StoreBase):
    """Sweeps and their runs."""

    def create_sweep(
        self,
        spec: Mapping[str, Any],
        configs: Sequence[Mapping[str, Any]],
        *,
        source: str,
        name: str | None = None,
        run_names: Sequence[str | None] | None = None,
        class_names: list[str] | None = None,
    ) -> SweepRecord:
        """Create a sweep and queue its runs, all in one transaction.

        Args:
            spec: The sweep specification, JSON-compatible (kept as given).
            configs: One run configuration per run, in order.
            source: Where the sweep was started from (``"cli"``, ``"web"``).
            name: Optional label of the sweep.
            run_names: Optional label of each run.
            class_names: Names of the classes, if already known.

        Returns:
            The new sweep.
        """
        if not configs:
            raise InvalidInput("budget", "a sweep needs at least one run")
        if len(configs) > MAX_SWEEP_RUNS:
            raise InvalidInput("budget", f"a sweep has at most {MAX_SWEEP_RUNS} runs")
        names = list(run_names) if run_names is not None else [None] * len(configs)
        if len(names) != len(configs):
            raise InvalidInput("run_names", "needs one name per configuration")
        rows = [
            _run_values(config, source, run_name, "queued", class_names)
            for config, run_name in zip(configs, names, strict=True)
        ]
        values = {
            "name": _check_name(name),
            "spec": dumps(dict(spec), "spec"),
            "created_at": utcnow(),
            "stopped": "{}",
        }
        with self._write() as conn:
            sweep_id = secrets.token_hex(6)
            while conn.execute(
                select(schema.sweeps.c.id).where(schema.sweeps.c.id == sweep_id)
            ).first():
                sweep_id = secrets.token_hex(6)
            conn.execute(schema.sweeps.insert().values(id=sweep_id, **values))
            for row in rows:
                self._insert_run(conn, {**row, "sweep_id": sweep_id})
            return self._fetch_sweep(conn, sweep_id)

    def get_sweep(self, sweep_id: str) -> SweepRecord:
        """Return one sweep.

        Raises:
            NotFound: The id is unknown or malformed.
        """
        with self._read() as conn:
            return self._fetch_sweep(conn, sweep_id)

    def list_sweeps(self) -> list[SweepRecord]:
        """Every sweep, newest first."""
        with self._read() as conn:
            ids = conn.execute(
                select(schema.sweeps.c.id).order_by(schema.sweeps.c.seq.desc())
            ).scalars()
            return [self._fetch_sweep(conn, sweep_id) for sweep_id in ids.all()]

    def sweep_runs(self, sweep_id: str) -> list[RunRecord]:
        """The runs of a sweep, in the order they were generated.

        Raises:
            NotFound: Unknown sweep.
        """
        with self._read() as conn:
            self._fetch_sweep(conn, sweep_id)
            rows = conn.execute(
                run_select().where(schema.runs.c.sweep_id == sweep_id).order_by(schema.runs.c.seq)
            ).all()
        return [run_from_row(row._mapping) for row in rows]

    def sweep_snapshot_metrics(
        self, sweep_id: str
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """The metrics of every snapshot of every run of a sweep, in one query.

        Returns:
            ``{run id: [(epoch, metrics), ...]}`` by snapshot index; every run of the
            sweep is a key, with an empty list before its first snapshot.

        Raises:
            NotFound: Unknown sweep.
        """
        runs, snapshots = schema.runs, schema.snapshots
        with self._read() as conn:
            sweep = self._fetch_sweep(conn, sweep_id)
            rows = conn.execute(
                select(snapshots.c.run_id, snapshots.c.epoch, snapshots.c.metrics)
                .join(runs, runs.c.id == snapshots.c.run_id)
                .where(runs.c.sweep_id == sweep_id)
                .order_by(snapshots.c.run_id, snapshots.c.idx)
            ).all()
        out: dict[str, list[tuple[float, dict[str, Any]]]] = {
            run_id: [] for run_id in sweep.run_ids
        }
        for row in rows:
            out.setdefault(row.run_id, []).append((float_or_nan(row.epoch), loads(row.metrics)))
        return out

    def active_sweep_ids(self) -> list[str]:
        """The sweeps that still have a queued or running run."""
        runs = schema.runs
        with self._read() as conn:
            rows = conn.execute(
                select(runs.c.sweep_id)
                .where(runs.c.sweep_id.is_not(None), runs.c.status.in_(("queued", "running")))
                .distinct()
            ).all()
        return sorted(row[0] for row in rows)

    def mark_stopped_early(self, sweep_id: str, run_id: str, reason: str) -> SweepRecord:
        """Record that the sweep's rule stopped one of its runs (the caller cancels it).

        Args:
            sweep_id: The sweep.
            run_id: One of its runs.
            reason: Why, in words a learner reads.

        Returns:
            The sweep afterwards.
        """
        with self._write() as conn:
            sweep = self._fetch_sweep(conn, sweep_id)
            if run_id not in sweep.run_ids:
                raise InvalidInput("run_id", f"run {run_id} is not part of sweep {sweep_id}")
            stopped = {**sweep.stopped, run_id: reason}
            conn.execute(
                update(schema.sweeps)
                .where(schema.sweeps.c.id == sweep_id)
                .values(stopped=dumps(stopped, "stopped"))
            )
            return self._fetch_sweep(conn, sweep_id)

    def _fetch_sweep(self, conn: Connection, sweep_id: str) -> SweepRecord:
        table = schema.sweeps
        well_formed = isinstance(sweep_id, str) and RUN_ID_PATTERN.fullmatch(sweep_id)
        row = (
            conn.execute(select(table).where(table.c.id == sweep_id)).first()
            if well_formed
            else None
        )
        if row is None:
            raise NotFound(f"no sweep with id {sweep_id!r}")
        run_ids = conn.execute(
            select(schema.runs.c.id)
            .where(schema.runs.c.sweep_id == sweep_id)
            .order_by(schema.runs.c.seq)
        ).scalars()
        created_at = as_utc(row.created_at)
        assert created_at is not None  # NOT NULL column
        return SweepRecord(
            id=row.id,
            name=row.name,
            spec=loads(row.spec),
            created_at=created_at,
            run_ids=list(run_ids.all()),
            stopped=loads(row.stopped) or {},
        )
