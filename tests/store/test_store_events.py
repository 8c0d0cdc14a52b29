"""The event log: order, paging, filtering, concurrent writers."""

from __future__ import annotations

import threading

import pytest

from convscope.errors import InvalidInput, NotFound
from convscope.store import Store


def test_events_are_ordered_and_paged(store: Store) -> None:
    assert store.last_event_id() == 0
    a = store.create_run({}, source="cli").id
    b = store.create_run({}, source="cli").id
    ids = [store.add_event(a if i % 2 else b, "log", {"i": i}) for i in range(7)]
    assert ids == sorted(ids) and len(set(ids)) == 7
    assert store.last_event_id() == ids[-1]

    everything = store.events_after(None, 0)
    assert [e.payload["i"] for e in everything] == list(range(7))
    assert all(e.kind == "log" and e.created_at.tzinfo is not None for e in everything)

    pages, after = [], 0
    while page := store.events_after(None, after, limit=3):
        pages.append([e.payload["i"] for e in page])
        after = page[-1].id
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]

    assert [e.payload["i"] for e in store.events_after(a, 0)] == [1, 3, 5]
    assert [e.payload["i"] for e in store.events_after(b, ids[2])] == [4, 6]
    assert store.events_after(None, ids[-1]) == []


def test_event_ids_are_not_reused_after_a_delete(store: Store) -> None:
    a = store.create_run({}, source="cli").id
    last = store.add_event(a, "log", {})
    store.delete_run(a)
    b = store.create_run({}, source="cli").id
    assert store.add_event(b, "log", {}) > last


def test_concurrent_writers_get_distinct_increasing_ids(store: Store) -> None:
    run_id = store.create_run({}, source="cli").id
    results: dict[int, list[int]] = {}

    def write(worker: int) -> None:
        results[worker] = [store.add_event(run_id, "log", {"w": worker, "n": n}) for n in range(15)]

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for ids in results.values():
        assert ids == sorted(ids)
    read = [e.id for e in store.events_after(run_id, 0, limit=1000)]
    assert read == sorted(i for ids in results.values() for i in ids)
    assert len(read) == 60


def test_bad_events_are_refused(store: Store) -> None:
    run_id = store.create_run({}, source="cli").id
    for kind in ("", "Status", "a b", "x" * 40):
        with pytest.raises(InvalidInput):
            store.add_event(run_id, kind, {})
    with pytest.raises(InvalidInput):
        store.add_event(run_id, "log", {"x": object()})
    with pytest.raises(NotFound):
        store.add_event("0123456789ab", "log", {})
    assert store.events_after(run_id, 0) == []
    assert store.events_after("0123456789ab", 0) == []


def test_a_finished_run_keeps_only_its_last_progress_event(store: Store) -> None:
    run = store.create_run({}, source="cli").id
    other = store.create_run({}, source="cli").id
    store.set_status(run, "running")
    store.set_status(other, "running")
    progress = [store.add_event(run, "progress", {"step": step}) for step in range(50)]
    store.add_event(run, "snapshot", {"index": 0})
    kept_elsewhere = [store.add_event(other, "progress", {"step": step}) for step in range(3)]
    store.set_status(run, "done")
    kinds = [(e.kind, e.payload.get("step")) for e in store.events_after(run, 0)]
    assert kinds == [
        ("status", None),
        ("progress", 49),
        ("snapshot", None),
        ("status", None),
    ]
    assert [e.id for e in store.events_after(run, 0) if e.kind == "progress"] == [progress[-1]]
    # Another run, still training, keeps every event.
    assert [e.id for e in store.events_after(other, 0) if e.kind == "progress"] == kept_elsewhere


def test_compacting_catches_runs_finished_before(store: Store) -> None:
    from sqlalchemy import update

    from convscope.store import schema

    run = store.create_run({}, source="cli").id
    store.set_status(run, "running")
    for step in range(10):
        store.add_event(run, "progress", {"step": step})
    live = store.create_run({}, source="cli").id
    store.set_status(live, "running")
    store.add_event(live, "progress", {"step": 0})
    store.add_event(live, "progress", {"step": 1})
    # Finished by an older version, which kept every event.
    with store._write() as conn:
        conn.execute(update(schema.runs).where(schema.runs.c.id == run).values(status="done"))
    assert store.compact_finished_events() == 9
    assert [e.payload["step"] for e in store.events_after(run, 0) if e.kind == "progress"] == [9]
    assert len([e for e in store.events_after(live, 0) if e.kind == "progress"]) == 2
    assert store.compact_finished_events() == 0
