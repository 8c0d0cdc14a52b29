"""``convscope sweep FILE``: queue a sweep's runs, train them, stop the hopeless ones early,
and print how each did, best first."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from typing import Any

from convscope.config import Settings
from convscope.config_file import read_fields
from convscope.errors import ConvscopeError
from convscope.store import Store, SweepRecord

EXIT_INTERRUPTED = 130
POLL_S = 1.0
READY_TIMEOUT_S = 300.0


def run_sweep(args: argparse.Namespace, store: Store) -> int:
    """Create the sweep of ``args.file`` and, unless ``--no-wait``, train it to the end.

    Args:
        args: The parsed ``convscope sweep`` command line.
        store: The store to queue the runs in.

    Returns:
        The exit code: 0, or 130 after Ctrl-C (running runs interrupted, queued ones
        cancelled, finished snapshots kept).
    """
    from convscope.training.config import check_against_data
    from convscope.training.sweep import SweepSpec, run_configs

    spec = SweepSpec.model_validate(read_fields(args.file, "file"))
    configs, _ = run_configs(spec)
    info = check_against_data(configs[0], args.data_dir)
    sweep = store.create_sweep(
        spec.model_dump(mode="json"),
        [config.to_json_dict() for config in configs],
        source="cli",
        name=spec.name,
        run_names=[config.name for config in configs],
        class_names=info.class_names,
    )
    if args.no_wait:
        _report(store, sweep.id, args.json, queued_only=True)
        return 0
    settings = Settings(
        store_dir=store.root,
        database_url=store.url,
        workers=max(1, args.workers),
        executor=args.executor,
        ray_address=args.ray_address,
        inspection_workers=0,  # nothing to inspect here: no CPU kept for it on Ray
    )
    interrupted = _train(store, sweep, settings, quiet=args.json)
    _report(store, sweep.id, args.json)
    return EXIT_INTERRUPTED if interrupted else 0


def _train(store: Store, sweep: SweepRecord, settings: Settings, *, quiet: bool) -> bool:
    """Train the sweep with an executor of this process; True if Ctrl-C stopped it."""
    from convscope.training.executors import make_executor
    from convscope.training.sweep import EarlyStopper

    executor = make_executor(settings, store)
    stopper = EarlyStopper(store, executor.cancel)
    last_line = ""
    try:
        executor.start()
        executor.wait_ready(READY_TIMEOUT_S)
        while True:
            stopper.check_once()
            runs = store.sweep_runs(sweep.id)
            counts = {
                status: sum(r.status == status for r in runs) for status in ("queued", "running")
            }
            finished = len(runs) - counts["queued"] - counts["running"]
            line = (
                f"sweep {sweep.id}: {finished}/{len(runs)} finished, "
                f"{counts['running']} training, {counts['queued']} queued"
            )
            if line != last_line and not quiet:
                print(line, file=sys.stderr)
                last_line = line
            if finished == len(runs):
                return False
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        for run_id in store.get_sweep(sweep.id).run_ids:
            with contextlib.suppress(ConvscopeError):
                if store.get_run(run_id).status == "queued":
                    store.request_cancel(run_id)
        return True
    finally:
        executor.stop()


def _report(store: Store, sweep_id: str, as_json: bool, *, queued_only: bool = False) -> None:
    sweep = store.get_sweep(sweep_id)
    varied = list(sweep.spec.get("parameters", {}))
    rows: list[dict[str, Any]] = []
    for run in store.sweep_runs(sweep_id):
        snapshots = store.list_snapshots(run.id) if run.num_snapshots else []
        accuracy = snapshots[-1].metrics.get("val_accuracy") if snapshots else None
        if accuracy is not None and not math.isfinite(accuracy):
            accuracy = None
        rows.append(
            {
                "run_id": run.id,
                "status": run.status,
                "values": {field: run.config.get(field) for field in varied},
                "final_accuracy": accuracy,
                "stopped_early": sweep.stopped.get(run.id),
            }
        )
    rows.sort(key=lambda row: -1.0 if row["final_accuracy"] is None else -row["final_accuracy"])
    if as_json:
        print(json.dumps({"sweep_id": sweep_id, "store": str(store.root), "runs": rows}))
        return
    from convscope.cli_format import sweep_table

    sweep_table(sweep_id, varied, rows, queued_only=queued_only)
