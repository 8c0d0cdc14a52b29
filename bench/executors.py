"""The same work on the two executors: local worker processes against a local Ray instance.

Training: a sweep of 8 short ``digits`` runs (small_cnn, 2 epochs, seeds 0-7) is queued in
a fresh store and trained by the local executor with 2 worker processes, then by a local
Ray instance with 2 CPUs (one run per CPU), in one run of this script. Both executors are
started and warmed up first (Keras imported in their workers), so the figure compares how
they schedule and run the work; their start-up times are printed apart. Goal: Ray within
1.3x of the local executor.

Lenses: the warm latency of lens requests (activations of one probe image, saliency of one
image) in the local inspection worker and in the Ray inspection actor, both started on the
same stored run, warmed with one request each, then asked in turn, request after request.

    python bench/executors.py [--runs 8] [--epochs 2] [--rounds 1] [--lens-requests 100]
                              [--only sweep|lenses]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from convscope.config import Settings
from convscope.inspection.inspector import Inspector
from convscope.inspection.pool import InspectionPool
from convscope.inspection.ray_inspection import RayInspection
from convscope.inspection.requests import LensRequest
from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.executors import make_executor

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
    # No inspection actor here: a local Ray instance then has exactly one CPU per run.
    settings = Settings(store_dir=store.root, workers=WORKERS, executor=kind, inspection_workers=0)
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


def lens_latencies(requests: int) -> dict[str, dict[str, list[float]]]:
    """Train one small run, then time warm lens requests on both inspectors, in turn.

    Returns:
        Seconds per request, by lens then by inspector kind ("local", "ray").
    """
    from convscope.training.runner import create_run, train_run

    folder = Path(tempfile.mkdtemp(prefix="bench-lenses-", dir="/tmp"))
    inspectors: list[Inspector] = []
    try:
        with Store(folder / "store") as store:
            config = RunConfig(dataset="digits", train_size=300, probe_size=60, epochs=1)
            run = train_run(store, create_run(store, config, source="cli").id)
            assert run.status == "done", run.error
            last = len(store.list_snapshots(run.id)) - 1
            probe = store.read_run_arrays(run.id, "probe")["images"]
        image = probe[:1].astype(np.float32)
        lens_requests = {
            "activations": LensRequest(run.id, "activations", (last,), image),
            "saliency": LensRequest(run.id, "saliency", (last,), image),
        }
        settings = Settings(store_dir=folder / "store", workers=0, inspection_workers=1)
        ray_settings = Settings(
            store_dir=folder / "store", workers=0, inspection_workers=1, executor="ray"
        )
        options = {"_temp_dir": str(folder / "ray"), "log_to_driver": False}
        inspectors = [InspectionPool(settings), RayInspection(ray_settings, init_options=options)]
        for inspector in inspectors:
            inspector.start()
        for inspector in inspectors:
            assert inspector.wait_ready(600), f"the {inspector.kind} inspector did not start"
        times: dict[str, dict[str, list[float]]] = {}
        for lens, request in lens_requests.items():
            times[lens] = {inspector.kind: [] for inspector in inspectors}
            for inspector in inspectors:  # warm: the model built, the lens traced
                inspector.run(request)
            for _ in range(requests):
                for inspector in inspectors:
                    started = time.perf_counter()
                    inspector.run(request)
                    times[lens][inspector.kind].append(time.perf_counter() - started)
        return times
    finally:
        for inspector in reversed(inspectors):
            inspector.stop()
        shutil.rmtree(folder, ignore_errors=True)


def print_lens_latencies(requests: int) -> None:
    print(f"warm lens latency, {requests} requests each, local worker and Ray actor in turn")
    for lens, by_kind in lens_latencies(requests).items():
        medians = {kind: statistics.median(seconds) for kind, seconds in by_kind.items()}
        p90 = {kind: np.percentile(seconds, 90) for kind, seconds in by_kind.items()}
        print(
            f"  {lens:>12}: local median {medians['local'] * 1e3:6.1f} ms "
            f"(p90 {p90['local'] * 1e3:6.1f}), Ray median {medians['ray'] * 1e3:6.1f} ms "
            f"(p90 {p90['ray'] * 1e3:6.1f}): ray / local {medians['ray'] / medians['local']:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--lens-requests", type=int, default=100)
    parser.add_argument("--only", choices=["sweep", "lenses"], default=None)
    args = parser.parse_args()
    if args.only != "sweep":
        print_lens_latencies(args.lens_requests)
    if args.only == "lenses":
        return
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
