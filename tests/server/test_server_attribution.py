"""Attribution lenses over HTTP, through a real inspection worker: the same numbers as from
Python, the probe set as the dataset sample, object masks from shapes runs."""

from __future__ import annotations

import numpy as np
import pytest
from server_helpers import TestClient  # the tests folder is on the path (conftest.py)

import convscope
from convscope import lenses
from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.store import Store


def serve(run, tmp_path_factory):
    settings = Settings(store_dir=run.store_dir, workers=0, inspection_workers=1)
    app = create_app(settings, static_dir=tmp_path_factory.mktemp("no-static"))
    return TestClient(app)


@pytest.fixture(scope="module")
def digits(trained_run, tmp_path_factory):
    with serve(trained_run, tmp_path_factory) as client, Store(trained_run.store_dir) as store:
        yield client, store, trained_run


@pytest.fixture(scope="module")
def shapes(trained_shapes_run, tmp_path_factory):
    with (
        serve(trained_shapes_run, tmp_path_factory) as client,
        Store(trained_shapes_run.store_dir) as store,
    ):
        yield client, store, trained_shapes_run


def post(client, run, name, body):
    response = client.post(f"/api/runs/{run.run_id}/lenses/{name}", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    return {key: decode_array(value) for key, value in out["arrays"].items()}, out["meta"]


def probe_inputs(store, run) -> np.ndarray:
    return store.read_run_arrays(run.run_id, "probe")["images"].astype(np.float32)


def test_attribution_lenses_are_listed_as_image_maps(digits) -> None:
    client, _, _ = digits
    listed = {lens["name"]: lens for lens in client.get("/api/lenses").json()}
    for name in ("saliency", "gradient_x_input", "smoothgrad", "integrated_gradients"):
        assert listed[name]["kind"] == "image_map" and listed[name]["uses_target"]
    assert listed["grad_cam"]["params_schema"]["properties"]["layer"]
    assert "grad_cam" in listed["smoothgrad"]["params_schema"]["properties"]["lens"]["enum"]
    assert listed["pointing_game"]["scope"] == "probe_set"


def test_grad_cam_of_a_probe_image_equals_python(digits) -> None:
    client, store, run = digits
    arrays, meta = post(
        client, run, "grad_cam", {"snapshot": 1, "image": {"probe": 3}, "target": 4}
    )
    model = convscope.load_model(store, run.run_id, snapshot=1)
    expected = lenses.compute("grad_cam", model, probe_inputs(store, run)[3:4], target=4)
    np.testing.assert_allclose(arrays["map"], expected.arrays["map"], rtol=1e-4, atol=1e-6)
    assert meta["layer"] == "conv2" and meta["targets"] == [4]


def test_a_training_strip_is_one_map_per_snapshot(digits) -> None:
    client, store, run = digits
    body = {"snapshot": "all", "image": {"probe": 0}, "target": 2}
    arrays, meta = post(client, run, "saliency", body)
    assert arrays["map"].shape == (run.snapshots, 1, 8, 8)
    assert meta["snapshots"] == list(range(run.snapshots))
    image = probe_inputs(store, run)[:1]
    for index in range(run.snapshots):
        model = convscope.load_model(store, run.run_id, snapshot=index)
        expected = lenses.compute("saliency", model, image, target=2).arrays["map"]
        np.testing.assert_allclose(arrays["map"][index], expected, rtol=1e-4, atol=1e-7)


def test_the_dataset_mean_baseline_is_the_probe_sets_mean(digits) -> None:
    client, store, run = digits
    body = {
        "snapshot": 2,
        "image": {"probe": 9},
        "params": {"baseline": "dataset_mean", "steps": 16},
    }
    arrays, meta = post(client, run, "integrated_gradients", body)
    model = convscope.load_model(store, run.run_id, snapshot=2)
    inputs = probe_inputs(store, run)
    expected = lenses.compute(
        "integrated_gradients",
        model,
        inputs[9:10],
        baseline="dataset_mean",
        steps=16,
        dataset_images=inputs,
    )
    np.testing.assert_allclose(arrays["map"], expected.arrays["map"], rtol=1e-4, atol=1e-6)
    assert meta["completeness_gap"] == pytest.approx(expected.meta["completeness_gap"], abs=1e-5)


def test_the_sanity_check_leaves_the_workers_model_as_it_was(digits) -> None:
    client, _, run = digits
    body = {"snapshot": 1, "image": {"pixels": (np.arange(64).reshape(8, 8) * 4).tolist()}}
    before, _ = post(client, run, "activations", {**body, "params": {"layers": ["logits"]}})
    _, meta = post(client, run, "sanity_check", {**body, "params": {"lens": "grad_cam"}})
    assert meta["stages"][0] == "original" and len(meta["stages"]) == 5
    after, _ = post(client, run, "activations", {**body, "params": {"layers": ["logits"]}})
    np.testing.assert_array_equal(after["logits"], before["logits"])


@pytest.mark.parametrize(
    ("name", "params", "loc"),
    [
        ("smoothgrad", {"lens": "occlusion"}, ["body", "params", "lens"]),
        ("faithfulness", {"lens": "nope"}, ["body", "params", "lens"]),
        ("faithfulness", {"lens_params": {"bogus": 1}}, ["body", "params", "lens_params"]),
        ("grad_cam", {"layer": "dense1"}, ["body", "params", "layer"]),
        ("integrated_gradients", {"steps": 10_000}, ["body", "params", "steps"]),
        ("pointing_game", {}, ["body", "masks"]),
    ],
)
def test_bad_requests_name_the_field(digits, name, params, loc) -> None:
    client, _, run = digits
    body = {"image": {"probe": 0}, "params": params}
    response = client.post(f"/api/runs/{run.run_id}/lenses/{name}", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(entry["loc"][: len(loc)] == loc for entry in detail), detail


def test_a_shapes_probe_image_is_scored_against_its_mask(shapes) -> None:
    client, store, run = shapes
    body = {"image": {"probe": 4}, "params": {"lens": "saliency", "steps": 8}}
    arrays, meta = post(client, run, "faithfulness", body)
    mask = store.read_run_arrays(run.run_id, "probe")["masks"][4:5]
    from convscope.lenses._maps import mask_overlap, pointing_hits

    assert meta["pointing_hit"] == pointing_hits(arrays["map"], mask, 1).tolist()
    assert meta["mask_overlap"] == pytest.approx(mask_overlap(arrays["map"], mask), abs=1e-5)
    assert arrays["deletion"].shape == (1, 9)


def test_a_pointing_game_curve_across_snapshots(shapes) -> None:
    client, store, run = shapes
    body = {"snapshot": "all", "params": {"lenses": ["grad_cam"], "count": 30}}
    arrays, meta = post(client, run, "pointing_game", body)
    assert arrays["hits"].shape == (run.snapshots, 3, 30)
    # A value equal at every snapshot is kept once, outside per_snapshot.
    curve = [entry.get("pointing", meta.get("pointing")) for entry in meta["per_snapshot"]]
    assert len(curve) == run.snapshots
    assert meta["methods"] == ["grad_cam", "random", "centre"]
    probe = store.read_run_arrays(run.run_id, "probe")
    last = convscope.load_model(store, run.run_id, snapshot=run.snapshots - 1)
    expected = lenses.compute(
        "pointing_game",
        last,
        probe["images"].astype(np.float32),
        labels=probe["labels"],
        masks=probe["masks"],
        lenses=["grad_cam"],
        count=30,
    )
    assert curve[-1] == pytest.approx(expected.meta["pointing"], abs=1e-6)
