"""The same sweep on the two executors: local worker processes against a local Ray instance.

A sweep of 8 short ``digits`` runs (small_cnn, 2 epochs, seeds 0-7) is queued in a fresh
store and trained by the local executor with 2 worker processes, then by a local Ray
instance with 2 CPUs (one run per CPU), in one run of this script. Both executors are
started and warmed up first (Keras imported in their workers), so the figure compares how
they schedule and run the work; their start-up times are printed apart. Goal: Ray within
1.3x of the local executor.

    python bench/executors.py [--runs 8] [--epochs 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from convscope.config import Settings
from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.jobs import make_executor

WORKERS = 2
GOAL = 1.3


def sweep_seconds(kind: str, runs: int, epochs: int) -> tuple[float, float, list[str]]:
    """Start an executor of ``kind``, train the sweep, stop it.

    Returns:
        Start-up seconds (until warm), sweep seconds (queue to last run finished), and
        the final status of each run.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-", dir="/tmp"))
    store = Store(folder / "store")
    settings = Settings(store_dir=store.root, workers=WORKERS, executor=kind)
    options = {"_temp_dir": str(folder / "ray"), "log_to_driver": False} if kind == "ray" else None
    executor = make_executor(settings, store, ray_init_options=options)
    try:
        started = time.perf_counter()
        executor.start()
        assert executor.wait_ready(600), f"the {kind} executor did not get ready"
        startup = time.perf_counter() - started
        configs = [
            RunConfig(
                dataset="digits", arch="small_cnn", epochs=epochs, seed=seed, probe_size=200
            ).to_json_dict()
            for seed in range(runs)
        ]
        queued = time.perf_counter()
        sweep = store.create_sweep(
            {"parameters": {"seed": list(range(runs))}}, configs, source="cli"
        )
        while True:
            statuses = [run.status for run in store.sweep_runs(sweep.id)]
            if all(status not in ("queued", "running") for status in statuses):
                break
            time.sleep(0.1)
        return startup, time.perf_counter() - queued, statuses
    finally:
        executor.stop()
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(
        f"executors: {args.runs} digits runs (small_cnn, {args.epochs} epochs), {WORKERS} at a time"
    )
    totals: dict[str, list[float]] = {"local": [], "ray": []}
    for round_number in range(1, args.rounds + 1):
        for kind in ("local", "ray"):
            startup, seconds, statuses = sweep_seconds(kind, args.runs, args.epochs)
            assert statuses == ["done"] * args.runs, statuses
            totals[kind].append(seconds)
            print(
                f"  round {round_number} {kind:>5}: start-up {startup:5.1f} s, "
                f"sweep {seconds:6.1f} s ({args.runs / seconds * 60:.1f} runs/min)"
            )
    local, ray = min(totals["local"]), min(totals["ray"])
    ratio = ray / local
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"ray / local sweep time: {ratio:.2f}x ({verdict} the goal of <= {GOAL}x)")


if __name__ == "__main__":
    main()
