"""What one run asks of the store, and what the store can take, on SQLite and PostgreSQL.

1. One run of the playground's default experiment (small_cnn on 10,000 Fashion-MNIST
   images, 3 epochs; ``digits`` where Fashion-MNIST is not installed), trained in this
   process: its database write transactions per second of training, its events, and the
   bytes of array files it leaves.
2. The store's write capacity: 1, then 4 processes appending events as fast as they can, on
   SQLite (the file in a temporary folder) and on a throwaway local PostgreSQL server
   (Debian's ``postgresql``; skipped with a note where it is not installed), side by side.

The two give the number of runs one database keeps up with (docs/scaling.md).

    python bench/store_load.py [--writers 1,4] [--seconds 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from convscope.datasets import dataset_info
from convscope.store import Store

ROOT = Path(__file__).resolve().parents[1]


def measure_one_run(folder: Path) -> None:
    """Train the default experiment and count what it wrote."""
    from convscope.quiet import native_stderr_silenced

    with native_stderr_silenced():
        from convscope.training.config import RunConfig
        from convscope.training.runner import create_run, train_run

    fashion = dataset_info("fashion_mnist").available
    config = RunConfig(
        dataset="fashion_mnist" if fashion else "digits",
        train_size=10_000 if fashion else None,
        test_size=2_000 if fashion else None,
        arch="small_cnn",
        epochs=3,
    )
    store = Store(folder / "one-run")
    writes = 0
    original = Store._write

    def counting_write(self: Store):  # type: ignore[no-untyped-def]
        nonlocal writes
        writes += 1
        return original(self)

    Store._write = counting_write  # type: ignore[method-assign]
    try:
        run = create_run(store, config, source="cli")
        start = time.perf_counter()
        record = train_run(store, run.id)
        seconds = time.perf_counter() - start
    finally:
        Store._write = original  # type: ignore[method-assign]
    events = store.events_after(run.id, 0, limit=5000)
    run_dir = store.run_dir(run.id)
    total = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
    snapshots = sorted((run_dir / "snapshots").glob("*.npz"))
    weights = sum(p.stat().st_size for p in snapshots if p.name.endswith(".weights.npz"))
    arrays = sum(p.stat().st_size for p in snapshots if not p.name.endswith(".weights.npz"))
    count = record.num_snapshots
    print(
        f"one run: {config.dataset}, small_cnn, {config.epochs} epochs, {seconds:.1f} s "
        f"on this machine, status {record.status}"
    )
    print(
        f"  {writes} write transactions ({writes / seconds:.1f} per second of training), "
        f"{len(events)} events ({len(events) / seconds:.1f}/s)"
    )
    print(
        f"  array files: {total / 1e6:.1f} MB in all, {count} snapshots of "
        f"{arrays / max(1, count) / 1e3:.0f} kB arrays + {weights / max(1, count) / 1e3:.0f} kB "
        "weights each"
    )
    store.close()


def _append_events(url: str | None, root: str, seconds: float, start: object) -> int:
    store = Store(root, url=url)
    run_id = store.create_run({}, source="cli", status="running").id
    start.wait()  # type: ignore[attr-defined]
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        store.add_event(run_id, "progress", {"step": count, "loss": 0.5})
        count += 1
    store.close()
    return count


def capacity(name: str, url: str | None, root: Path, writers: int, seconds: float) -> None:
    """Write transactions per second that ``writers`` processes get through together."""
    Store(root, url=url).close()  # the schema, before the writers race to create it
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(writers) as pool:
            pending = [
                pool.apply_async(_append_events, (url, str(root), seconds, start))
                for _ in range(writers)
            ]
            time.sleep(2.0)  # every writer imported and connected
            start.set()
            counts = [result.get(timeout=seconds + 60) for result in pending]
    total = sum(counts)
    print(f"  {name:<11} {total / seconds:8.0f} write transactions/s ({writers} writer processes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", default="1,4", help="numbers of writer processes")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        measure_one_run(folder)
        print("store capacity: small write transactions (one event each)")
        sys.path.insert(0, str(ROOT / "tests"))
        from pg_server import postgres_server

        writer_counts = [int(n) for n in args.writers.split(",")]
        try:
            with postgres_server() as server:
                for writers in writer_counts:
                    capacity("SQLite", None, folder / f"sqlite-{writers}", writers, args.seconds)
                    url = server.create_database()
                    capacity("PostgreSQL", url, folder / f"pg-{writers}", writers, args.seconds)
                print("  (the test server runs without fsync: an upper bound for a real one)")
        except RuntimeError as error:
            print(f"  PostgreSQL: not measured ({error})")
            for writers in writer_counts:
                capacity("SQLite", None, folder / f"sqlite-{writers}", writers, args.seconds)


if __name__ == "__main__":
    main()
