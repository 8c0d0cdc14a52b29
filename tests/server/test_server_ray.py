"""Training through a real local Ray instance (2 CPUs) behind a real server: runs become Ray
tasks, cancel reaches them, a killed task interrupts its run and keeps its snapshots, and
calls are computed on the cluster."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator

import numpy as np
import pytest
from server_helpers import LiveServer, live_server, wait_for

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.training.ray_executor import RayExecutor

pytestmark = pytest.mark.slow

LONG = {
    "dataset": "digits",
    "arch": "small_cnn",
    "epochs": 200,
    "train_size": 1000,
    "batch_size": 8,
    "probe_size": 100,
}
FINISHED = {"done", "failed", "cancelled", "interrupted"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose executor is a local Ray instance with 2 CPUs (2 runs at once)."""
    store_dir = tmp_path_factory.mktemp("ray") / "store"
    # Ray's socket paths must stay short: its session folder goes under /tmp directly.
    ray_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    app = create_app(
        Settings(store_dir=store_dir, workers=2, executor="ray"),
        ray_init_options={"_temp_dir": ray_dir, "log_to_driver": False},
    )
    try:
        with live_server(app) as live:
            executor: RayExecutor = app.state.executor
            assert executor.kind == "ray"
            assert executor.wait_ready(timeout=180), "the Ray workers did not start"
            yield live
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)


def run_status(server: LiveServer, run_id: str) -> dict:
    response = server.client.get(f"/api/runs/{run_id}")
    assert response.status_code == 200
    return response.json()


def wait_status(server: LiveServer, run_id: str, statuses: set[str], timeout: float) -> dict:
    return wait_for(  # type: ignore[return-value]
        lambda: (run := run_status(server, run_id))["status"] in statuses and run,
        timeout=timeout,
        what=f"run {run_id} to be {statuses}",
    )


def wait_training(server: LiveServer, run_id: str) -> dict:
    """Wait until the run trains and has recorded its first snapshot."""
    return wait_for(  # type: ignore[return-value]
        lambda: (
            (run := run_status(server, run_id))["status"] == "running"
            and run["num_snapshots"] >= 1
            and run
        ),
        timeout=180,
        what=f"run {run_id} to record a snapshot",
    )


def test_two_runs_on_ray_one_cancelled_one_killed(server: LiveServer) -> None:
    health = server.client.get("/api/health").json()
    assert health["executor"] == "ray" and health["workers"] == 2
    store = server.app.state.store
    first, second = (server.client.post("/api/runs", json=LONG).json()["id"] for _ in range(2))
    running = [wait_training(server, first), wait_training(server, second)]
    pids = {run["id"]: store.get_run(run["id"]).worker_pid for run in running}
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()

    # Both slots are busy: a third run waits in the queue, and a cancel removes it.
    third = server.client.post("/api/runs", json=LONG).json()["id"]
    assert run_status(server, third)["queue_position"] == 1
    assert server.client.post(f"/api/runs/{third}/cancel").status_code == 200
    assert run_status(server, third)["status"] == "cancelled"

    # Cancel reaches the first run's task.
    assert server.client.post(f"/api/runs/{first}/cancel").status_code == 200
    assert wait_status(server, first, FINISHED, timeout=60)["status"] == "cancelled"

    # The second run's worker process dies: the run is interrupted, its snapshots stay.
    before = run_status(server, second)["num_snapshots"]
    os.kill(pids[second], signal.SIGKILL)
    killed = wait_status(server, second, FINISHED, timeout=60)
    assert killed["status"] == "interrupted"
    assert "Ray worker" in killed["error"]
    snapshots = server.client.get(f"/api/runs/{second}/snapshots").json()
    assert len(snapshots) >= before >= 1
    detail = server.client.get(f"/api/runs/{second}/snapshots/0").json()
    assert detail["probabilities"]["shape"] == [100, 10]

    # Progress and snapshots flowed back through the store, as for local workers.
    for run_id in (first, second):
        kinds = [event.kind for event in store.events_after(run_id, 0, limit=5000)]
        assert {"status", "progress", "snapshot"} <= set(kinds)
    third_run = store.get_run(third)
    assert third_run.started_at is None and third_run.num_snapshots == 0


def test_calls_are_computed_on_the_cluster(server: LiveServer) -> None:
    executor: RayExecutor = server.app.state.executor
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3) + np.eye(4, 3)
    q, r = executor.submit_call(np.linalg.qr, matrix).result(timeout=60)
    assert np.allclose(q @ r, matrix)
    assert executor.submit_call(os.getpid).result(timeout=60) != os.getpid()
