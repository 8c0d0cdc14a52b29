"""Opening a store: directories, SQLite settings, schema versions, id checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import inspect, text

from convscope.errors import NotFound, StoreError
from convscope.store import SCHEMA_VERSION, Store
from convscope.store.base import make_engine
from convscope.store.schema import ensure_schema, read_schema_version


def test_default_root_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVSCOPE_STORE", str(tmp_path / "env-store"))
    with Store() as store:
        assert store.root == tmp_path / "env-store"
        assert (store.root / "convscope.db").is_file() and (store.root / "runs").is_dir()
        assert store.url.startswith("sqlite:///")


def test_explicit_url_keeps_arrays_under_root(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with Store(tmp_path / "arrays", url=url) as store:
        run_id = store.create_run({}, source="cli").id
        assert store.url == url and (tmp_path / "elsewhere.db").is_file()
        assert store.run_dir(run_id).parent == tmp_path / "arrays" / "runs"


def test_sqlite_settings_hold_on_every_connection(sqlite_store: Store) -> None:
    store = sqlite_store
    for _ in range(2):
        with store._read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(StoreError, match=r"(?i)foreign key"), store._write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (run_id, kind, payload, created_at) "
            "VALUES ('0123456789ab', 'log', '{}', '2024-01-01 00:00:00')"
        )


def test_unwritable_root_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("a regular file cannot hold a directory")
    with pytest.raises(StoreError, match=re.escape(str(blocker / "store"))):
        Store(blocker / "store")


def test_in_memory_sqlite_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="in-memory"):
        Store(tmp_path, url="sqlite://")


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://x", "postgresql+nodriver://h/db"])
def test_unusable_urls_are_store_errors(tmp_path: Path, url: str) -> None:
    with pytest.raises(StoreError):
        Store(tmp_path, url=url)


def test_a_database_path_that_is_a_directory_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    with pytest.raises(StoreError, match="database error"):
        Store(tmp_path, url=f"sqlite:///{tmp_path / 'db'}")


def test_a_forked_process_does_not_reuse_pooled_connections(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    run_id = store.create_run({}, source="cli").id
    parent_pool = store._engine.pool
    monkeypatch.setattr(os, "getpid", lambda: -1)  # what a forked child sees: another pid
    assert store.get_run(run_id).id == run_id
    assert store._engine.pool is not parent_pool
    child_pool = store._engine.pool
    store.get_run(run_id)
    assert store._engine.pool is child_pool


def _url(root: Path, database_url: str | None) -> str:
    return database_url or f"sqlite:///{root / 'convscope.db'}"


def _execute(root: Path, database_url: str | None, sql: str) -> None:
    engine = make_engine(_url(root, database_url))
    with engine.begin() as conn:
        conn.execute(text(sql))
    engine.dispose()


def test_newer_schema_version_is_refused(tmp_path: Path, database_url: str | None) -> None:
    Store(tmp_path, url=database_url).close()
    _execute(tmp_path, database_url, f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}'")
    with pytest.raises(StoreError, match="newer"):
        Store(tmp_path, url=database_url)


def test_tables_without_a_version_are_refused(tmp_path: Path, database_url: str | None) -> None:
    Store(tmp_path, url=database_url).close()
    _execute(tmp_path, database_url, "DROP TABLE meta")
    with pytest.raises(StoreError, match="no schema version"):
        Store(tmp_path, url=database_url)


def test_reopening_keeps_the_data(tmp_path: Path, database_url: str | None) -> None:
    with Store(tmp_path, url=database_url) as store:
        run = store.create_run({"a": 1}, source="cli")
    with Store(tmp_path, url=database_url) as store:
        assert store.get_run(run.id) == run


def _add_column(conn: Any) -> None:
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN tags TEXT")


def test_older_schema_is_migrated_in_order(tmp_path: Path, database_url: str | None) -> None:
    Store(tmp_path, url=database_url).close()
    applied: list[int] = []

    def step(version: int) -> Callable[[Any], None]:
        def migrate(conn: Any) -> None:
            applied.append(version)
            if version == SCHEMA_VERSION + 1:
                _add_column(conn)

        return migrate

    migrations = {SCHEMA_VERSION + 1: step(SCHEMA_VERSION + 1), SCHEMA_VERSION + 2: step(99)}
    engine = make_engine(_url(tmp_path, database_url))
    with engine.begin() as conn:
        version = ensure_schema(
            conn, where="test", target=SCHEMA_VERSION + 2, migrations=migrations
        )
    assert version == SCHEMA_VERSION + 2 and applied == [SCHEMA_VERSION + 1, 99]
    with engine.connect() as conn:
        assert read_schema_version(conn) == SCHEMA_VERSION + 2
        assert "tags" in {column["name"] for column in inspect(conn).get_columns("runs")}
    engine.dispose()


def test_a_missing_migration_is_a_store_error(tmp_path: Path, database_url: str | None) -> None:
    Store(tmp_path, url=database_url).close()
    engine = make_engine(_url(tmp_path, database_url))
    with pytest.raises(StoreError, match="no migration"), engine.begin() as conn:
        ensure_schema(conn, where="test", target=SCHEMA_VERSION + 1, migrations={})
    with engine.connect() as conn:
        assert read_schema_version(conn) == SCHEMA_VERSION  # rolled back
    engine.dispose()


def _tree(top: Path) -> list[Path]:
    """Every path under ``top``, except the SQLite files that come and go with connections."""
    return sorted(p.relative_to(top) for p in top.rglob("*") if "convscope.db" not in p.name)


MALFORMED_IDS = ["../x", "../../etc", "0123456789AB", "0123456789a", "0123456789abc", "", "x" * 12]
MALFORMED_IDS += ["0123456789ab\n", "/tmp/abcdef"]


@pytest.mark.parametrize("bad", MALFORMED_IDS)
def test_malformed_ids_are_not_found_and_touch_no_path(store: Store, bad: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.get_run(bad),
        lambda: store.set_status(bad, "running"),
        lambda: store.update_run(bad, name="x"),
        lambda: store.request_cancel(bad),
        lambda: store.is_cancel_requested(bad),
        lambda: store.queue_position(bad),
        lambda: store.delete_run(bad),
        lambda: store.run_dir(bad),
        lambda: store.temp_path(bad, ".x"),
        lambda: store.write_run_arrays(bad, "probe", {"a": np.ones(1)}),
        lambda: store.read_run_arrays(bad, "probe"),
        lambda: store.write_run_file(bad, "a.png", b"x"),
        lambda: store.run_file(bad, "a.png"),
        lambda: store.add_snapshot(bad, 0, epoch=0, step=0, metrics={}, arrays={}),
        lambda: store.list_snapshots(bad),
        lambda: store.get_snapshot(bad, 0),
        lambda: store.snapshot_arrays(bad, 0),
        lambda: store.snapshot_weights_path(bad, 0),
        lambda: store.add_batches(bad, [(1, 0.1, 1.0, 1.0)]),
        lambda: store.batches(bad),
        lambda: store.add_event(bad, "log", {}),
        lambda: store.events_after(bad, 0),
        lambda: store.cleanup_temp_files(bad),
    ]
    before = _tree(store.root.parent)
    for call in calls:
        with pytest.raises(NotFound):
            call()
    after = _tree(store.root.parent)
    assert after == before


def test_the_store_does_not_import_keras_or_tensorflow() -> None:
    code = (
        "import sys, convscope.store\n"
        "heavy = [m for m in ('keras', 'tensorflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_long_read_does_not_block_writers(store: Store) -> None:
    run_id = store.create_run({}, source="cli").id
    with store._read() as reader:
        assert reader.exec_driver_sql("SELECT COUNT(*) FROM runs").scalar() == 1
        store.add_event(run_id, "log", {})  # would wait for the busy timeout without WAL
        # The reader keeps its snapshot of the database: it does not see the new row.
        assert reader.exec_driver_sql("SELECT COUNT(*) FROM events").scalar() == 0
    assert len(store.events_after(run_id, 0)) == 1
