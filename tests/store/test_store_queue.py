"""The run queue: claims by concurrent workers, positions, orphaned runs."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

from convscope.store import Store

RUNS = 12
WORKERS = 4
#: Made-up worker pids are recorded on another machine, which this one never judges.
ELSEWHERE = "another-machine"
#: Above Linux's largest pid_max: never a live process.
NEVER_ALIVE = 2**22 + 12345


def _claim_until_empty(root: str, url: str | None, worker_pid: int, start: object) -> list[str]:
    """Claim runs until the queue is empty; return their ids (runs in a spawned process)."""
    store = Store(root, url=url)
    try:
        start.wait()  # type: ignore[attr-defined]
        claimed = []
        while (run := store.claim_next_queued(worker_pid, worker_host=ELSEWHERE)) is not None:
            assert run.status == "running" and run.worker_pid == worker_pid
            claimed.append(run.id)
        return claimed
    finally:
        store.close()


def _assert_each_run_claimed_once(store: Store, ids: list[str], claims: list[list[str]]) -> None:
    flat = [run_id for claimed in claims for run_id in claimed]
    assert sorted(flat) == sorted(ids), "every run is claimed exactly once"
    for worker, claimed in enumerate(claims):
        for run_id in claimed:
            run = store.get_run(run_id)
            assert run.status == "running" and run.worker_pid == 1000 + worker
    status_events = [e for e in store.events_after(None, 0) if e.kind == "status"]
    assert len(status_events) == len(ids)


def test_threads_never_claim_the_same_run(store: Store) -> None:
    ids = [store.create_run({"i": i}, source="web").id for i in range(RUNS)]
    start = threading.Barrier(WORKERS)
    claims: list[list[str]] = [[] for _ in range(WORKERS)]

    def work(worker: int) -> None:
        claims[worker] = _claim_until_empty(str(store.root), store.url, 1000 + worker, start)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    _assert_each_run_claimed_once(store, ids, claims)


def test_processes_never_claim_the_same_run(store: Store) -> None:
    ids = [store.create_run({"i": i}, source="web").id for i in range(RUNS)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(2) as pool:
            pending = [
                pool.apply_async(_claim_until_empty, (str(store.root), store.url, 1000 + w, start))
                for w in range(2)
            ]
            start.set()
            claims = [result.get(timeout=240) for result in pending]
    _assert_each_run_claimed_once(store, ids, claims)


def test_claim_takes_the_oldest_queued_run(store: Store) -> None:
    first = store.create_run({}, source="cli").id
    second = store.create_run({}, source="cli").id
    third = store.create_run({}, source="cli").id
    store.request_cancel(first)
    assert store.queue_position(second) == 1 and store.queue_position(third) == 2
    assert store.queue_position(first) is None
    claimed = store.claim_next_queued(77)
    assert claimed is not None and claimed.id == second and claimed.started_at is not None
    assert store.queue_position(second) is None and store.queue_position(third) == 1
    assert store.claim_next_queued(77) is not None
    assert store.claim_next_queued(77) is None


def test_orphans_are_marked_interrupted(store: Store) -> None:
    alive = store.create_run({}, source="cli").id
    dead = store.create_run({}, source="cli").id
    elsewhere = store.create_run({}, source="cli").id
    queued = store.create_run({}, source="cli").id
    notebook = store.create_run({}, source="notebook", status="running").id
    store.claim_next_queued(os.getpid())
    store.claim_next_queued(NEVER_ALIVE)
    store.claim_next_queued(NEVER_ALIVE, worker_host=ELSEWHERE)

    assert store.mark_orphans_interrupted({os.getpid()}) == [dead, notebook]
    assert store.get_run(alive).status == "running"
    for run_id in (dead, notebook):
        run = store.get_run(run_id)
        assert run.status == "interrupted" and run.error and run.finished_at is not None
    assert store.get_run(queued).status == "queued"
    # A process of another machine cannot be checked from here: its run is left alone.
    assert store.get_run(elsewhere).status == "running"
    assert store.mark_orphans_interrupted() == [alive]
    assert store.mark_orphans_interrupted() == []


def test_a_second_store_on_the_same_root_sees_the_same_runs(store: Store, tmp_path: Path) -> None:
    run = store.create_run({}, source="cli")
    with Store(store.root, url=store.url) as other:
        assert other.get_run(run.id) == run
        other.set_status(run.id, "running")
    assert store.get_run(run.id).status == "running"
