"""The engine, its connection settings, and what every part of the ``Store`` shares.

The store is used at the same time by the web server (threads) and by worker processes, so
each operation takes a connection from a small pool, runs one short transaction, and gives
the connection back with no transaction open. On SQLite: WAL mode (readers never block the
writer), a busy timeout (writers wait their turn instead of failing), foreign keys on, and
write transactions that take the write lock up front (``BEGIN IMMEDIATE``), which avoids
the deadlock of two readers upgrading to writers. Pooling matters: opening an SQLite
connection per operation costs about ten times the operation itself.

On PostgreSQL the same rules hold by other means: a write transaction first takes one
transaction-level advisory lock, so writers take turns as on SQLite. That matters for the
event log: a ``SERIAL`` id is handed out at INSERT but becomes visible at COMMIT, and two
interleaved writers could commit ids out of order; a reader paging with "after id N" would
then skip the late one for good. With one writer at a time, ids become visible in order.
Reads run at REPEATABLE READ, so that the statements of one read see one snapshot.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from convscope.errors import NotFound, StoreError

from . import schema
from .paths import check_run_id
from .records import RunRecord, dumps, run_from_row, utcnow

#: How long a connection waits for another process's write lock before failing.
BUSY_TIMEOUT_S = 10.0
_BEGIN_OPTION = "convscope_begin"
#: Key of the PostgreSQL advisory lock that write transactions take (any constant works;
#: this one spells "convscop" in ASCII).
WRITE_LOCK_KEY = 0x636F6E7673636F70
#: Driver used for ``postgresql://`` URLs that name none (psycopg 3, a dependency).
POSTGRES_DRIVER = "postgresql+psycopg"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite would issue its own BEGIN lazily (and never for SELECTs); we issue BEGIN in
    # the "begin" event instead, so that transactions start where SQLAlchemy starts them.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # In WAL mode NORMAL cannot corrupt the database; it only skips an fsync per commit.
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite database file."""
    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings the store relies on.

    Args:
        url: Any SQLAlchemy URL; SQLite databases must be files.

    Returns:
        The engine, with a small connection pool.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise StoreError(f"invalid database URL {url!r}: {error}") from error
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            raise StoreError(
                "an in-memory SQLite database cannot be shared by the server and the workers; "
                "give a database file"
            )
        engine = create_engine(
            parsed, pool_size=4, max_overflow=8, connect_args={"timeout": BUSY_TIMEOUT_S}
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    try:
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=4,
            max_overflow=4,
            # A server that is down must fail the operation, not hang it.
            connect_args={"connect_timeout": int(BUSY_TIMEOUT_S)}
            if parsed.get_backend_name() == "postgresql"
            else {},
        )
    except (ImportError, ArgumentError) as error:
        raise StoreError(
            f"cannot use the database URL {parsed.render_as_string()}: {error}; is its "
            "database driver installed?"
        ) from error


def database_error(where: str, error: SQLAlchemyError) -> StoreError:
    """A ``StoreError`` naming the database, for an error raised by SQLAlchemy."""
    reason = error.orig if isinstance(error, DBAPIError) else error
    return StoreError(f"database error on {where}: {reason}")


def run_select() -> Any:
    """``SELECT runs.*, <number of snapshots>`` for building ``RunRecord``s."""
    count = (
        select(func.count())
        .select_from(schema.snapshots)
        .where(schema.snapshots.c.run_id == schema.runs.c.id)
        .scalar_subquery()
        .label("num_snapshots")
    )
    return select(schema.runs, count)


class StoreBase:
    """State and helpers shared by the parts of ``Store``; not used on its own."""

    root: Path
    url: str
    _engine: Engine
    _where: str
    _pid: int

    def _connect(self) -> Connection:
        """A pooled connection of this process."""
        if os.getpid() != self._pid:
            # A forked child must not use the connections its parent pooled (SQLite and
            # network drivers both break): drop them without closing the parent's.
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        return self._engine.connect()

    @property
    def _postgres(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for reads; its snapshot of the database is consistent."""
        try:
            with self._connect() as conn:
                if self._postgres:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                yield conn
        except SQLAlchemyError as error:
            raise database_error(self._where, error) from error

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection inside a write transaction, committed at the end of the block."""
        try:
            with self._connect() as conn:
                conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
                with conn.begin():
                    if self._postgres:
                        # Taken before any read, so that the transaction's statements see
                        # every write committed before it (READ COMMITTED).
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY}
                        )
                    yield conn
        except SQLAlchemyError as error:
            raise database_error(self._where, error) from error

    def _run_path(self, run_id: str) -> Path:
        """The directory of a run, after checking the id format; nothing is created."""
        return self.root / "runs" / check_run_id(run_id)

    def _fetch_run(self, conn: Connection, run_id: str) -> RunRecord:
        """Read one run, or raise ``NotFound``."""
        row = conn.execute(run_select().where(schema.runs.c.id == check_run_id(run_id))).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return run_from_row(row._mapping)

    def _require_run(self, conn: Connection, run_id: str) -> str:
        """Return the status of a run, or raise ``NotFound``."""
        status = conn.execute(
            select(schema.runs.c.status).where(schema.runs.c.id == check_run_id(run_id))
        ).scalar()
        if status is None:
            raise NotFound(f"no run with id {run_id!r}")
        return str(status)

    def _compact_run_events(self, conn: Connection, run_id: str) -> None:
        """Drop a run's progress events but its last one (see ``EventsMixin``)."""
        raise NotImplementedError

    def _append_event(
        self, conn: Connection, run_id: str, kind: str, payload: Mapping[str, Any]
    ) -> int:
        """Insert an event in the current transaction and return its id."""
        result = conn.execute(
            schema.events.insert().values(
                run_id=run_id,
                kind=kind,
                payload=dumps(dict(payload), "payload"),
                created_at=utcnow(),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])
