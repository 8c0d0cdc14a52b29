"""Workers killed with SIGKILL at random moments, and the server itself killed and
restarted: no snapshot is lost and no run is left ``running``."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

HERE = str(Path(__file__).resolve().parent)
SERVER_TESTS = str(Path(__file__).resolve().parents[1] / "server")
for folder in (HERE, SERVER_TESTS):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from crashes import (  # noqa: E402
    LONG_RUN,
    check_snapshots_whole,
    kill_worker_at_random,
    wait_until,
)
from server_helpers import free_port, live_server  # noqa: E402

from convscope.config import Settings  # noqa: E402
from convscope.server.app import create_app  # noqa: E402
from convscope.store import Store  # noqa: E402

pytestmark = pytest.mark.slow

KILLS = 3


def test_workers_killed_at_random_moments_lose_nothing(tmp_path: Path) -> None:
    app = create_app(Settings(store_dir=tmp_path / "store", workers=1), start_workers=True)
    rng = random.Random(9)
    with live_server(app) as server:
        pool = app.state.pool
        kills = [
            kill_worker_at_random(server.client, app.state.store, pool.pids, rng)
            for _ in range(KILLS)
        ]
        assert [kill.status for kill in kills] == ["interrupted"] * KILLS
        store: Store = app.state.store
        assert not [run.id for run in store.list_runs() if run.status == "running"]
        # The queue still moves: a fresh worker trains the next run to its end.
        tiny = {**LONG_RUN, "epochs": 1}
        run_id = server.client.post("/api/runs", json=tiny).json()["id"]
        done = wait_until(lambda: (r := store.get_run(run_id)).finished and r, 180, "the last run")
        assert done.status == "done", done.error  # type: ignore[union-attr]


def start_server(store_dir: Path, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "convscope.server", "--port", str(port)]
    command += ["--store", str(store_dir), "--workers", "1"]
    with log.open("ab") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)


def health(url: str, process: subprocess.Popen, log: Path) -> dict | None:
    """The server's health, or None while it does not answer yet."""
    assert process.poll() is None, log.read_text()
    try:
        return httpx.get(f"{url}/api/health", timeout=5).json()
    except httpx.TransportError:
        return None


def test_a_killed_server_restarts_on_its_store(tmp_path: Path) -> None:
    store_dir, port, log = tmp_path / "store", free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    server = start_server(store_dir, port, log)
    try:
        wait_until(lambda: (h := health(url, server, log)) and h["workers"] == 1, 120, "the server")
        run_id = httpx.post(f"{url}/api/runs", json=LONG_RUN, timeout=10).json()["id"]
        store = Store(store_dir)
        run = wait_until(
            lambda: (r := store.get_run(run_id)).num_snapshots >= 2 and r, 120, "two snapshots"
        )
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        # Its worker notices that its parent is gone and stops by itself.
        worker = run.worker_pid  # type: ignore[union-attr]
        wait_until(lambda: not Path(f"/proc/{worker}").exists(), 30, "the orphaned worker")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    with sqlite3.connect(store_dir / "convscope.db") as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = start_server(store_dir, port, log)
    try:
        wait_until(lambda: health(url, restarted, log), 120, "the restart")
        after = httpx.get(f"{url}/api/runs/{run_id}", timeout=10).json()
        assert after["status"] == "interrupted"
        assert after["num_snapshots"] >= 2
        assert check_snapshots_whole(store, run_id) == after["num_snapshots"]
        for index in range(after["num_snapshots"]):
            detail = httpx.get(f"{url}/api/runs/{run_id}/snapshots/{index}", timeout=10)
            assert detail.status_code == 200
    finally:
        restarted.send_signal(signal.SIGINT)
        try:
            restarted.wait(timeout=30)
        except subprocess.TimeoutExpired:
            restarted.kill()
            restarted.wait()
        store.close()
