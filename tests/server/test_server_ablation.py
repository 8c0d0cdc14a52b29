"""The ablation lenses over HTTP: on the run's probe set, at every snapshot, bad channels named."""

from __future__ import annotations

import numpy as np
import pytest
from server_helpers import TestClient  # the tests folder is on the path (conftest.py)

import convscope
from convscope import lenses
from convscope.config import Settings
from convscope.inspection.images import probe_model_inputs
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.store import Store


@pytest.fixture(scope="module")
def client(trained_run, tmp_path_factory):
    settings = Settings(store_dir=trained_run.store_dir, workers=0, inspection_workers=1)
    app = create_app(settings, static_dir=tmp_path_factory.mktemp("no-static"))
    with TestClient(app) as test_client:
        yield test_client


def url(trained_run, name: str) -> str:
    return f"/api/runs/{trained_run.run_id}/lenses/{name}"


def test_ablation_of_the_probe_set_equals_the_lens_on_the_model(client, trained_run) -> None:
    body = {"snapshot": 1, "params": {"layer": "conv2", "channels": [0, 5], "mode": "mean"}}
    response = client.post(url(trained_run, "ablation"), json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    with Store(trained_run.store_dir) as store:
        model = convscope.load_model(store, trained_run.run_id, snapshot=1)
        probe = store.read_run_arrays(trained_run.run_id, "probe")
    images, labels = probe_model_inputs(probe), probe["labels"]
    expected = lenses.compute("ablation", model, images, labels=labels, **body["params"])
    for name in ("accuracy", "predicted", "confusion"):
        np.testing.assert_array_equal(decode_array(out["arrays"][name]), expected.arrays[name])
    assert decode_array(out["arrays"]["probabilities"]).shape == (2, len(labels), 10)
    assert out["meta"]["channels"] == [0, 5] and out["meta"]["mode"] == "mean"


def test_channel_importance_at_every_snapshot(client, trained_run) -> None:
    body = {"snapshot": "all", "params": {"layer": "conv2"}}
    response = client.post(url(trained_run, "channel_importance"), json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    drop = decode_array(out["arrays"]["drop"])
    assert drop.shape == (trained_run.snapshots, 32, 11)
    assert out["meta"]["layer"] == "conv2" and len(out["meta"]["epochs"]) == trained_run.snapshots
    rankings = [entry["ranking"] for entry in out["meta"]["per_snapshot"]]
    assert len(rankings) == trained_run.snapshots
    for snapshot, ranking in enumerate(rankings):
        assert np.all(np.diff(drop[snapshot, ranking, 0]) <= 0)


@pytest.mark.parametrize(
    ("lens", "params", "loc"),
    [
        ("ablation", {"layer": "conv2", "channels": [32]}, ["body", "params", "channels"]),
        ("ablation", {"channels": "most"}, ["body", "params", "channels"]),
        ("channel_importance", {"layer": "nope"}, ["body", "params", "layer"]),
    ],
)
def test_bad_parameters_are_named(client, trained_run, lens, params, loc) -> None:
    response = client.post(url(trained_run, lens), json={"params": params})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(entry["loc"][: len(loc)] == loc for entry in detail), detail
