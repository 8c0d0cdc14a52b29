"""Runs: creation, reading, the state machine, cancellation, updates, deletion."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import text

from convscope.errors import InvalidInput, InvalidTransition, NotFound
from convscope.store import FINISHED, Store

ALL_STATUSES = ["queued", "running", "done", "failed", "cancelled", "interrupted"]
ALLOWED = {
    ("queued", "running"),
    ("queued", "cancelled"),
    ("queued", "failed"),
    ("running", "done"),
    ("running", "failed"),
    ("running", "cancelled"),
    ("running", "interrupted"),
}


def _run_in(store: Store, status: str) -> str:
    """A run brought to ``status`` through allowed transitions."""
    run = store.create_run({"seed": 0}, source="cli")
    if status != "queued":
        store.set_status(run.id, "running")
    if status not in ("queued", "running"):
        store.set_status(run.id, status)
    return run.id


def test_create_get_and_list(store: Store) -> None:
    before = datetime.now(UTC)
    first = store.create_run(
        {"dataset": "digits", "lr": 0.01}, source="cli", name="first", class_names=["a", "b"]
    )
    second = store.create_run({"dataset": "shapes"}, source="web")
    assert re.fullmatch(r"[0-9a-f]{12}", first.id) and first.id != second.id
    assert first.status == "queued" and first.source == "cli" and first.name == "first"
    assert first.config == {"dataset": "digits", "lr": 0.01}
    assert first.class_names == ["a", "b"]
    assert first.created_at.tzinfo is not None and first.created_at >= before
    assert first.started_at is None and first.finished_at is None
    assert first.num_snapshots == 0 and first.cancel_requested is False
    assert first.progress is None and first.worker_pid is None
    assert store.get_run(first.id) == first
    assert [r.id for r in store.list_runs()] == [second.id, first.id]


def test_create_running_notebook_run_sets_started_at(store: Store) -> None:
    run = store.create_run({}, source="notebook", status="running")
    assert run.status == "running" and run.started_at is not None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": "ftp"}, "source"),
        ({"source": "cli", "status": "paused"}, "status"),
        ({"source": "cli", "class_names": "abc"}, "class_names"),
        ({"source": "cli", "name": "x" * 201}, "name"),
    ],
)
def test_create_refuses_bad_input(store: Store, kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        store.create_run({}, **kwargs)
    assert info.value.field == field
    assert store.list_runs() == []


def test_config_must_be_json(store: Store) -> None:
    with pytest.raises(InvalidInput, match="config"):
        store.create_run({"f": object()}, source="cli")


def test_unknown_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_run("0123456789ab")


@pytest.mark.parametrize("old", ALL_STATUSES)
@pytest.mark.parametrize("new", ALL_STATUSES)
def test_state_machine(store: Store, old: str, new: str) -> None:
    run_id = _run_in(store, old)
    assert store.get_run(run_id).status == old
    if (old, new) in ALLOWED:
        run = store.set_status(run_id, new, error="why" if new == "failed" else None)
        assert run.status == new
        assert (run.finished_at is not None) == (new in FINISHED)
        assert (run.started_at is not None) == (new == "running" or old == "running")
        last = store.events_after(run_id, 0)[-1]
        assert last.kind == "status"
        assert last.payload == {"status": new, "error": "why" if new == "failed" else None}
    else:
        count = len(store.events_after(run_id, 0))
        with pytest.raises(InvalidTransition):
            store.set_status(run_id, new)
        assert store.get_run(run_id).status == old
        assert len(store.events_after(run_id, 0)) == count


def test_failed_keeps_the_error(store: Store) -> None:
    run_id = _run_in(store, "running")
    assert store.set_status(run_id, "failed", error="out of memory").error == "out of memory"


def test_unknown_status_is_invalid_input(store: Store) -> None:
    run_id = _run_in(store, "queued")
    with pytest.raises(InvalidInput):
        store.set_status(run_id, "exploded")


def test_cancel_queued_run_is_immediate(store: Store) -> None:
    run_id = _run_in(store, "queued")
    run = store.request_cancel(run_id)
    assert run.status == "cancelled" and run.cancel_requested and run.finished_at is not None
    assert store.is_cancel_requested(run_id)
    assert store.claim_next_queued(1) is None


def test_cancel_running_run_is_a_request(store: Store) -> None:
    run_id = _run_in(store, "running")
    assert not store.is_cancel_requested(run_id)
    run = store.request_cancel(run_id)
    assert run.status == "running" and run.cancel_requested
    assert store.is_cancel_requested(run_id)
    assert store.set_status(run_id, "cancelled").status == "cancelled"


def test_cancel_finished_run_changes_nothing(store: Store) -> None:
    run_id = _run_in(store, "done")
    run = store.request_cancel(run_id)
    assert run.status == "done" and not run.cancel_requested


def test_update_run_sets_only_given_fields(store: Store) -> None:
    run = store.create_run({}, source="cli", name="keep")
    store.update_run(run.id, worker_pid=4242)
    updated = store.update_run(
        run.id,
        class_names=["cat", "dog"],
        final_metrics={"accuracy": np.float32(0.5)},
        versions={"keras": "3.14.1"},
        progress={"epoch": 1, "step": 10, "steps_per_epoch": 10, "epochs": 3},
    )
    assert updated.name == "keep" and updated.worker_pid == 4242
    assert updated.class_names == ["cat", "dog"]
    assert updated.final_metrics == {"accuracy": 0.5}
    assert updated.versions == {"keras": "3.14.1"}
    assert updated.progress == {"epoch": 1, "step": 10, "steps_per_epoch": 10, "epochs": 3}
    assert store.update_run(run.id, name="renamed").name == "renamed"
    assert store.update_run(run.id, worker_pid=None).worker_pid is None
    assert store.update_run(run.id) == store.get_run(run.id)


def test_delete_removes_rows_and_directory(store: Store) -> None:
    keep = _run_in(store, "running")
    store.add_event(keep, "log", {"n": 1})
    run_id = _run_in(store, "running")
    store.add_snapshot(run_id, 0, epoch=1.0, step=5, metrics={}, arrays={"a": np.ones(2)})
    store.add_batches(run_id, [(1, 0.1, 1.0, 0.5)])
    store.write_run_file(run_id, "atlas.png", b"png")
    run_dir = store.run_dir(run_id)
    assert run_dir.is_dir()

    store.delete_run(run_id)
    assert not run_dir.exists()
    with pytest.raises(NotFound):
        store.get_run(run_id)
    assert [e.run_id for e in store.events_after(None, 0)] == [keep, keep]
    with store._read() as conn:
        for table in ("snapshots", "batches", "events"):
            count = conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE run_id = :run_id"), {"run_id": run_id}
            ).scalar()
            assert count == 0, table
    assert [r.id for r in store.list_runs()] == [keep]
    with pytest.raises(NotFound):
        store.delete_run(run_id)
