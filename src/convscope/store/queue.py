"""The queue: queued runs in order, and workers claiming them."""

from __future__ import annotations

from sqlalchemy import func, select

from convscope.errors import NotFound
from convscope.processes import this_host

from . import schema
from .paths import check_run_id
from .records import RunRecord
from .runs import RunsMixin


class QueueMixin(RunsMixin):
    """Queued runs are trained oldest first; a claim turns one "running" for one worker."""

    def claim_next_queued(
        self, worker_pid: int, *, worker_host: str | None = None
    ) -> RunRecord | None:
        """Take the oldest queued run for a worker: it becomes "running" with its pid.

        Safe when several workers claim at once: the UPDATE only applies while the run is
        still queued, so a run is never handed to two workers.

        Args:
            worker_pid: Process id of the claiming worker.
            worker_host: Its machine (default: this one).

        Returns:
            The claimed run, or None if no run is queued.
        """
        while True:
            with self._write() as conn:
                run_id = conn.execute(
                    select(schema.runs.c.id)
                    .where(schema.runs.c.status == "queued")
                    .order_by(schema.runs.c.seq)
                    .limit(1)
                ).scalar()
                if run_id is None:
                    return None
                claimant = {"worker_pid": worker_pid, "worker_host": worker_host or this_host()}
                if self._apply_status(conn, run_id, "queued", "running", extra=claimant):
                    return self._fetch_run(conn, run_id)
            # Another worker took it first; every lost race removes a run from the queue,
            # so this loop ends.

    def claim_run(self, run_id: str, worker_pid: int) -> RunRecord | None:
        """Take one given run for a worker, if it is still queued: it becomes "running".

        For executors that schedule runs themselves (a Ray task per run): the task claims
        its run when it starts, and finds nothing to do if it was cancelled meanwhile.

        Args:
            run_id: The run.
            worker_pid: Process id of the claiming process.

        Returns:
            The claimed run, or None if it was no longer queued.
        """
        with self._write() as conn:
            if self._require_run(conn, run_id) != "queued":
                return None
            if self._apply_status(
                conn, run_id, "queued", "running", extra={"worker_pid": worker_pid}
            ):
                return self._fetch_run(conn, run_id)
        return None

    def queued_run_ids(self) -> list[str]:
        """The ids of the queued runs, oldest (next) first."""
        with self._read() as conn:
            rows = conn.execute(
                select(schema.runs.c.id)
                .where(schema.runs.c.status == "queued")
                .order_by(schema.runs.c.seq)
            ).all()
        return [row[0] for row in rows]

    def queue_position(self, run_id: str) -> int | None:
        """Position of a run among queued runs (1 = next), or None if it is not queued."""
        runs = schema.runs
        check_run_id(run_id)
        with self._read() as conn:
            row = conn.execute(select(runs.c.status, runs.c.seq).where(runs.c.id == run_id)).first()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}")
            if row.status != "queued":
                return None
            ahead = conn.execute(
                select(func.count())
                .select_from(runs)
                .where(runs.c.status == "queued", runs.c.seq <= row.seq)
            ).scalar_one()
        return int(ahead)
