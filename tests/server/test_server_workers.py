"""Training in spawned worker processes, behind a real server: the queue, cancel, delete,
a worker killed mid-run, and shutdown. Runs use the real trainer on scikit-learn digits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import LiveServer, free_port, live_server, wait_for

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.routes import runs as runs_routes
from convscope.training.jobs import WorkerPool

pytestmark = pytest.mark.slow

TINY = {
    "dataset": "digits",
    "arch": "small_cnn",
    "epochs": 1,
    "train_size": 300,
    "probe_size": 100,
}
# Long enough (tens of thousands of steps) to be caught in the middle.
LONG = {**TINY, "epochs": 200, "train_size": 1000, "batch_size": 8}
FINISHED = {"done", "failed", "cancelled", "interrupted"}


def alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with one real worker, shared by the tests of this module."""
    store_dir = tmp_path_factory.mktemp("workers") / "store"
    app = create_app(Settings(store_dir=store_dir, workers=1), start_workers=True)
    with live_server(app) as live:
        pool: WorkerPool = app.state.pool
        assert pool.wait_ready(timeout=120), "the worker did not start"
        yield live
        pids = pool.pids()
    assert pids and not any(alive(pid) for pid in pids), "a worker outlived the server"


def run_status(server: LiveServer, run_id: str) -> dict:
    response = server.client.get(f"/api/runs/{run_id}")
    assert response.status_code == 200
    return response.json()


def wait_status(server: LiveServer, run_id: str, statuses: set[str], timeout: float) -> dict:
    """Poll the run until its status is one of ``statuses``."""
    return wait_for(  # type: ignore[return-value]
        lambda: (run := run_status(server, run_id))["status"] in statuses and run,
        timeout=timeout,
        what=f"run {run_id} to be {statuses}",
    )


def start_long_run(server: LiveServer) -> dict:
    """Queue a long run and wait until it is training and has its first snapshot."""
    run_id = server.client.post("/api/runs", json=LONG).json()["id"]
    return wait_for(  # type: ignore[return-value]
        lambda: (
            (run := run_status(server, run_id))["status"] == "running"
            and run["num_snapshots"] >= 1
            and run
        ),
        timeout=120,
        what="the long run to record a snapshot",
    )


def test_worker_trains_a_queued_run(server: LiveServer) -> None:
    assert server.client.get("/api/health").json()["workers"] == 1
    response = server.client.post("/api/runs", json={**TINY, "name": "tiny"})
    assert response.status_code == 201
    run_id = response.json()["id"]
    run = wait_status(server, run_id, FINISHED, timeout=120)
    assert run["status"] == "done", run["error"]
    assert run["num_snapshots"] >= 1
    assert run["final_metrics"]["val_accuracy"] is not None
    assert run["started_at"] and run["finished_at"]
    snapshots = server.client.get(f"/api/runs/{run_id}/snapshots").json()
    assert len(snapshots) == run["num_snapshots"]
    detail = server.client.get(f"/api/runs/{run_id}/snapshots/{snapshots[-1]['index']}").json()
    assert detail["probabilities"]["shape"] == [100, 10]
    assert len(detail["layers"]) > 2
    assert server.client.get(f"/api/runs/{run_id}/probe").json()["count"] == 100
    timeline = server.client.get(f"/api/runs/{run_id}/timeline").json()
    assert timeline["correct"]["shape"] == [len(snapshots), 100]
    kinds = [e.kind for e in server.app.state.store.events_after(run_id, 0)]
    assert kinds[0] == "status" and kinds[-1] == "status"
    assert {"progress", "snapshot"} <= set(kinds)


def test_cancel_stops_a_running_run(server: LiveServer) -> None:
    run = start_long_run(server)
    response = server.client.post(f"/api/runs/{run['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "running"  # it stops after the current batch
    cancelled = wait_status(server, run["id"], FINISHED, timeout=30)
    assert cancelled["status"] == "cancelled"
    assert server.client.post(f"/api/runs/{run['id']}/cancel").status_code == 409


def test_delete_of_a_running_run_stops_it_and_removes_its_files(server: LiveServer) -> None:
    pool: WorkerPool = server.app.state.pool
    run = start_long_run(server)
    workers = pool.pids()
    run_dir = server.app.state.store.run_dir(run["id"])
    assert run_dir.is_dir()
    assert server.client.delete(f"/api/runs/{run['id']}").status_code == 204
    assert server.client.get(f"/api/runs/{run['id']}").status_code == 404
    assert not run_dir.exists()
    assert pool.pids() == workers  # the worker stopped the run itself and lives on
    # The worker goes back to the queue: a new run is picked up.
    queued = server.client.post("/api/runs", json=LONG).json()["id"]
    wait_status(server, queued, {"running"}, timeout=30)
    assert server.client.delete(f"/api/runs/{queued}").status_code == 204


def test_killed_worker_interrupts_its_run_and_is_replaced(server: LiveServer) -> None:
    pool: WorkerPool = server.app.state.pool
    run = start_long_run(server)
    [pid] = pool.pids()
    assert server.app.state.store.get_run(run["id"]).worker_pid == pid
    os.kill(pid, signal.SIGKILL)
    interrupted = wait_status(server, run["id"], FINISHED, timeout=30)
    assert interrupted["status"] == "interrupted"
    assert "SIGKILL" in interrupted["error"]
    # Every snapshot recorded before the kill is intact.
    snapshots = server.client.get(f"/api/runs/{run['id']}/snapshots").json()
    assert len(snapshots) >= 1
    first = server.client.get(f"/api/runs/{run['id']}/snapshots/0")
    assert first.status_code == 200
    assert first.json()["probabilities"]["shape"] == [100, 10]
    # A fresh worker takes over, and the server kept serving throughout.
    wait_for(lambda: pool.pids() and pool.pids() != [pid], timeout=30, what="a new worker")
    assert server.client.get("/api/health").json()["workers"] == 1
    next_run = server.client.post("/api/runs", json=TINY).json()["id"]
    assert wait_status(server, next_run, FINISHED, timeout=120)["status"] == "done"


def test_stuck_worker_is_replaced_on_delete_and_stopped_on_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_routes, "DELETE_WAIT_S", 0.5)
    app = create_app(
        Settings(store_dir=tmp_path / "store", workers=1),
        start_workers=True,
        trainer="server_helpers:stuck_trainer",
    )
    with live_server(app) as server:
        pool: WorkerPool = app.state.pool
        assert pool.wait_ready(timeout=60)
        [first_pid] = pool.pids()
        stuck = server.client.post("/api/runs", json=TINY).json()["id"]
        wait_status(server, stuck, {"running"}, timeout=30)
        # The trainer ignores the cancel request: DELETE stops the worker itself.
        assert server.client.delete(f"/api/runs/{stuck}").status_code == 204
        assert server.client.get(f"/api/runs/{stuck}").status_code == 404
        assert not alive(first_pid)
        assert pool.wait_ready(timeout=60)
        [second_pid] = pool.pids()
        assert second_pid != first_pid
        held = server.client.post("/api/runs", json=TINY).json()["id"]
        wait_status(server, held, {"running"}, timeout=30)
    # Shutdown stopped the worker; the run it held is interrupted, not left running.
    assert not alive(second_pid)
    assert app.state.store.get_run(held).status == "interrupted"


def test_a_run_that_breaks_keras_does_not_break_the_next_one(tmp_path: Path) -> None:
    app = create_app(
        Settings(store_dir=tmp_path / "store", workers=1),
        start_workers=True,
        trainer="server_helpers:poisoning_trainer",
    )
    with live_server(app) as server:
        pool: WorkerPool = app.state.pool
        assert pool.wait_ready(timeout=120), "the worker did not start"
        [worker] = pool.pids()
        poison = server.client.post("/api/runs", json={**TINY, "name": "poison"}).json()["id"]
        failed = wait_status(server, poison, FINISHED, timeout=60)
        assert failed["status"] == "failed"
        assert "not a valid root scope name" in failed["error"]
        # The same worker process trains the next run, from a clean Keras state.
        after = server.client.post("/api/runs", json=TINY).json()["id"]
        run = wait_status(server, after, FINISHED, timeout=120)
        assert run["status"] == "done", run["error"]
        assert pool.pids() == [worker]


def children_of(pid: int) -> set[int]:
    """Child process ids of ``pid`` (Linux /proc)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.update(int(child) for child in text)
    return children


def test_python_m_convscope_server_runs_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "convscope.server", "--port", str(port)]
    command += ["--store", str(tmp_path / "store"), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:

        def health() -> dict | None:
            try:
                return httpx.get(f"{url}/api/health", timeout=5).json()
            except httpx.TransportError:
                assert process.poll() is None, log_path.read_text()
                return None

        wait_for(lambda: (h := health()) and h["workers"] == 1, timeout=60, what="the server")
        children = children_of(process.pid)
        assert children  # the worker (and multiprocessing's resource tracker)
        run_id = httpx.post(f"{url}/api/runs", json=LONG, timeout=10).json()["id"]
        # An open event stream must not hold the shutdown up.
        with httpx.stream("GET", f"{url}/api/runs/{run_id}/events", timeout=30) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith(": connected"))
            process.send_signal(signal.SIGINT)
            # The server ends the stream: reading it to its end returns (the client's
            # 30 s timeout would fail the test otherwise).
            rest = list(lines)
            assert all(not line.startswith("event:") for line in rest)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text()
    assert process.returncode == 0, output
    assert url in output
    assert "timeout graceful shutdown exceeded" not in output
    wait_for(lambda: not any(alive(child) for child in children), timeout=10, what="children")
