"""Killing processes mid-run: a worker at a random moment, or the whole server.

Shared by ``test_crashes.py`` (a few kills) and ``bench/adversarial.py`` (fifty). What
must hold after every kill: no run is left ``running``, and every snapshot the store
lists can be read whole, arrays and weights.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from convscope.store import Store

#: Long enough (thousands of steps) to be caught anywhere: loading, building, training,
#: writing a snapshot.
LONG_RUN = {
    "dataset": "digits",
    "arch": "small_cnn",
    "epochs": 100,
    "train_size": 300,
    "batch_size": 16,
    "probe_size": 50,
}
FINISHED = {"done", "failed", "cancelled", "interrupted"}


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def check_snapshots_whole(store: Store, run_id: str) -> int:
    """Read every listed snapshot of a run whole; returns how many there are."""
    snapshots = store.list_snapshots(run_id)
    for record in snapshots:
        arrays = store.snapshot_arrays(run_id, record.index)
        assert {"logits", "positions", "confusion"} <= set(arrays), record.index
        assert arrays["logits"].shape[0] == LONG_RUN["probe_size"]
        if record.has_weights:
            weights = store.snapshot_weights_path(run_id, record.index)
            assert weights is not None and weights.stat().st_size > 0
    return len(snapshots)


@dataclass
class Kill:
    """One worker killed: when, what its run became, and how many snapshots it kept."""

    delay_s: float
    status: str
    snapshots: int


def kill_worker_at_random(
    client: httpx.Client, store: Store, worker_pids: Callable[[], list[int]], rng: random.Random
) -> Kill:
    """Start a long run, kill its worker with SIGKILL at a random moment, check the store.

    Args:
        client: An HTTP client of the server.
        store: The server's store.
        worker_pids: The live workers' process ids.
        rng: Draws the moment of the kill.

    Returns:
        What happened.
    """
    wait_until(lambda: len(worker_pids()) == 1, 120, "a worker")
    run_id = client.post("/api/runs", json=LONG_RUN).json()["id"]
    run = wait_until(
        lambda: (r := store.get_run(run_id)).status == "running" and r.worker_pid and r,
        120,
        "the run to start",
    )
    delay = rng.uniform(0.0, 6.0)
    time.sleep(delay)
    os.kill(run.worker_pid, signal.SIGKILL)  # type: ignore[union-attr, arg-type]
    final = wait_until(
        lambda: (r := store.get_run(run_id)).status in FINISHED and r, 60, "the run to stop"
    )
    return Kill(delay, final.status, check_snapshots_whole(store, run_id))  # type: ignore[union-attr]
