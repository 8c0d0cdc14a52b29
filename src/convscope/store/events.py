"""The event log: an append-only table with increasing ids, read by resumable streams."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Connection

from convscope.errors import InvalidInput

from . import schema
from .base import StoreBase
from .paths import check_run_id
from .records import FINISHED, EventRecord, event_from_row

_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Largest page ``events_after`` returns, whatever limit is asked for.
MAX_EVENTS_PAGE = 5000


class EventsMixin(StoreBase):
    """Appending and paging through events."""

    def add_event(self, run_id: str, kind: str, payload: Mapping[str, Any]) -> int:
        """Append an event to the log.

        Args:
            run_id: The run it concerns.
            kind: Lowercase word (``"progress"``, ``"log"``...); "status" and "snapshot"
                are appended by the store itself.
            payload: JSON-compatible content.

        Returns:
            The id of the event, greater than every earlier id.

        Raises:
            NotFound: Unknown run.
            InvalidInput: Bad kind or payload.
        """
        if not isinstance(kind, str) or _KIND_PATTERN.fullmatch(kind) is None:
            raise InvalidInput("kind", f"{kind!r} is not a lowercase word of at most 32 characters")
        if not isinstance(payload, Mapping):
            raise InvalidInput("payload", "must be a mapping")
        with self._write() as conn:
            self._require_run(conn, run_id)
            return self._append_event(conn, run_id, kind, payload)

    def events_after(
        self, run_id: str | None, after_id: int, limit: int = 500
    ) -> list[EventRecord]:
        """Return the events with an id greater than ``after_id``, oldest first.

        Page through the log by passing the id of the last event received.

        Args:
            run_id: Only the events of this run; None for every run. An unknown run has
                no events.
            after_id: 0 to start from the beginning.
            limit: Most events returned (capped at ``MAX_EVENTS_PAGE``).

        Returns:
            The events, by increasing id.

        Raises:
            NotFound: A malformed run id.
        """
        table = schema.events
        query = select(table).where(table.c.id > int(after_id))
        if run_id is not None:
            query = query.where(table.c.run_id == check_run_id(run_id))
        page = max(1, min(int(limit), MAX_EVENTS_PAGE))
        with self._read() as conn:
            rows = conn.execute(query.order_by(table.c.id).limit(page)).all()
        return [event_from_row(row._mapping) for row in rows]

    def last_event_id(self) -> int:
        """The id of the newest event, or 0 when the log is empty; a stream starts after it."""
        with self._read() as conn:
            value = conn.execute(select(func.max(schema.events.c.id))).scalar()
        return int(value or 0)

    def compact_finished_events(self) -> int:
        """Drop the progress events of finished runs but their last one.

        A run's progress events carry its per-batch curve while it trains; once it has
        finished, the curve is read from the batches table, and only the last progress
        event is worth replaying. The store does this itself when a run finishes; this
        catches runs finished before (or by an older version).

        Returns:
            How many events were deleted.
        """
        table = schema.events
        finished = select(schema.runs.c.id).where(schema.runs.c.status.in_(FINISHED))
        latest = (
            select(func.max(table.c.id)).where(table.c.kind == "progress").group_by(table.c.run_id)
        )
        with self._write() as conn:
            result = conn.execute(
                delete(table).where(
                    and_(
                        table.c.kind == "progress",
                        table.c.run_id.in_(finished),
                        table.c.id.not_in(latest),
                    )
                )
            )
        return int(result.rowcount or 0)

    def _compact_run_events(self, conn: Connection, run_id: str) -> None:
        """In the current transaction, drop a run's progress events but its last one."""
        table = schema.events
        last = conn.execute(
            select(func.max(table.c.id)).where(table.c.run_id == run_id, table.c.kind == "progress")
        ).scalar()
        if last is not None:
            conn.execute(
                delete(table).where(
                    table.c.run_id == run_id, table.c.kind == "progress", table.c.id < last
                )
            )
