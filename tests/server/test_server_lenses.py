"""Lenses over HTTP: the registry, one route for every lens, a real inspection worker."""

from __future__ import annotations

import numpy as np
import pytest
from server_helpers import TestClient  # the tests folder is on the path (conftest.py)

import convscope
from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.store import Store


@pytest.fixture(scope="module")
def client(trained_run, tmp_path_factory):
    settings = Settings(store_dir=trained_run.store_dir, workers=0, inspection_workers=1)
    app = create_app(settings, static_dir=tmp_path_factory.mktemp("no-static"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def store(trained_run):
    with Store(trained_run.store_dir) as opened:
        yield opened


def lens_url(trained_run, name: str = "activations") -> str:
    return f"/api/runs/{trained_run.run_id}/lenses/{name}"


def test_the_registry_is_listed(client) -> None:
    listed = {lens["name"]: lens for lens in client.get("/api/lenses").json()}
    activations = listed["activations"]
    assert activations["kind"] == "activations" and activations["scope"] == "images"
    assert "layers" in activations["params_schema"]["properties"]
    assert activations["references"]


def test_activations_of_a_probe_image_equal_the_model(client, trained_run, store) -> None:
    response = client.post(lens_url(trained_run), json={"snapshot": 1, "image": {"probe": 5}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lens"] == "activations" and body["kind"] == "activations"
    assert body["meta"]["snapshots"] == [1]
    assert body["meta"]["epochs"] == [store.get_snapshot(trained_run.run_id, 1).epoch]
    image = store.read_run_arrays(trained_run.run_id, "probe")["images"][5:6]
    model = convscope.load_model(store, trained_run.run_id, snapshot=1)
    np.testing.assert_allclose(
        decode_array(body["arrays"]["logits"]), np.asarray(model(image)), rtol=1e-5, atol=1e-5
    )
    assert decode_array(body["arrays"]["conv1"]).shape == (1, 8, 8, 16)


def test_a_drawing_is_looked_at_as_pixels(client, trained_run, store) -> None:
    pixels = np.zeros((8, 8))
    pixels[2:6, 3] = 255
    response = client.post(lens_url(trained_run), json={"image": {"pixels": pixels.tolist()}})
    assert response.status_code == 200, response.text
    last = trained_run.snapshots - 1
    model = convscope.load_model(store, trained_run.run_id, snapshot=last)
    expected = np.asarray(model(pixels[None, :, :, None].astype(np.float32)))
    logits = decode_array(response.json()["arrays"]["logits"])
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    assert response.json()["meta"]["snapshots"] == [last]


def test_every_snapshot_at_once(client, trained_run) -> None:
    body = {"snapshot": "all", "image": {"probe": 0}, "params": {"layers": ["dense1"]}}
    response = client.post(lens_url(trained_run), json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert decode_array(out["arrays"]["dense1"]).shape == (trained_run.snapshots, 1, 64)
    assert out["meta"]["snapshots"] == list(range(trained_run.snapshots))
    assert len(out["meta"]["epochs"]) == trained_run.snapshots


def test_results_of_stored_snapshots_are_kept_as_files(client, trained_run, store) -> None:
    folder = store.root / "runs" / trained_run.run_id / "lenses"
    before = set(folder.glob("*.npz")) if folder.exists() else set()
    body = {"snapshot": 0, "image": {"probe": 7}, "params": {"layers": ["conv2"]}}
    first = client.post(lens_url(trained_run), json=body).json()
    created = set(folder.glob("*.npz")) - before
    assert len(created) == 1
    again = client.post(lens_url(trained_run), json=body).json()
    assert again == first
    assert set(folder.glob("*.npz")) - before == created


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"image": {"pixels": [[0, 1], [2, 3]]}}, ["body", "image", "pixels"]),
        ({"image": {"pixels": [[300] * 8] * 8}}, ["body", "image", "pixels"]),
        ({"image": {"probe": 60}}, ["body", "image", "probe"]),
        ({"image": {"probe": 0}, "params": {"layers": ["conv9"]}}, ["body", "params", "layers"]),
        ({"image": {"probe": 0}, "params": {"layers": "conv1"}}, ["body", "params", "layers"]),
        ({"image": {"probe": 0}, "params": {"bogus": 1}}, ["body", "params", "bogus"]),
        ({}, ["body", "image"]),
        ({"image": {"probe": 0}, "snapshot": []}, ["body", "snapshot"]),
        ({"image": {"probe": -1}}, ["body", "image", "probe"]),
        ({"image": {"probe": 0}, "snapshot": "first"}, ["body", "snapshot"]),
    ],
)
def test_bad_requests_name_the_field(client, trained_run, body, loc) -> None:
    response = client.post(lens_url(trained_run), json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(entry["loc"][: len(loc)] == loc for entry in detail), detail
    assert all(entry["msg"] for entry in detail)


def test_nan_pixels_are_refused(client, trained_run) -> None:
    content = '{"image": {"pixels": [' + ",".join(["[" + ",".join(["NaN"] * 8) + "]"] * 8) + "]}}"
    response = client.post(
        lens_url(trained_run), content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "finite" in response.text


@pytest.mark.parametrize(
    ("url_of", "body", "message"),
    [
        (lambda run: f"/api/runs/{run}/lenses/no_such_lens", {}, "no lens named"),
        (lambda run: "/api/runs/0123456789ab/lenses/activations", {}, "no run"),
        (lambda run: f"/api/runs/{run}/lenses/activations", {"snapshot": 42}, "no snapshot 42"),
    ],
)
def test_unknown_lens_run_or_snapshot_is_404(client, trained_run, url_of, body, message) -> None:
    response = client.post(url_of(trained_run.run_id), json={"image": {"probe": 0}, **body})
    assert response.status_code == 404
    assert message in response.json()["detail"]


def test_without_an_inspection_worker_a_lens_is_503(trained_run, tmp_path) -> None:
    settings = Settings(store_dir=trained_run.store_dir, workers=0, inspection_workers=1)
    app = create_app(settings, start_workers=False, static_dir=tmp_path)
    with TestClient(app) as bare:
        response = bare.post(lens_url(trained_run), json={"image": {"pixels": [[0] * 8] * 8}})
    assert response.status_code == 503
    assert "inspection worker" in response.json()["detail"]


def test_a_model_lens_needs_no_image(client, trained_run, store) -> None:
    response = client.post(lens_url(trained_run, "filters"), json={"snapshot": "all"})
    assert response.status_code == 200, response.text
    kernels = decode_array(response.json()["arrays"]["kernels"])
    assert kernels.shape == (trained_run.snapshots, 16, 3, 3, 1)
    model = convscope.load_model(store, trained_run.run_id, snapshot=0)
    expected = np.asarray(model.get_layer("conv1").kernel).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(kernels[0], expected)


def test_feature_visualisation_is_computed_once_per_channel(client, trained_run, store) -> None:
    folder = store.root / "runs" / trained_run.run_id / "lenses"
    before = set(folder.glob("*.npz")) if folder.exists() else set()
    body = {"snapshot": 1, "params": {"layer": "conv2", "channel": 3, "steps": 16}}
    first = client.post(lens_url(trained_run, "feature_visualisation"), json=body)
    assert first.status_code == 200, first.text
    probe = store.read_run_arrays(trained_run.run_id, "probe")["images"]
    assert first.json()["meta"]["input_range"] == [probe.min(), probe.max()]
    assert len(set(folder.glob("*.npz")) - before) == 1
    again = client.post(lens_url(trained_run, "feature_visualisation"), json=body).json()
    assert again == first.json() and len(set(folder.glob("*.npz")) - before) == 1
    other = {**body, "params": {**body["params"], "channel": 4}}
    client.post(lens_url(trained_run, "feature_visualisation"), json=other)
    assert len(set(folder.glob("*.npz")) - before) == 2


def test_layer_health_across_snapshots_equals_the_record(client, trained_run, store) -> None:
    response = client.post(lens_url(trained_run, "layer_health"), json={"snapshot": "all"})
    assert response.status_code == 200, response.text
    out = response.json()
    values = decode_array(out["arrays"]["values"])
    defined = decode_array(out["arrays"]["defined"]).astype(bool)
    statistics = out["meta"]["statistics"]
    assert values.shape == (trained_run.snapshots, len(out["meta"]["layers"]), len(statistics))
    for snapshot in range(trained_run.snapshots):
        recorded = store.snapshot_arrays(trained_run.run_id, snapshot)
        for k, key in enumerate(statistics):
            expected = recorded[f"layer_{key}"]
            np.testing.assert_array_equal(defined[snapshot, :, k], np.isfinite(expected))
            np.testing.assert_allclose(
                values[snapshot, :, k][np.isfinite(expected)],
                expected[np.isfinite(expected)],
                rtol=1e-4,
                atol=1e-6,
                err_msg=key,
            )


def test_top_images_and_the_architecture(client, trained_run) -> None:
    body = {"params": {"layer": "conv2", "channel": 0, "count": 5}}
    top = client.post(lens_url(trained_run, "top_images"), json=body).json()
    assert decode_array(top["arrays"]["indices"]).shape == (5,)
    assert top["kind"] == "images" and len(top["meta"]["labels"]) == 5
    table = client.post(lens_url(trained_run, "architecture"), json={}).json()
    names = [row["name"] for row in table["meta"]["layers"]]
    assert names[:3] == ["image", "rescale", "conv1"] and table["kind"] == "table"
