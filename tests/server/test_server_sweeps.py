"""The sweeps API: POST queues every run, GET lists and reads them with their values,
curves and ranks; bad sweeps get a 422 that names the field."""

from __future__ import annotations

import numpy as np
from server_helpers import Api

SWEEP = {
    "name": "rates",
    "base": {"dataset": "digits", "epochs": 2, "train_size": 300, "probe_size": 50},
    "parameters": {"learning_rate": [0.01, 0.001], "batch_size": [16, 32]},
}


def test_a_sweep_queues_its_runs(api: Api) -> None:
    response = api.client.post("/api/sweeps", json=SWEEP)
    assert response.status_code == 201
    sweep = response.json()
    assert sweep["varied"] == ["learning_rate", "batch_size"] and sweep["method"] == "grid"
    assert sweep["num_runs"] == 4 and sweep["finished_runs"] == 0
    assert sweep["best"] == [] and sweep["best_accuracy"] is None
    values = [row["values"] for row in sweep["runs"]]
    assert values == [
        {"learning_rate": 0.01, "batch_size": 16},
        {"learning_rate": 0.01, "batch_size": 32},
        {"learning_rate": 0.001, "batch_size": 16},
        {"learning_rate": 0.001, "batch_size": 32},
    ]
    for row in sweep["runs"]:
        run = row["run"]
        assert run["status"] == "queued" and run["sweep_id"] == sweep["id"]
        assert run["config"]["epochs"] == 2 and run["class_names"][0] == "0"
        assert run["name"].startswith("rates #")
    positions = [row["run"]["queue_position"] for row in sweep["runs"]]
    assert positions == [1, 2, 3, 4]
    listed = api.client.get("/api/sweeps").json()
    assert [s["id"] for s in listed] == [sweep["id"]] and listed[0]["num_runs"] == 4
    assert api.client.get(f"/api/sweeps/{sweep['id']}").json() == sweep


def test_a_sweep_ranks_its_runs_by_final_accuracy(api: Api) -> None:
    sweep = api.client.post("/api/sweeps", json=SWEEP).json()
    store = api.store
    ids = [row["run"]["id"] for row in sweep["runs"]]
    finals = {ids[0]: 0.5, ids[1]: 0.9, ids[2]: 0.7}
    for run_id, accuracy in finals.items():
        store.claim_run(run_id, 1)
        for index, epoch in enumerate((0.5, 1.0, 2.0)):
            store.add_snapshot(
                run_id,
                index,
                epoch=epoch,
                step=index,
                metrics={"val_accuracy": accuracy * (index + 1) / 3},
                arrays={"logits": np.zeros((1, 10), np.float32)},
            )
        store.set_status(run_id, "done")
    store.mark_stopped_early(sweep["id"], ids[0], "below the median")
    sweep = api.client.get(f"/api/sweeps/{sweep['id']}").json()
    assert sweep["best"] == [ids[1], ids[2], ids[0]]
    assert sweep["best_accuracy"] == 0.9 and sweep["finished_runs"] == 3
    rows = {row["run"]["id"]: row for row in sweep["runs"]}
    assert [p["epoch"] for p in rows[ids[1]]["curve"]] == [0.5, 1.0, 2.0]
    assert rows[ids[1]]["curve"][0]["val_accuracy"] == 0.3
    assert rows[ids[1]]["final_accuracy"] == 0.9
    assert rows[ids[0]]["stopped_early"] == "below the median"
    assert rows[ids[3]]["final_accuracy"] is None and rows[ids[3]]["curve"] == []


def test_bad_sweeps_get_422_naming_the_field(api: Api) -> None:
    cases = [
        ({**SWEEP, "parameters": {"dataset": ["digits"]}}, ["body", "parameters"]),
        (
            {**SWEEP, "parameters": {"learning_rate": [0.1, -1]}},
            ["body", "parameters", "learning_rate"],
        ),
        ({**SWEEP, "budget": 2}, ["body", "budget"]),
        (
            {**SWEEP, "base": {"dataset": "digits", "train_size": 10**6}},
            ["body", "base", "train_size"],
        ),
        ({**SWEEP, "base": {"dataset": "cifar10"}}, ["body", "base", "dataset"]),
        ({**SWEEP, "method": "bayes"}, ["body", "method"]),
    ]
    for body, loc in cases:
        response = api.client.post("/api/sweeps", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"] == loc, response.json()
    assert api.client.get("/api/sweeps").json() == [] and api.client.get("/api/runs").json() == []


def test_every_run_of_a_sweep_is_sized_before_any_is_queued(api: Api) -> None:
    huge = {
        "blocks": [
            *({"type": "conv", "filters": 1024, "kernel_size": 11} for _ in range(4)),
            {"type": "dense", "units": 64},
        ]
    }
    body = {**SWEEP, "parameters": {"arch": ["mlp", huge]}}
    response = api.client.post("/api/sweeps", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "parameters", "arch"]
    assert detail["limit"] == "max_model_params"
    assert api.client.get("/api/runs").json() == []


def test_an_unknown_sweep_is_404(api: Api) -> None:
    for bad in ("0123456789ab", "nope"):
        response = api.client.get(f"/api/sweeps/{bad}")
        assert response.status_code == 404 and "no sweep" in response.json()["detail"]
