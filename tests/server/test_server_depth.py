"""Depth over HTTP: accuracies per layer and snapshot, maps, and the depth lenses."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from server_helpers import TestClient  # the tests folder is on the path (conftest.py)

import convscope
from convscope import lenses
from convscope.config import Settings
from convscope.depth.recording import RECORDED, read_record
from convscope.inspection.images import probe_model_inputs
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.store import Store
from convscope.training.projection import align_maps


@pytest.fixture(scope="module")
def store_dir(trained_run, tmp_path_factory):
    """A copy of the trained run's store: this module writes results into it."""
    copy = tmp_path_factory.mktemp("depth") / "store"
    shutil.copytree(trained_run.store_dir, copy)
    return copy


@pytest.fixture(scope="module")
def client(store_dir, tmp_path_factory):
    settings = Settings(store_dir=store_dir, workers=0, inspection_workers=1)
    app = create_app(settings, static_dir=tmp_path_factory.mktemp("no-static"))
    with TestClient(app) as test_client:
        yield test_client


def settle(client: TestClient, url: str, tries: int = 20) -> dict:
    """Ask until nothing is pending, as the Depth view does."""
    for _ in range(tries):
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        if not body["pending"]:
            return body
    raise AssertionError(f"{url} still pending after {tries} requests")


def test_accuracies_are_computed_once_then_read(client, store_dir, trained_run) -> None:
    url = f"/api/runs/{trained_run.run_id}/depth"
    body = settle(client, url)
    layers = body["layers"]
    assert layers[0] == "input" and "dense1" in layers
    assert body["snapshots"] == list(range(trained_run.snapshots))
    probe, knn = decode_array(body["probe"]), decode_array(body["knn"])
    assert probe.shape == knn.shape == (len(layers), trained_run.snapshots)
    assert np.all(np.isfinite(probe)) and body["unavailable"] == []
    assert body["settings"] == {**RECORDED.__dict__}
    with Store(store_dir) as store:
        model = convscope.load_model(store, trained_run.run_id, snapshot=1)
        arrays = store.read_run_arrays(trained_run.run_id, "probe")
        record = read_record(store, trained_run.run_id, 1)
    assert record is not None
    images, labels = probe_model_inputs(arrays), arrays["labels"]
    expected = lenses.compute("knn_accuracy", model, images, labels=labels)
    np.testing.assert_allclose(knn[:, 1], expected.arrays["accuracy"], atol=1e-6)
    assert body["network_knn"][1] == pytest.approx(expected.meta["network_accuracy"])
    # Stored with the run: a server without an inspection worker answers the same.
    settings = Settings(store_dir=store_dir, workers=0, inspection_workers=0)
    with TestClient(create_app(settings, start_workers=False)) as offline:
        again = offline.get(url)
    assert again.status_code == 200 and again.json() == body


def test_maps_are_aligned_across_layers_and_snapshots(client, trained_run) -> None:
    body = settle(client, f"/api/runs/{trained_run.run_id}/depth/maps")
    positions = decode_array(body["positions"])
    assert positions.shape == (trained_run.snapshots, len(body["layers"]), 60, 2)
    raw = client.post(
        f"/api/runs/{trained_run.run_id}/lenses/layer_maps", json={"snapshot": "all"}
    ).json()
    np.testing.assert_allclose(
        positions, align_maps(decode_array(raw["arrays"]["positions"])), atol=1e-5
    )


def test_a_run_that_records_its_accuracies_is_not_computed_twice(store_dir, trained_run) -> None:
    with Store(store_dir) as store:
        source = store.get_run(trained_run.run_id)
        run = store.create_run({**source.config, "record_depth": True}, source="cli")
        store.write_run_arrays(run.id, "probe", store.read_run_arrays(source.id, "probe"))
        store.set_status(run.id, "running")
        store.update_run(run.id, worker_pid=os.getpid())  # as a notebook training it now
        path = store.temp_path(run.id, ".weights.npz")
        shutil.copy(store.run_dir(source.id) / "snapshots" / "0000.weights.npz", path)
        snapshot = store.get_snapshot(source.id, 0)
        store.add_snapshot(
            run.id,
            0,
            epoch=snapshot.epoch,
            step=snapshot.step,
            metrics=snapshot.metrics,
            arrays=store.snapshot_arrays(source.id, 0),
            weights_file=path,
        )
    # No inspection worker: computing would fail; the Recorder's snapshot is awaited.
    settings = Settings(store_dir=store_dir, workers=0, inspection_workers=0)
    with TestClient(create_app(settings, start_workers=False)) as offline:
        response = offline.get(f"/api/runs/{run.id}/depth")
    assert response.status_code == 200, response.text
    assert response.json()["pending"] == [0] and response.json()["layers"] == []


def test_an_unknown_run_is_not_found(client) -> None:
    assert client.get("/api/runs/000000000000/depth").status_code == 404
    assert client.get("/api/runs/000000000000/depth/maps").status_code == 404


def test_the_depth_lenses_over_http(client, trained_run) -> None:
    base = f"/api/runs/{trained_run.run_id}/lenses"
    probes = client.post(f"{base}/linear_probes", json={"snapshot": 2}).json()
    assert probes["kind"] == "bars" and probes["meta"]["layers"][0] == "input"
    assert decode_array(probes["arrays"]["accuracy"]).shape == (len(probes["meta"]["layers"]),)
    query = {"snapshot": 2, "params": {"query": 4, "k": 5, "layer": "conv2"}}
    similar = client.post(f"{base}/similar_images", json=query)
    assert similar.status_code == 200, similar.text
    indices = decode_array(similar.json()["arrays"]["indices"])
    assert indices.shape == (len(probes["meta"]["layers"]), 6) and np.all(indices[:, 0] == 4)
    features = client.post(
        f"{base}/layer_features", json={"image": {"probe": 4}, "params": {"layers": ["conv2"]}}
    )
    assert features.status_code == 200 and list(features.json()["arrays"]) == ["input", "conv2"]


@pytest.mark.parametrize(
    ("lens", "params", "loc"),
    [
        ("similar_images", {"query": 60}, ["body", "params", "query"]),
        ("similar_images", {"layer": "conv9"}, ["body", "params", "layer"]),
        ("knn_accuracy", {"metric": "manhattan"}, ["body", "params", "metric"]),
        ("linear_probes", {"regularization": 0}, ["body", "params", "regularization"]),
    ],
)
def test_bad_parameters_name_the_field(client, trained_run, lens, params, loc) -> None:
    response = client.post(f"/api/runs/{trained_run.run_id}/lenses/{lens}", json={"params": params})
    assert response.status_code == 422, response.text
    assert any(entry["loc"][: len(loc)] == loc for entry in response.json()["detail"])
