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
