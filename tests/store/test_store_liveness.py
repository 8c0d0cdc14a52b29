"""A run whose training process died is found interrupted by whoever reads it next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from convscope.processes import process_exists, process_is_gone, this_host
from convscope.store import SCHEMA_VERSION, Store

NEVER_ALIVE = 2**22 + 12345


def _running(store: Store, pid: int, host: str | None = None) -> str:
    run_id = store.create_run({}, source="notebook", status="running").id
    store.update_run(run_id, worker_pid=pid, worker_host=host)
    return run_id


def test_process_checks() -> None:
    assert process_exists(os.getpid()) and not process_exists(NEVER_ALIVE)
    assert not process_exists(None) and not process_exists(2**70)
    assert process_is_gone(NEVER_ALIVE, this_host())
    assert not process_is_gone(os.getpid(), this_host())
    assert not process_is_gone(NEVER_ALIVE, "another-machine")
    assert not process_is_gone(None, this_host())


def test_a_run_whose_process_was_killed_is_interrupted_when_read(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run_id = _running(store, child.pid)
    assert store.get_run(run_id).worker_host == this_host()
    assert store.get_run(run_id).status == "running"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)

    run = store.get_run(run_id)
    assert run.status == "interrupted" and run.finished_at is not None
    assert f"pid {child.pid}" in (run.error or "")
    kinds = [(e.kind, e.payload["status"]) for e in store.events_after(run_id, 0)]
    assert kinds[-1] == ("status", "interrupted") and kinds.count(kinds[-1]) == 1


def test_listing_runs_marks_only_dead_processes_of_this_machine(store: Store) -> None:
    dead = _running(store, NEVER_ALIVE)
    alive = _running(store, os.getpid())
    elsewhere = _running(store, NEVER_ALIVE, host="another-machine")
    unknown = store.create_run({}, source="notebook", status="running").id
    statuses = {run.id: run.status for run in store.list_runs()}
    assert statuses == {
        dead: "interrupted",
        alive: "running",
        elsewhere: "running",
        unknown: "running",
    }
    assert store.update_run(alive, worker_pid=None).worker_host is None


def test_interrupt_runs_of_one_process(store: Store) -> None:
    first = _running(store, NEVER_ALIVE)
    other = _running(store, os.getpid())
    assert store.interrupt_runs_of(NEVER_ALIVE, "the worker process was killed") == [first]
    assert store.interrupt_runs_of(NEVER_ALIVE, "again") == []
    assert store.get_run(first).error == "the worker process was killed"
    assert store.get_run(other).status == "running"


def test_a_version_2_database_gains_the_host_column(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Store(root) as store:
        run_id = _running(store, os.getpid())
    engine = create_engine(f"sqlite:///{root / 'convscope.db'}")
    with engine.begin() as conn:  # the layout version 2 wrote
        conn.execute(text("ALTER TABLE runs DROP COLUMN worker_host"))
        conn.execute(text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    with Store(root) as store:
        run = store.get_run(run_id)
        assert run.worker_pid == os.getpid() and run.worker_host is None
        assert run.status == "running"
        with store._read() as conn:
            version = conn.execute(text("SELECT value FROM meta")).scalar()
        assert int(version) == SCHEMA_VERSION == 3
        store.update_run(run_id, worker_pid=os.getpid())
        assert store.get_run(run_id).worker_host == this_host()
