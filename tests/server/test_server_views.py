"""What the API shows: health, datasets, architectures, snapshots, curves, the probe set
and its atlas, the timeline, the web app; over a real store, without worker processes."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from server_helpers import (
    CORRECTNESS,
    LAYER_NAMES,
    NUM_CLASSES,
    PROBE_COUNT,
    Api,
    TestClient,
    probe_images,
    seed_run,
)

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.training.config import RunConfig

TINY = {"dataset": "digits", "epochs": 1, "train_size": 300, "probe_size": 50}


def test_health_reports_version_and_no_workers(api: Api) -> None:
    assert api.client.get("/api/health").json() == {
        "status": "ok",
        "version": "0.1.0",
        "workers": 0,
        "executor": None,
    }


def test_datasets_lists_the_registry(api: Api) -> None:
    datasets = {d["name"]: d for d in api.client.get("/api/datasets").json()}
    digits = datasets["digits"]
    assert digits["available"] is True
    assert digits["image_shape"] == [8, 8, 1]
    assert digits["num_classes"] == 10
    assert digits["class_names"][:3] == ["0", "1", "2"]
    assert set(digits) == {
        "name",
        "title",
        "description",
        "image_shape",
        "num_classes",
        "class_names",
        "available",
        "location",
        "reason",
        "train_count",
        "test_count",
    }


def test_architectures_give_presets_block_schemas_and_the_config_form(api: Api) -> None:
    body = api.client.get("/api/architectures").json()
    presets = {p["name"]: p for p in body["presets"]}
    assert "small_cnn" in presets
    assert presets["small_cnn"]["description"]
    assert presets["small_cnn"]["spec"]["blocks"][0]["type"] == "conv"
    assert {"conv", "pool", "dense", "dropout", "flatten"} <= set(body["block_types"])
    assert "filters" in body["block_types"]["conv"]["properties"]
    assert body["config"]["default"] == RunConfig().to_json_dict()
    # The order rule of the block list, for the form to check as the server does.
    order = body["block_order"]
    assert {"conv", "pool", "flatten"} <= set(order["needs_image"])
    assert {"dense", "flatten", "global_pool"} <= set(order["makes_vector"])
    assert "dropout" not in order["needs_image"] + order["makes_vector"]
    assert "learning_rate" in body["config"]["schema"]["properties"]


def test_snapshot_summaries_and_curves(api: Api) -> None:
    run_id = seed_run(api.store)
    summaries = api.client.get(f"/api/runs/{run_id}/snapshots").json()
    assert [s["index"] for s in summaries] == [0, 1, 2]
    assert [s["epoch"] for s in summaries] == [0.5, 1.0, 2.0]
    assert summaries[1] == {
        "index": 1,
        "epoch": 1.0,
        "step": 2,
        "metrics": {
            "train_loss": 0.5,
            "train_accuracy": 0.5,
            "val_loss": None,  # NaN travels as null
            "val_accuracy": 0.25,
        },
    }
    curves = api.client.get(f"/api/runs/{run_id}/curves").json()
    assert curves["snapshots"] == summaries
    batches = {key: decode_array(value) for key, value in curves["batches"].items()}
    assert curves["batches"]["step"]["dtype"] == "int32"
    assert batches["step"].tolist() == [1, 2, 3]
    assert batches["epoch"].tolist() == [0.5, 1.0, 1.5]
    assert batches["loss"][:2].tolist() == [1.5, 1.0] and np.isnan(batches["loss"][2])
    assert batches["accuracy"].tolist() == [0.25, 0.5, 0.75]


def test_snapshot_detail_arrays(api: Api) -> None:
    run_id = seed_run(api.store)
    body = api.client.get(f"/api/runs/{run_id}/snapshots/1").json()
    assert body["index"] == 1 and body["epoch"] == 1.0
    labels = np.arange(PROBE_COUNT) % NUM_CLASSES
    predictions = decode_array(body["predictions"])
    assert body["predictions"]["dtype"] == "uint8"
    assert (predictions == labels).tolist() == CORRECTNESS[1].tolist()
    probabilities = decode_array(body["probabilities"])
    assert body["probabilities"]["dtype"] == "float32"
    assert probabilities.shape == (PROBE_COUNT, NUM_CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    expected_top = np.exp(4.0) / (np.exp(4.0) + 2)
    np.testing.assert_allclose(probabilities.max(axis=1), expected_top, rtol=1e-5)
    positions = decode_array(body["positions"])
    assert positions.shape == (PROBE_COUNT, 2)
    assert positions[:, 1].tolist() == [1.0] * PROBE_COUNT
    assert body["confusion"] == (np.eye(NUM_CLASSES, dtype=int) * 2).tolist()
    layers = body["layers"]
    assert [layer["name"] for layer in layers] == list(LAYER_NAMES)
    assert layers[0] == {
        "name": "rescale",
        "weight_norm": None,
        "grad_norm": None,
        "update_ratio": None,
        "activation_mean": 0.5,
        "activation_std": pytest.approx(0.1),
        "dead_fraction": None,
    }
    assert layers[1]["dead_fraction"] == 0.125
    assert layers[2]["dead_fraction"] is None


def test_snapshot_payload_for_1000_probe_images_is_small(api: Api) -> None:
    run = api.store.create_run({"dataset": "digits"}, source="cli")
    rng = np.random.default_rng(0)
    count, classes = 1000, 10
    api.store.add_snapshot(
        run.id,
        0,
        epoch=1.0,
        step=10,
        metrics={"train_loss": 1.0},
        arrays={
            "logits": rng.normal(size=(count, classes)).astype(np.float16),
            "embedding": rng.normal(size=(count, 64)).astype(np.float16),
            "positions": rng.normal(size=(count, 2)).astype(np.float32),
            "confusion": rng.integers(0, 100, (classes, classes)).astype(np.int32),
            "layer_names": np.array([f"layer{i}" for i in range(12)]),
            "layer_weight_norm": rng.random(12).astype(np.float32),
        },
    )
    response = api.client.get(f"/api/runs/{run.id}/snapshots/0")
    assert response.status_code == 200
    assert len(response.content) < 200_000
    assert decode_array(response.json()["probabilities"]).shape == (count, classes)


def test_probe_and_atlas(api: Api) -> None:
    run_id = seed_run(api.store)
    probe = api.client.get(f"/api/runs/{run_id}/probe").json()
    digest = probe.pop("images_digest")
    assert re.fullmatch(r"[0-9a-f]{24}", digest)
    assert probe == {
        "count": PROBE_COUNT,
        "labels": (np.arange(PROBE_COUNT) % NUM_CLASSES).tolist(),
        "class_names": ["a", "b", "c"],
        "tile_width": 5,
        "tile_height": 4,
        "channels": 1,
        "columns": 4,  # ceil(sqrt(12))
        "atlas_url": f"/api/runs/{run_id}/probe/atlas.png",
        "evaluated": None,  # recorded before the evaluation set was
        "validation_size": None,
    }
    response = api.client.get(probe["atlas_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers["cache-control"]
    picture = Image.open(io.BytesIO(response.content))
    assert picture.mode == "L"  # grayscale images travel as an 8-bit grayscale PNG
    atlas = np.asarray(picture)[..., None]
    assert atlas.shape == (3 * 4, 4 * 5, 1)  # 3 rows of 4 tiles
    images = probe_images()
    for i in range(PROBE_COUNT):
        row, column = divmod(i, 4)
        tile = atlas[row * 4 : (row + 1) * 4, column * 5 : (column + 1) * 5]
        assert (tile == images[i]).all(), i
    assert (api.store_dir / "runs" / run_id / "atlas.png").is_file()  # built once, cached
    assert api.client.get(probe["atlas_url"]).content == response.content


def test_probe_not_recorded_yet_is_404(api: Api) -> None:
    run = api.client.post("/api/runs", json=TINY).json()
    response = api.client.get(f"/api/runs/{run['id']}/probe")
    assert response.status_code == 404
    assert "no probe set yet" in response.json()["detail"]
    assert api.client.get(f"/api/runs/{run['id']}/timeline").status_code == 404


def test_timeline_counts_forgetting_events(api: Api) -> None:
    run_id = seed_run(api.store)
    body = api.client.get(f"/api/runs/{run_id}/timeline").json()
    assert body["epochs"] == [0.5, 1.0, 2.0]
    correct = decode_array(body["correct"])
    assert body["correct"]["dtype"] == "uint8"
    assert correct.tolist() == CORRECTNESS.astype(int).tolist()
    probability = decode_array(body["true_probability"])
    assert probability.shape == (3, PROBE_COUNT)
    assert ((probability > 0.5) == CORRECTNESS).all()
    assert body["forgetting_events"] == [0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    assert body["first_learned"] == [1, -1, 0, 0, 2, 1, 1, 2, 0, 0, 0, 0]
    # Never learned first (image 1), then the forgotten ones: equal counts, so the lower
    # mean true-class probability first (3 and 6 were right once, 2 twice).
    assert body["hardest"] == [1, 3, 6, 2]
    empty = seed_run(api.store, snapshots=0)
    body = api.client.get(f"/api/runs/{empty}/timeline").json()
    assert body["epochs"] == [] and body["hardest"] == []
    assert decode_array(body["correct"]).shape == (0, PROBE_COUNT)


def test_web_app_fallback_and_missing_build(api: Api, tmp_path) -> None:
    page = api.client.get("/")
    assert page.status_code == 200
    assert "make web" in page.text
    assert api.client.get("/api/nothing-here").status_code == 404

    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<html>app</html>")
    (static / "assets" / "app-1234.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("secret")
    app = create_app(
        Settings(store_dir=tmp_path / "store2", workers=1), start_workers=False, static_dir=static
    )
    with TestClient(app) as client:
        assert client.get("/").text == "<html>app</html>"
        assert client.get("/runs/abc/explain").text == "<html>app</html>"  # SPA route
        asset = client.get("/assets/app-1234.js")
        assert asset.text == "console.log(1)"
        assert "immutable" in asset.headers["cache-control"]
        assert "secret" not in client.get("/..%2Fsecret.txt").text
        assert "secret" not in client.get("/assets/..%2F..%2Fsecret.txt").text
        assert client.get("/api/runs").json() == []
        assert client.get("/api/unknown").status_code == 404
        assert client.get("/openapi.json").json()["info"]["title"] == "convscope"


def test_server_process_never_imports_tensorflow(tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, warnings
        from pathlib import Path
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
        from convscope.config import Settings
        from convscope.server.app import create_app
        app = create_app(Settings(store_dir=Path({str(tmp_path)!r}), workers=1),
                         start_workers=False)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            for path in ("/api/health", "/api/datasets", "/api/architectures", "/api/runs",
                         "/api/lenses"):
                assert client.get(path).status_code == 200, path
            body = {{"dataset": "digits", "train_size": 300, "probe_size": 50}}
            assert client.post("/api/runs", json=body).status_code == 201
            assert client.post("/api/runs", json={{"arch": "nope"}}).status_code == 422
            # The user's own material is checked and kept without Keras too.
            from upload_files import class_folders_zip, png_bytes
            image = {{"file": ("a.png", png_bytes(np.zeros((5, 5))))}}
            assert client.post("/api/uploads/images", files=image).status_code == 201
            folders = {{"file": ("d.zip", class_folders_zip())}}
            response = client.post("/api/datasets", files=folders, data={{"name": "mine"}})
            assert response.status_code == 201, response.text
            model = {{"file": ("m.keras", b"PK\x03\x04")}}
            assert client.post("/api/models", files=model).status_code == 503
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print(heavy)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_probe_digest_tells_equal_probe_sets_apart_and_reports_the_evaluation(
    api: Api,
) -> None:
    first, second, third = (seed_run(api.store) for _ in range(3))
    labels = np.arange(PROBE_COUNT, dtype=np.int64) % NUM_CLASSES
    other_images = probe_images()[::-1].copy()
    api.store.write_run_arrays(
        third,
        "probe",
        {
            "indices": np.arange(PROBE_COUNT),
            "images": other_images,
            "labels": labels,
            "eval_indices": np.arange(40),
            "validation_size": np.array(500),
        },
    )
    probes = [api.client.get(f"/api/runs/{run}/probe").json() for run in (first, second, third)]
    assert probes[0]["images_digest"] == probes[1]["images_digest"]
    assert probes[2]["images_digest"] != probes[0]["images_digest"]
    assert (probes[2]["evaluated"], probes[2]["validation_size"]) == (40, 500)
