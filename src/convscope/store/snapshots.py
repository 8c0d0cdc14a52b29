"""Snapshots (arrays file, optional weights file, then the row) and the per-batch curve."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from convscope.errors import InvalidInput, NotFound, StoreError

from . import schema
from .arrays import read_npz, write_npz
from .base import StoreBase
from .files import FilesMixin, install_file
from .paths import SNAPSHOTS_DIR, check_index, snapshot_arrays_file, snapshot_weights_file
from .records import SnapshotRecord, dumps, float_or_nan, snapshot_from_row, utcnow


def _real_or_none(value: float | None) -> float | None:
    """A REAL value to store: NaN becomes NULL on every database, as SQLite does anyway."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


class SnapshotsMixin(FilesMixin, StoreBase):
    """Snapshots and batches of a run."""

    def add_snapshot(
        self,
        run_id: str,
        index: int,
        *,
        epoch: float,
        step: int,
        metrics: Mapping[str, Any],
        arrays: Mapping[str, Any],
        weights_file: str | os.PathLike[str] | None = None,
    ) -> SnapshotRecord:
        """Record a snapshot: its files first, then its row and a "snapshot" event.

        The arrays go to ``runs/<id>/snapshots/<index:04d>.npz`` atomically; a weights file
        the caller already wrote (at ``temp_path(run_id, ".weights.npz")``) is fsynced and
        moved to ``<index:04d>.weights.npz``. Only then is the row written, so a row always
        has its files and a crash leaves at worst files without a row, which are ignored.

        Args:
            run_id: The run.
            index: Position of the snapshot in the run, from 0; each index is written once.
            epoch: Fractional epoch of the snapshot.
            step: Global training step.
            metrics: Metrics at that moment (JSON-compatible).
            arrays: Names mapped to arrays (logits, embeddings, confusion matrix...).
            weights_file: Optional weights file to move into the snapshot.

        Returns:
            The snapshot.

        Raises:
            NotFound: Unknown run.
            InvalidInput: The index exists already, or arrays/metrics cannot be stored.
        """
        index = check_index(index)
        metrics_text = dumps(dict(metrics), "metrics")
        epoch, step = float(epoch), int(step)
        with self._read() as conn:
            self._require_run(conn, run_id)
            if self._snapshot_row(conn, run_id, index) is not None:
                raise InvalidInput("index", f"run {run_id} already has a snapshot {index}")
        run_dir = self.run_dir(run_id)
        try:
            (run_dir / SNAPSHOTS_DIR).mkdir(exist_ok=True)
            write_npz(snapshot_arrays_file(run_dir, index), arrays)
        except OSError as error:
            raise StoreError(f"cannot write snapshot {index} of run {run_id}: {error}") from error
        if weights_file is not None:
            install_file(weights_file, snapshot_weights_file(run_dir, index), "weights_file")
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                schema.snapshots.insert().values(
                    run_id=run_id,
                    idx=index,
                    epoch=epoch,
                    step=step,
                    created_at=utcnow(),
                    metrics=metrics_text,
                    has_weights=weights_file is not None,
                )
            )
            self._append_event(
                conn,
                run_id,
                "snapshot",
                {"index": index, "epoch": epoch, "step": step, "metrics": dict(metrics)},
            )
            row = self._snapshot_row(conn, run_id, index)
        assert row is not None
        return snapshot_from_row(row)

    def _snapshot_row(self, conn: Any, run_id: str, index: int) -> Mapping[Any, Any] | None:
        table = schema.snapshots
        row = conn.execute(
            select(table).where(table.c.run_id == run_id, table.c.idx == index)
        ).first()
        return None if row is None else row._mapping

    def list_snapshots(self, run_id: str) -> list[SnapshotRecord]:
        """Return the snapshots of a run, by index.

        Raises:
            NotFound: Unknown run.
        """
        table = schema.snapshots
        with self._read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                select(table).where(table.c.run_id == run_id).order_by(table.c.idx)
            ).all()
        return [snapshot_from_row(row._mapping) for row in rows]

    def get_snapshot(self, run_id: str, index: int) -> SnapshotRecord:
        """Return one snapshot.

        Raises:
            NotFound: Unknown run or snapshot.
        """
        index = check_index(index)
        with self._read() as conn:
            self._require_run(conn, run_id)
            row = self._snapshot_row(conn, run_id, index)
        if row is None:
            raise NotFound(f"run {run_id} has no snapshot {index}")
        return snapshot_from_row(row)

    def snapshot_arrays(self, run_id: str, index: int) -> dict[str, np.ndarray]:
        """Read the arrays of a snapshot.

        Raises:
            NotFound: Unknown run or snapshot, or its file is missing.
        """
        record = self.get_snapshot(run_id, index)
        try:
            return read_npz(snapshot_arrays_file(self._run_path(run_id), record.index))
        except FileNotFoundError:
            raise NotFound(f"the arrays of snapshot {index} of run {run_id} are missing") from None

    def snapshot_weights_path(self, run_id: str, index: int) -> Path | None:
        """Path of the weights file of a snapshot, or None if it was stored without weights.

        Raises:
            NotFound: Unknown run or snapshot.
        """
        record = self.get_snapshot(run_id, index)
        path = snapshot_weights_file(self._run_path(run_id), record.index)
        return path if record.has_weights and path.is_file() else None

    def add_batches(
        self, run_id: str, rows: Sequence[tuple[int, float, float | None, float | None]]
    ) -> None:
        """Append points of the per-batch training curve in one statement.

        Args:
            run_id: The run.
            rows: ``(step, epoch, loss, accuracy)`` tuples; NaN or None loss/accuracy are
                stored as missing and read back as NaN.

        Raises:
            NotFound: Unknown run.
            InvalidInput: A row is not a 4-tuple of numbers.
        """
        values = []
        for row in rows:
            try:
                step, epoch, loss, accuracy = row
                values.append(
                    {
                        "run_id": run_id,
                        "step": int(step),
                        "epoch": float(epoch),
                        "loss": _real_or_none(loss),
                        "accuracy": _real_or_none(accuracy),
                    }
                )
            except (TypeError, ValueError) as error:
                raise InvalidInput(
                    "rows", f"expected (step, epoch, loss, accuracy) numbers, got {row!r}"
                ) from error
        with self._write() as conn:
            self._require_run(conn, run_id)
            if values:
                conn.execute(schema.batches.insert(), values)

    def batches(self, run_id: str) -> dict[str, np.ndarray]:
        """Return the per-batch training curve of a run, ordered by step.

        Returns:
            ``{"step": int64, "epoch": float64, "loss": float64, "accuracy": float64}``
            arrays of equal length; missing values are NaN.

        Raises:
            NotFound: Unknown run.
        """
        table = schema.batches
        with self._read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                select(table.c.step, table.c.epoch, table.c.loss, table.c.accuracy)
                .where(table.c.run_id == run_id)
                .order_by(table.c.step, table.c.id)
            ).all()
        return {
            "step": np.array([r.step for r in rows], dtype=np.int64),
            "epoch": np.array([float_or_nan(r.epoch) for r in rows], dtype=np.float64),
            "loss": np.array([float_or_nan(r.loss) for r in rows], dtype=np.float64),
            "accuracy": np.array([float_or_nan(r.accuracy) for r in rows], dtype=np.float64),
        }
