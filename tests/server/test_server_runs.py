"""Runs through the API: creating (and refusing) configs, reading, cancelling, deleting;
over a real store, without worker processes."""

from __future__ import annotations

import os

import pytest
from server_helpers import (
    Api,
    TestClient,
    seed_run,
)

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.routes import runs as runs_routes
from convscope.store import Store

TINY = {"dataset": "digits", "epochs": 1, "train_size": 300, "probe_size": 50}
RUN_FIELDS = {
    "id",
    "name",
    "status",
    "source",
    "config",
    "class_names",
    "created_at",
    "started_at",
    "finished_at",
    "final_metrics",
    "error",
    "num_snapshots",
    "queue_position",
    "progress",
    "sweep_id",
}


def test_create_run_queues_it_with_the_validated_config(api: Api) -> None:
    response = api.client.post("/api/runs", json={**TINY, "name": "first"})
    assert response.status_code == 201
    run = response.json()
    assert set(run) == RUN_FIELDS
    assert run["status"] == "queued" and run["sweep_id"] is None
    assert run["source"] == "web"
    assert run["name"] == "first"
    assert run["queue_position"] == 1
    assert run["class_names"] == [str(d) for d in range(10)]
    assert run["config"]["train_size"] == 300
    assert run["config"]["optimizer"] == "adam"  # defaults are filled in
    assert run["progress"] is None and run["final_metrics"] is None
    second = api.client.post("/api/runs", json=TINY).json()
    assert second["queue_position"] == 2
    listed = api.client.get("/api/runs").json()
    assert [r["id"] for r in listed] == [second["id"], run["id"]]  # newest first
    assert api.client.get(f"/api/runs/{run['id']}").json() == run


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"arch": "alexnet"}, "arch"),
        ({"unknown_key": 1}, "unknown_key"),
        ({"epochs": "many"}, "epochs"),
        ({"probe_size": 5000}, "probe_size"),
        ({"train_size": 100_000}, "train_size"),
        ({"snapshot_fractions": [1.5]}, "snapshot_fractions"),
    ],
)
def test_invalid_config_is_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    response = api.client.post("/api/runs", json={**TINY, **body})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [entry["loc"][:2] for entry in detail] == [["body", field]]
    assert all(entry["msg"] for entry in detail)
    assert api.client.get("/api/runs").json() == []


def test_invalid_custom_architecture_names_the_block(api: Api) -> None:
    arch = {"blocks": [{"type": "conv", "filters": 0}, {"type": "dense"}]}
    response = api.client.post("/api/runs", json={**TINY, "arch": arch})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "arch", "blocks", 0, "filters"]
    ]
    misordered = {"blocks": [{"type": "dense"}, {"type": "conv"}]}
    detail = api.client.post("/api/runs", json={**TINY, "arch": misordered}).json()["detail"]
    assert [e["loc"] for e in detail] == [["body", "arch"]]
    assert "blocks[1] (conv) needs an image-shaped tensor" in detail[0]["msg"]


def test_custom_architecture_is_accepted(api: Api) -> None:
    arch = {"name": "tiny", "blocks": [{"type": "conv", "filters": 4}, {"type": "flatten"}]}
    response = api.client.post("/api/runs", json={**TINY, "arch": arch})
    assert response.status_code == 201
    assert response.json()["config"]["arch"]["blocks"][0]["filters"] == 4


def test_unknown_ids_are_404(api: Api) -> None:
    for path in (
        "/api/runs/0123456789ab",
        "/api/runs/not-an-id",
        "/api/runs/0123456789ab/snapshots",
        "/api/runs/0123456789ab/snapshots/0",
        "/api/runs/0123456789ab/curves",
        "/api/runs/0123456789ab/probe",
        "/api/runs/0123456789ab/probe/atlas.png",
        "/api/runs/0123456789ab/timeline",
        "/api/runs/0123456789ab/events",
    ):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert "0123456789ab" in response.json()["detail"] or "not-an-id" in path
    assert api.client.post("/api/runs/0123456789ab/cancel").status_code == 404
    assert api.client.delete("/api/runs/0123456789ab").status_code == 404
    run_id = seed_run(api.store, snapshots=1)
    assert api.client.get(f"/api/runs/{run_id}/snapshots/7").status_code == 404


def test_cancel_queued_run_at_once_and_finished_run_is_409(api: Api) -> None:
    run = api.client.post("/api/runs", json=TINY).json()
    cancelled = api.client.post(f"/api/runs/{run['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["queue_position"] is None
    again = api.client.post(f"/api/runs/{run['id']}/cancel")
    assert again.status_code == 409
    assert "finished" in again.json()["detail"]
    done = seed_run(api.store, status="done")
    assert api.client.post(f"/api/runs/{done}/cancel").status_code == 409


def test_delete_removes_rows_and_files(api: Api) -> None:
    run_id = seed_run(api.store)
    run_dir = api.store_dir / "runs" / run_id
    assert run_dir.is_dir()
    assert api.client.get(f"/api/runs/{run_id}/probe/atlas.png").status_code == 200
    response = api.client.delete(f"/api/runs/{run_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert not run_dir.exists()
    assert api.client.get(f"/api/runs/{run_id}").status_code == 404
    assert api.store.events_after(run_id, 0) == []
    queued = api.client.post("/api/runs", json=TINY).json()["id"]
    assert api.client.delete(f"/api/runs/{queued}").status_code == 204
    assert api.client.get("/api/runs").json() == []


def test_delete_of_a_run_whose_process_is_gone(api: Api) -> None:
    run_id = seed_run(api.store, status="running")
    api.store.update_run(run_id, worker_pid=2**22 + 12345)  # above pid_max: never alive
    assert api.client.delete(f"/api/runs/{run_id}").status_code == 204
    assert api.client.get(f"/api/runs/{run_id}").status_code == 404


def test_delete_of_a_run_training_in_another_live_process_is_409(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_routes, "DELETE_WAIT_S", 0.2)
    run_id = seed_run(api.store, status="running")
    api.store.update_run(run_id, worker_pid=os.getpid())  # say, a notebook training it
    response = api.client.delete(f"/api/runs/{run_id}")
    assert response.status_code == 409
    assert str(os.getpid()) in response.json()["detail"]
    run = api.client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "running"  # its cancel request is pending, the rest untouched
    assert api.store.is_cancel_requested(run_id)
    assert (api.store_dir / "runs" / run_id).is_dir()


def test_run_shows_progress_and_final_metrics(api: Api) -> None:
    run_id = seed_run(api.store, status="running")
    api.store.update_run(
        run_id, progress={"epoch": 1, "step": 7, "steps_per_epoch": 5, "epochs": 2}
    )
    run = api.client.get(f"/api/runs/{run_id}").json()
    assert run["progress"] == {"epoch": 1, "step": 7, "steps_per_epoch": 5, "epochs": 2}
    assert run["num_snapshots"] == 3
    assert run["started_at"] is not None and run["finished_at"] is None
    done = api.client.get(f"/api/runs/{seed_run(api.store)}").json()
    assert done["status"] == "done"
    assert done["final_metrics"] == {
        "train_loss": 0.5,
        "train_accuracy": None,
        "val_loss": None,
        "val_accuracy": 0.75,
    }


def test_startup_marks_orphaned_runs_interrupted(tmp_path) -> None:
    store = Store(tmp_path / "store")
    orphan = seed_run(store, status="running")
    store.update_run(orphan, worker_pid=2**22 + 12345)
    alive = seed_run(store, status="running")
    store.update_run(alive, worker_pid=os.getpid())  # a live notebook process
    settings = Settings(store_dir=tmp_path / "store", workers=1)
    with TestClient(create_app(settings, start_workers=False)) as client:
        run = client.get(f"/api/runs/{orphan}").json()
        assert run["status"] == "interrupted"
        assert run["error"]
        assert client.get(f"/api/runs/{alive}").json()["status"] == "running"
        assert client.get(f"/api/runs/{orphan}/snapshots/2").status_code == 200
    store.close()
