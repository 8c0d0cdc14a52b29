"""Training and lenses through a real local Ray instance behind a real server: runs become
Ray tasks (2 CPUs), cancel reaches them, a killed task interrupts its run and keeps its
snapshots, calls are computed on the cluster, and lenses run in a warm Ray actor (its own
CPU) that answers as the local inspection worker does and survives being killed."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import keras
import numpy as np
import pytest
from server_helpers import LiveServer, TestClient, live_server, wait_for
from upload_files import LAMBDA_CONFIG, keras_bytes

from convscope.config import Settings
from convscope.inspection.ray_inspection import RayInspection
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.store.results import RESULTS_DIR
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
def server(trained_run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose executor is a local Ray instance with 2 CPUs (2 runs at once) and one
    more for its inspection actor, on a copy of the session's trained run (without the
    lens results other tests cached there, so that lenses are computed here)."""
    store_dir = tmp_path_factory.mktemp("ray") / "store"
    shutil.copytree(trained_run.store_dir, store_dir)
    shutil.rmtree(store_dir / "runs" / trained_run.run_id / RESULTS_DIR, ignore_errors=True)
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
            assert app.state.inspection.wait_ready(180), "the inspection actor did not start"
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
    # Told by the Ray executor or by the liveness check of the store, whichever saw it first.
    assert "Ray worker" in killed["error"] or f"pid {pids[second]}" in killed["error"]
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


@pytest.fixture(scope="module")
def local(trained_run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A server on the same run whose lenses run in a local inspection worker."""
    store_dir = tmp_path_factory.mktemp("local") / "store"
    shutil.copytree(trained_run.store_dir, store_dir)
    shutil.rmtree(store_dir / "runs" / trained_run.run_id / RESULTS_DIR, ignore_errors=True)
    settings = Settings(store_dir=store_dir, workers=0, inspection_workers=1)
    app = create_app(settings, static_dir=tmp_path_factory.mktemp("no-static"))
    with TestClient(app) as client:
        assert app.state.inspection.kind == "local"
        yield client


def actor_pids(server: LiveServer) -> list[int]:
    inspection: RayInspection = server.app.state.inspection
    assert inspection.kind == "ray"
    return inspection.pids()


DRAWING = np.zeros((8, 8))
DRAWING[2:6, 3] = 255


@pytest.mark.parametrize(
    ("lens", "body"),
    [
        ("activations", {"snapshot": "all", "image": {"probe": 5}}),
        ("saliency", {"snapshot": 1, "image": {"pixels": DRAWING.tolist()}, "target": 3}),
        ("top_images", {"params": {"layer": "conv2", "channel": 1, "count": 4}}),
    ],
)
def test_lenses_on_ray_equal_the_local_worker(
    server: LiveServer, local: TestClient, trained_run, lens: str, body: dict
) -> None:
    [actor] = actor_pids(server)
    assert actor not in (os.getpid(), *local.app.state.inspection.pids())
    url = f"/api/runs/{trained_run.run_id}/lenses/{lens}"
    on_ray, on_local = server.client.post(url, json=body), local.post(url, json=body)
    assert on_ray.status_code == on_local.status_code == 200, (on_ray.text, on_local.text)
    ray_out, local_out = on_ray.json(), on_local.json()
    assert ray_out["meta"] == local_out["meta"] and ray_out["kind"] == local_out["kind"]
    assert ray_out["arrays"].keys() == local_out["arrays"].keys()
    for name in local_out["arrays"]:
        expected = decode_array(local_out["arrays"][name])
        got = decode_array(ray_out["arrays"][name])
        assert got.shape == expected.shape and got.dtype == expected.dtype, name
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    assert actor_pids(server) == [actor]  # the same warm actor answered


def test_an_unknown_layer_is_the_same_422_on_ray(
    server: LiveServer, local: TestClient, trained_run
) -> None:
    url = f"/api/runs/{trained_run.run_id}/lenses/activations"
    body = {"image": {"probe": 0}, "params": {"layers": ["conv9"]}}
    on_ray, on_local = server.client.post(url, json=body), local.post(url, json=body)
    assert on_ray.status_code == on_local.status_code == 422
    assert on_ray.json() == on_local.json()
    assert on_ray.json()["detail"][0]["loc"] == ["body", "params", "layers"]
    missing = server.client.post(url, json={"image": {"probe": 0}, "snapshot": 42})
    assert missing.status_code == 404 and "no snapshot 42" in missing.json()["detail"]


def drawing_lens(server: LiveServer, run_id: str, column: int) -> httpx.Response:
    pixels = np.zeros((8, 8))
    pixels[:, column] = 255  # a new drawing each time: never answered from the cache
    body = {"image": {"pixels": pixels.tolist()}, "params": {"layers": ["dense1"]}}
    return server.client.post(f"/api/runs/{run_id}/lenses/activations", json=body)


def test_a_killed_actor_is_restarted_and_the_next_request_answers(
    server: LiveServer, trained_run
) -> None:
    [before] = actor_pids(server)
    os.kill(before, signal.SIGKILL)
    response = drawing_lens(server, trained_run.run_id, 2)
    assert response.status_code == 200, response.text
    assert "dense1" in response.json()["arrays"]
    [after] = actor_pids(server)
    assert after != before


def test_a_lens_past_its_time_limit_stops_the_actor_and_the_next_answers(
    server: LiveServer, trained_run
) -> None:
    inspection: RayInspection = server.app.state.inspection
    [before] = actor_pids(server)
    settings = inspection.settings
    inspection.settings = dataclasses.replace(settings, lens_timeout_s=0.0)
    try:
        response = drawing_lens(server, trained_run.run_id, 4)
    finally:
        inspection.settings = settings
    assert response.status_code == 500
    assert "took longer than 0 s" in response.json()["detail"]
    assert drawing_lens(server, trained_run.run_id, 5).status_code == 200
    [after] = actor_pids(server)
    assert after != before


def test_a_model_file_is_checked_and_opened_by_the_ray_actor(
    server: LiveServer, tmp_path: Path
) -> None:
    assert server.app.state.inspection.kind == "ray"
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, name="scores"),
        ]
    )
    model.save(tmp_path / "mine.keras")
    data = (tmp_path / "mine.keras").read_bytes()
    response = server.client.post(
        "/api/models", files={"file": ("mine.keras", data)}, data={"pixel_scale": str(1 / 255)}
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    body = server.client.post(
        f"/api/runs/{run_id}/lenses/activations", json={"image": {"pixels": DRAWING.tolist()}}
    ).json()
    expected = np.asarray(model(DRAWING[None, :, :, None] / 255))
    np.testing.assert_allclose(decode_array(body["arrays"]["scores"]), expected, rtol=1e-5)

    hostile = server.client.post(
        "/api/models", files={"file": ("lambda.keras", keras_bytes(LAMBDA_CONFIG))}
    )
    assert hostile.status_code == 422
    assert "Lambda" in hostile.json()["detail"][0]["msg"]
