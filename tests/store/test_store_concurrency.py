"""Several processes writing one store at once (workers, a notebook, the server): nothing is
lost, and a reader that follows the event log as the server does misses no event."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np

from convscope.store import Store

WRITERS = 4
SNAPSHOTS = 4
EVENTS_PER_SNAPSHOT = 5


def _write_one_run(root: str, url: str | None, writer: int, start: object) -> str:
    """Create a run and write its whole life (runs in a spawned process)."""
    store = Store(root, url=url)
    try:
        start.wait()  # type: ignore[attr-defined]
        run_id = store.create_run({"writer": writer}, source="notebook", status="running").id
        for index in range(SNAPSHOTS):
            for n in range(EVENTS_PER_SNAPSHOT):
                store.add_event(run_id, "progress", {"writer": writer, "n": n})
            store.add_batches(
                run_id, [(index * 10 + k, index + k / 10, 1.0, 0.5) for k in range(3)]
            )
            store.add_snapshot(
                run_id,
                index,
                epoch=index + 1,
                step=(index + 1) * 10,
                metrics={"val_accuracy": writer / 10 + index / 100},
                arrays={"logits": np.full((8, 3), writer * 100 + index, np.float32)},
            )
        store.set_status(run_id, "done")
        return run_id
    finally:
        store.close()


def test_parallel_writer_processes_lose_nothing(store: Store) -> None:
    context = multiprocessing.get_context("spawn")
    seen: list[int] = []
    writers_done = threading.Event()

    def follow() -> None:
        # What the server's event hub does: page through the log after the last id seen.
        last = store.last_event_id()
        while True:
            done = writers_done.is_set()
            page = store.events_after(None, last, limit=50)
            seen.extend(event.id for event in page)
            if page:
                last = page[-1].id
            elif done:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    try:
        with context.Manager() as manager:
            start = manager.Event()
            with context.Pool(WRITERS) as pool:
                pending = [
                    pool.apply_async(_write_one_run, (str(store.root), store.url, w, start))
                    for w in range(WRITERS)
                ]
                start.set()
                run_ids = [result.get(timeout=300) for result in pending]
    finally:
        writers_done.set()
        reader.join(timeout=180)

    assert len(set(run_ids)) == WRITERS
    for writer, run_id in enumerate(run_ids):
        run = store.get_run(run_id)
        assert run.status == "done" and run.num_snapshots == SNAPSHOTS
        for snapshot in store.list_snapshots(run_id):
            logits = store.snapshot_arrays(run_id, snapshot.index)["logits"]
            assert np.all(logits == writer * 100 + snapshot.index)
        assert len(store.batches(run_id)["step"]) == SNAPSHOTS * 3
        events = store.events_after(run_id, 0, limit=1000)
        kinds = [event.kind for event in events]
        # running -> done is one status event; the creation as "running" logs none. Once
        # the run is done its progress events are dropped but the last one written.
        assert kinds.count("snapshot") == SNAPSHOTS and kinds.count("status") == 1
        progress = [event for event in events if event.kind == "progress"]
        assert len(progress) == 1 and progress[0].payload["n"] == EVENTS_PER_SNAPSHOT - 1
    every_id = [event.id for event in store.events_after(None, 0, limit=5000)]
    assert len(every_id) == WRITERS * (SNAPSHOTS + 2)
    # The follower saw events once each, in order, and none that is kept escaped it: none
    # was committed behind its back.
    assert seen == sorted(set(seen))
    assert set(every_id) <= set(seen)
