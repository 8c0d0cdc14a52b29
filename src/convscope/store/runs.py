"""Runs: creation, the status state machine, cancellation, liveness, deletion (the queue
is in :mod:`convscope.store.queue`)."""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping
from types import EllipsisType
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from convscope.errors import InvalidInput, NotFound, StoreError
from convscope.processes import process_is_gone, this_host

from . import schema
from .base import StoreBase, run_select
from .paths import check_run_id
from .records import (
    FINISHED,
    SOURCES,
    RunRecord,
    check_status,
    check_transition,
    dumps,
    dumps_optional,
    run_from_row,
    utcnow,
)

# A conditional UPDATE can lose a race on databases without write locks (PostgreSQL);
# the operation then re-reads the run and tries again, a few times.
_ATTEMPTS = 5
_INTERRUPTED_MESSAGE = "the worker process stopped before the run finished"
_GONE_MESSAGE = "the process training it (pid {pid}) ended before the run finished"
_MAX_NAME = 200
_ID_PREFIX = re.compile(r"[0-9a-f]{1,12}")
#: Runs named in the message of an ambiguous id prefix.
_MATCHES_LISTED = 10


def _check_name(name: object) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or len(name) > _MAX_NAME:
        raise InvalidInput("name", f"must be a string of at most {_MAX_NAME} characters")
    return name


def _check_class_names(class_names: object) -> list[str] | None:
    if class_names is None:
        return None
    names = (
        list(class_names)
        if isinstance(class_names, Iterable) and not isinstance(class_names, str | bytes | Mapping)
        else None
    )
    if names is None or not all(isinstance(c, str) for c in names):
        raise InvalidInput("class_names", "must be a list of strings")
    return [str(c) for c in names]


def _run_values(
    config: Mapping[str, Any],
    source: str,
    name: str | None,
    status: str,
    class_names: list[str] | None,
) -> dict[str, Any]:
    """The checked column values of a new run."""
    if source not in SOURCES:
        raise InvalidInput("source", f"unknown run source {source!r}", SOURCES)
    if not isinstance(config, Mapping):
        raise InvalidInput("config", "must be a mapping")
    check_status(status)
    now = utcnow()
    return {
        "name": _check_name(name),
        "status": status,
        "source": source,
        "config": dumps(dict(config), "config"),
        "class_names": dumps_optional(_check_class_names(class_names), "class_names"),
        "created_at": now,
        "started_at": None if status == "queued" else now,
        "finished_at": now if status in FINISHED else None,
        "cancel_requested": status == "cancelled",
    }


class RunsMixin(StoreBase):
    """Run rows and their life cycle."""

    def create_run(
        self,
        config: Mapping[str, Any],
        *,
        source: str,
        name: str | None = None,
        status: str = "queued",
        class_names: list[str] | None = None,
    ) -> RunRecord:
        """Create a run with a fresh random id.

        Args:
            config: The run configuration, JSON-compatible.
            source: ``"cli"``, ``"web"``, ``"notebook"``, or ``"imported"`` (a model file).
            name: Optional label.
            status: Initial status; ``"running"`` for a run trained in a notebook.
            class_names: Names of the classes, if already known.

        Returns:
            The new run.
        """
        values = _run_values(config, source, name, status, class_names)
        with self._write() as conn:
            run_id = self._insert_run(conn, values)
            return self._fetch_run(conn, run_id)

    def _insert_run(self, conn: Connection, values: Mapping[str, Any]) -> str:
        """Insert a run row with a fresh random id in the current transaction."""
        run_id = secrets.token_hex(6)
        # 48 random bits rarely collide, but a collision must not fail the insert.
        while conn.execute(select(schema.runs.c.id).where(schema.runs.c.id == run_id)).first():
            run_id = secrets.token_hex(6)
        conn.execute(schema.runs.insert().values(id=run_id, **values))
        return run_id

    def get_run(self, run_id: str) -> RunRecord:
        """Return one run.

        A "running" run whose training process, on this machine, is gone is marked
        "interrupted" first (see :meth:`interrupt_if_gone`).

        Args:
            run_id: Its id.

        Returns:
            The run.

        Raises:
            NotFound: The id is unknown or malformed.
        """
        with self._read() as conn:
            run = self._fetch_run(conn, run_id)
        return self.interrupt_if_gone([run])[0]

    def find_run(self, prefix: str) -> RunRecord:
        """The one run whose id starts with ``prefix``, as git resolves a short commit id.

        Args:
            prefix: A whole run id, or its first characters.

        Returns:
            The run.

        Raises:
            NotFound: No run id starts with ``prefix``.
            InvalidInput: Several do (field ``run_id``); the message lists them.
        """
        text = prefix.strip().lower() if isinstance(prefix, str) else ""
        if not _ID_PREFIX.fullmatch(text):
            raise NotFound(f"no run with id {prefix!r}: run ids are 12 hexadecimal characters")
        runs = schema.runs
        with self._read() as conn:
            rows = conn.execute(
                run_select()
                .where(runs.c.id.startswith(text, autoescape=True))
                .order_by(runs.c.seq.desc())
                .limit(_MATCHES_LISTED + 1)
            ).all()
        matches = self.interrupt_if_gone([run_from_row(row._mapping) for row in rows])
        if not matches:
            raise NotFound(f"no run with id starting with {text!r}")
        if len(matches) > 1:
            listed = "; ".join(
                f"{run.id} ({run.status}, {run.config.get('dataset', '?')}, "
                f"{run.created_at:%Y-%m-%d %H:%M})"
                for run in matches[:_MATCHES_LISTED]
            )
            more = " and more" if len(matches) > _MATCHES_LISTED else ""
            raise InvalidInput(
                "run_id",
                f"{text!r} is the start of several run ids: {listed}{more}; give more characters",
            )
        return matches[0]

    def list_runs(self) -> list[RunRecord]:
        """Return every run, newest first (runs whose process is gone marked interrupted)."""
        with self._read() as conn:
            rows = conn.execute(run_select().order_by(schema.runs.c.seq.desc())).all()
        return self.interrupt_if_gone([run_from_row(row._mapping) for row in rows])

    def interrupt_if_gone(self, runs: list[RunRecord]) -> list[RunRecord]:
        """Mark "interrupted" the running runs whose training process has ended.

        A notebook kernel that dies or a ``convscope train`` killed by a full disk cannot
        finish its run; whoever reads the run next finds it interrupted, no server needed.
        Only processes of this machine are checked (``os.kill(pid, 0)``, cheap), so runs
        trained on other machines sharing the database are left as they are.

        Args:
            runs: Records just read.

        Returns:
            The same records, those marked interrupted read again.
        """
        gone = [
            run
            for run in runs
            if run.status == "running" and process_is_gone(run.worker_pid, run.worker_host)
        ]
        if not gone:
            return runs
        for run in gone:
            assert run.worker_pid is not None
            self.interrupt_runs_of(
                run.worker_pid, _GONE_MESSAGE.format(pid=run.worker_pid), run_id=run.id
            )
        fresh: dict[str, RunRecord] = {}
        with self._read() as conn:
            for run in gone:
                with contextlib.suppress(NotFound):
                    fresh[run.id] = self._fetch_run(conn, run.id)
        return [fresh.get(run.id, run) for run in runs]

    def interrupt_runs_of(
        self, worker_pid: int, reason: str, *, run_id: str | None = None
    ) -> list[str]:
        """Mark "interrupted" the running runs of one training process of this machine.

        Args:
            worker_pid: The process that stopped.
            reason: Why, kept in ``RunRecord.error``.
            run_id: Only this run.

        Returns:
            The ids of the runs marked.
        """
        runs = schema.runs
        marked: list[str] = []
        with self._write() as conn:
            query = select(runs.c.id).where(
                runs.c.status == "running",
                runs.c.worker_pid == worker_pid,
                (runs.c.worker_host == this_host()) | runs.c.worker_host.is_(None),
            )
            if run_id is not None:
                query = query.where(runs.c.id == check_run_id(run_id))
            for (found,) in conn.execute(query.order_by(runs.c.seq)).all():
                if self._apply_status(conn, found, "running", "interrupted", error=reason):
                    marked.append(found)
        return marked

    def _apply_status(
        self,
        conn: Connection,
        run_id: str,
        old: str,
        new: str,
        *,
        error: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> bool:
        """Move a run from ``old`` to ``new`` if it is still ``old``; log a "status" event.

        Returns:
            Whether the row was updated (False: its status changed meanwhile).
        """
        check_transition(run_id, old, new)
        now = utcnow()
        values: dict[str, Any] = {"status": new, **(extra or {})}
        if new == "running":
            values["started_at"] = now
        if new in FINISHED:
            values["finished_at"] = now
        if error is not None:
            values["error"] = error
        result = conn.execute(
            update(schema.runs)
            .where(schema.runs.c.id == run_id, schema.runs.c.status == old)
            .values(**values)
        )
        if result.rowcount != 1:
            return False
        if new in FINISHED:
            # Replaying a finished run needs no per-batch progress: its curve is stored.
            self._compact_run_events(conn, run_id)
        self._append_event(conn, run_id, "status", {"status": new, "error": error})
        return True

    def set_status(self, run_id: str, status: str, *, error: str | None = None) -> RunRecord:
        """Change the status of a run, following the state machine.

        Sets ``started_at`` on entering "running" and ``finished_at`` on entering a finished
        status, and appends an event of kind "status" ``{"status", "error"}``.

        Args:
            run_id: The run.
            status: The new status.
            error: Why the run failed or stopped, kept in ``RunRecord.error``.

        Returns:
            The updated run.

        Raises:
            NotFound: Unknown run.
            InvalidTransition: The state machine does not allow the change.
        """
        check_status(status)
        for _ in range(_ATTEMPTS):
            with self._write() as conn:
                old = self._require_run(conn, run_id)
                if self._apply_status(conn, run_id, old, status, error=error):
                    return self._fetch_run(conn, run_id)
        raise StoreError(f"the status of run {run_id} kept changing; try again")

    def update_run(
        self,
        run_id: str,
        *,
        class_names: list[str] | None = None,
        final_metrics: Mapping[str, Any] | None = None,
        versions: Mapping[str, Any] | None = None,
        worker_pid: int | EllipsisType | None = ...,
        progress: Mapping[str, Any] | None = None,
        name: str | None = None,
        worker_host: str | None = None,
    ) -> RunRecord:
        """Set some fields of a run; fields left out (None, or ``...`` for ``worker_pid``) stay.

        Args:
            run_id: The run.
            class_names: Names of the classes.
            final_metrics: Metrics at the end of training.
            versions: Library versions.
            worker_pid: Process id of the worker; None clears it (and its host).
            progress: ``{"epoch", "step", "steps_per_epoch", "epochs"}``.
            name: Label of the run.
            worker_host: Machine of ``worker_pid`` (default: this one); recorded with it.

        Returns:
            The updated run.
        """
        values: dict[str, Any] = {}
        if class_names is not None:
            values["class_names"] = dumps(_check_class_names(class_names), "class_names")
        if final_metrics is not None:
            values["final_metrics"] = dumps(dict(final_metrics), "final_metrics")
        if versions is not None:
            values["versions"] = dumps(dict(versions), "versions")
        if worker_pid is not ...:
            if worker_pid is not None and (
                isinstance(worker_pid, bool) or not isinstance(worker_pid, int)
            ):
                raise InvalidInput("worker_pid", "must be an integer or None")
            values["worker_pid"] = worker_pid
            values["worker_host"] = None if worker_pid is None else (worker_host or this_host())
        if progress is not None:
            values["progress"] = dumps(dict(progress), "progress")
        if name is not None:
            values["name"] = _check_name(name)
        with self._write() as conn:
            self._require_run(conn, run_id)
            if values:
                conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(**values))
            return self._fetch_run(conn, run_id)

    def request_cancel(self, run_id: str) -> RunRecord:
        """Ask for a run to stop.

        A queued run is cancelled at once. A running run gets ``cancel_requested`` set; its
        worker sees it (``is_cancel_requested``) and moves it to "cancelled". A finished run
        is left as it is.

        Args:
            run_id: The run.

        Returns:
            The run afterwards.
        """
        for _ in range(_ATTEMPTS):
            with self._write() as conn:
                status = self._require_run(conn, run_id)
                if status == "queued":
                    if not self._apply_status(
                        conn, run_id, "queued", "cancelled", extra={"cancel_requested": True}
                    ):
                        continue  # claimed meanwhile: cancel it as a running run
                elif status == "running":
                    conn.execute(
                        update(schema.runs)
                        .where(schema.runs.c.id == run_id)
                        .values(cancel_requested=True)
                    )
                return self._fetch_run(conn, run_id)
        raise StoreError(f"the status of run {run_id} kept changing; try again")

    def is_cancel_requested(self, run_id: str) -> bool:
        """Whether someone asked to cancel the run (a cheap read, for polling by workers)."""
        check_run_id(run_id)
        with self._read() as conn:
            value = conn.execute(
                select(schema.runs.c.cancel_requested).where(schema.runs.c.id == run_id)
            ).first()
        if value is None:
            raise NotFound(f"no run with id {run_id!r}")
        return bool(value[0])

    def mark_orphans_interrupted(self, alive_pids: set[int] | None = None) -> list[str]:
        """Mark "interrupted" the running runs whose worker process is gone.

        Called when the server starts. Pass the pids known to be alive (checked with
        ``os.kill(pid, 0)``, notebook processes included) so their runs are kept. Runs
        trained on another machine are never marked from here.

        Args:
            alive_pids: Pids of live training processes; None treats every run as orphaned.

        Returns:
            The ids of the runs marked interrupted.
        """
        marked: list[str] = []
        with self._write() as conn:
            rows = conn.execute(
                select(schema.runs.c.id, schema.runs.c.worker_pid, schema.runs.c.worker_host)
                .where(schema.runs.c.status == "running")
                .order_by(schema.runs.c.seq)
            ).all()
            for run_id, pid, host in rows:
                if alive_pids is not None and pid is not None and pid in alive_pids:
                    continue
                if host is not None and host != this_host():
                    continue
                if self._apply_status(
                    conn, run_id, "running", "interrupted", error=_INTERRUPTED_MESSAGE
                ):
                    marked.append(run_id)
        return marked

    def delete_run(self, run_id: str) -> None:
        """Delete a run: its rows (run, snapshots, batches, events) and its directory.

        Raises:
            NotFound: Unknown run.
            StoreError: The rows are gone but the directory could not be removed.
        """
        run_dir = self._run_path(run_id)
        with self._write() as conn:
            self._require_run(conn, run_id)
            # Explicit deletes, not only ON DELETE CASCADE: the outcome must not depend on
            # the foreign-key setting of the connection.
            for table in (schema.events, schema.batches, schema.snapshots):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(schema.runs).where(schema.runs.c.id == run_id))
        try:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(run_dir)
        except OSError as error:
            raise StoreError(f"run {run_id} was deleted but {run_dir} remains: {error}") from error
