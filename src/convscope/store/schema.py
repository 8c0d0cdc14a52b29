"""The database schema, its version, and the migrations from older versions.

JSON values live in TEXT columns (``json.dumps``) so that the same schema works on SQLite
and PostgreSQL. Datetimes are stored in UTC and come back timezone-aware.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection

from convscope.errors import StoreError

#: Version of the schema that this code writes. Bump it and add a migration together.
SCHEMA_VERSION = 2


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored in UTC that is always timezone-aware in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; give a timezone-aware one")
        value = value.astimezone(UTC)
        # SQLite has no timezone type: keep the UTC wall time, re-attached on the way out.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    # An integer sequence gives a creation order that does not depend on clock resolution.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(12), nullable=False, unique=True),
    Column("name", String(200)),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("config", Text, nullable=False),
    Column("class_names", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("final_metrics", Text),
    Column("error", Text),
    Column("versions", Text),
    Column("worker_pid", Integer),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("progress", Text),
    # The sweep the run belongs to (version 2); no foreign key, so that the column can be
    # added by ALTER TABLE on SQLite too.
    Column("sweep_id", String(12)),
    Index("ix_runs_status_seq", "status", "seq"),
    Index("ix_runs_sweep_id", "sweep_id"),
)

sweeps = Table(
    "sweeps",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(12), nullable=False, unique=True),
    Column("name", String(200)),
    Column("spec", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Runs stopped early by the sweep's rule, a JSON object {run id: reason}.
    Column("stopped", Text, nullable=False, default="{}"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("run_id", String(12), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    # "index" is an SQL keyword and a ColumnCollection method: the column is "idx".
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("epoch", Double, nullable=False),
    Column("step", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("has_weights", Boolean, nullable=False, default=False),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(12), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("step", Integer, nullable=False),
    Column("epoch", Double, nullable=False),
    Column("loss", Double),
    Column("accuracy", Double),
    Index("ix_batches_run_step", "run_id", "step"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(12), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_events_run_id", "run_id", "id"),
    # AUTOINCREMENT: ids are never reused after deletes, so a resumed stream misses nothing.
    sqlite_autoincrement=True,
)

Migration = Callable[[Connection], None]


def _add_sweeps(conn: Connection) -> None:
    """Version 2: the ``sweeps`` table, and ``runs.sweep_id``."""
    sweeps.create(conn)
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN sweep_id VARCHAR(12)")
    conn.exec_driver_sql("CREATE INDEX ix_runs_sweep_id ON runs (sweep_id)")


#: ``MIGRATIONS[v]`` upgrades a database from version ``v - 1`` to version ``v``.
MIGRATIONS: dict[int, Migration] = {2: _add_sweeps}

_VERSION_KEY = "schema_version"


def read_schema_version(conn: Connection) -> int | None:
    """The schema version recorded in the database, or None if it has no ``meta`` table."""
    if not inspect(conn).has_table("meta"):
        return None
    value = conn.execute(select(meta.c.value).where(meta.c.key == _VERSION_KEY)).scalar()
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as error:
        raise StoreError(f"the database records an invalid schema version {value!r}") from error


def ensure_schema(
    conn: Connection,
    *,
    where: str,
    target: int | None = None,
    migrations: Mapping[int, Migration] | None = None,
) -> int:
    """Create the tables of an empty database, or migrate an older one, inside ``conn``.

    Args:
        conn: A connection inside a write transaction.
        where: The database location, named in error messages.
        target: The version to reach; defaults to ``SCHEMA_VERSION``.
        migrations: Steps by target version; defaults to ``MIGRATIONS``.

    Returns:
        The schema version of the database afterwards.

    Raises:
        StoreError: The database was written by a newer convscope, lacks a migration step,
            or holds convscope tables without a recorded version.
    """
    target = SCHEMA_VERSION if target is None else target
    steps: Mapping[int, Any] = MIGRATIONS if migrations is None else migrations
    version = read_schema_version(conn)
    if version is None:
        existing = set(inspect(conn).get_table_names()) & set(metadata.tables)
        if existing:
            raise StoreError(
                f"the database {where} has tables {sorted(existing)} but no schema version; "
                "it was not created by convscope, or is damaged"
            )
        metadata.create_all(conn)
        conn.execute(meta.insert().values(key=_VERSION_KEY, value=str(target)))
        return target
    if version > target:
        raise StoreError(
            f"the database {where} has schema version {version}, newer than the version "
            f"{target} this convscope knows; upgrade convscope to open it"
        )
    for step_version in range(version + 1, target + 1):
        step = steps.get(step_version)
        if step is None:
            raise StoreError(
                f"no migration to schema version {step_version} for the database {where}"
            )
        step(conn)
        conn.execute(update(meta).where(meta.c.key == _VERSION_KEY).values(value=str(step_version)))
    return target
