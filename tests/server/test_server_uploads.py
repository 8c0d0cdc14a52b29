"""The user's own material over HTTP: images, datasets and models, good and hostile.

Every hostile file is built here; each must get a 4xx naming the field and the reason,
leave nothing in the store, run nothing, and leave the server serving.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from server_helpers import TestClient
from upload_files import (
    LAMBDA_CONFIG,
    bomb_png,
    class_folders_zip,
    config_with_layer,
    jpeg_bytes,
    keras_bytes,
    png_bytes,
    zip_bomb,
    zip_bytes,
)

from convscope.config import Settings
from convscope.server.app import create_app
from convscope.server.encoding import decode_array
from convscope.store import Store

UPLOAD_LIMIT = 2 << 20


def keras_file_bytes(tmp_path: Path, model: keras.Model) -> bytes:
    path = tmp_path / "model.keras"
    model.save(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    """A user's model: 8x8 grey images in 0..1, conv, pool, dense, softmax over 3 classes."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", padding="same", name="conv"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, activation="softmax", name="scores"),
        ],
        name="users_model",
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app with one inspection worker, on a store of its own."""
    root = tmp_path_factory.mktemp("uploads")
    settings = Settings(
        store_dir=root / "store", workers=0, inspection_workers=1, max_upload_bytes=UPLOAD_LIMIT
    )
    app = create_app(settings, static_dir=root / "no-static")
    with TestClient(app) as client:
        assert app.state.inspection.wait_ready(120)
        yield client, app.state.store


def store_files(store: Store) -> set[str]:
    """Every file in the store but the database's."""
    return {
        str(path.relative_to(store.root))
        for path in store.root.rglob("*")
        if path.is_file() and not path.name.startswith("convscope.db")
    }


def post_file(client, url: str, file_name: str, data: bytes, **fields):
    return client.post(url, files={"file": (file_name, data)}, data=fields)


# -- the good path -------------------------------------------------------------------------


def test_an_imported_model_opens_in_every_lens(served, small_model, tmp_path) -> None:
    client, _store = served
    data = keras_file_bytes(tmp_path, small_model)
    response = post_file(
        client,
        "/api/models",
        "mine.keras",
        data,
        class_names='["cat", "dog", "bird"]',
        pixel_scale=str(1 / 255),
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["source"] == "imported" and run["status"] == "done"
    assert run["class_names"] == ["cat", "dog", "bird"] and run["num_snapshots"] == 1
    assert run["config"]["input_shape"] == [8, 8, 1]
    pixels = np.arange(64).reshape(8, 8) * 3
    url = f"/api/runs/{run['id']}/lenses/activations"
    body = client.post(url, json={"image": {"pixels": pixels.tolist()}}).json()
    expected = np.asarray(small_model(pixels[None, :, :, None] / 255, training=False))
    np.testing.assert_allclose(decode_array(body["arrays"]["scores"]), expected, rtol=1e-5)
    for lens in ("filters", "feature_visualisation", "architecture"):
        response = client.post(f"/api/runs/{run['id']}/lenses/{lens}", json={"params": {}})
        assert response.status_code == 200, (lens, response.text)
    fv = client.post(
        f"/api/runs/{run['id']}/lenses/feature_visualisation", json={"params": {"steps": 4}}
    ).json()
    assert fv["meta"]["input_range"] == [0.0, 1.0]  # from the declared pixel scale


def test_an_imported_model_can_follow_a_datasets_probe_set(served, tmp_path) -> None:
    client, store = served
    keras.utils.set_random_seed(1)
    digits_model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    data = keras_file_bytes(tmp_path, digits_model)
    response = post_file(
        client, "/api/models", "d.keras", data, probe_dataset="digits", pixel_scale="0.5"
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["class_names"] == [str(digit) for digit in range(10)]
    probe = store.read_run_arrays(run["id"], "probe")
    assert probe["images"].shape[1:] == (8, 8, 1) and len(probe["labels"]) >= 300
    np.testing.assert_allclose(probe["inputs"], probe["images"] * 0.5)
    body = {"params": {"layer": "conv", "channel": 1, "count": 3}}
    top = client.post(f"/api/runs/{run['id']}/lenses/top_images", json=body).json()
    tap = keras.Model(digits_model.inputs[0], digits_model.get_layer("conv").output)
    scores = np.asarray(tap(probe["inputs"]))[..., 1].reshape(len(probe["inputs"]), -1).mean(1)
    np.testing.assert_allclose(
        decode_array(top["arrays"]["scores"]), np.sort(scores)[::-1][:3], rtol=1e-5
    )
    health = client.post(f"/api/runs/{run['id']}/lenses/layer_health", json={})
    assert health.status_code == 200, health.text
    # A dataset whose images or classes do not fit the model is refused by name.
    wrong = post_file(client, "/api/models", "d.keras", data, probe_dataset="shapes")
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "probe_dataset"]


def test_an_uploaded_image_is_converted_to_the_models_input(served, small_model, tmp_path) -> None:
    client, _ = served
    run = post_file(
        client, "/api/models", "m.keras", keras_file_bytes(tmp_path, small_model)
    ).json()
    colour = np.zeros((16, 20, 3), np.uint8)
    colour[:, :10, 0] = 255  # left half red, right half black
    response = post_file(client, "/api/uploads/images", "photo.png", png_bytes(colour))
    assert response.status_code == 201, response.text
    upload = response.json()
    assert (upload["width"], upload["height"]) == (20, 16) and len(upload["id"]) == 16
    body = client.post(
        f"/api/runs/{run['id']}/lenses/activations", json={"image": {"upload": upload["id"]}}
    ).json()
    conversion = body["meta"]["image"]
    assert conversion["from"] == [16, 20] and conversion["to"] == [8, 8, 1]
    assert conversion["grey"] is True
    assert any("stretched" in step for step in conversion["steps"])
    # What the model saw: the picture turned grey and resized, as Pillow does it.
    from PIL import Image

    grey = Image.fromarray(colour).convert("L").resize((8, 8), Image.Resampling.BILINEAR)
    seen = np.asarray(grey, np.float32)[None, :, :, None]
    expected = np.asarray(small_model(seen, training=False))
    np.testing.assert_allclose(decode_array(body["arrays"]["scores"]), expected, rtol=1e-5)
    jpeg = post_file(client, "/api/uploads/images", "p.jpg", jpeg_bytes(colour))
    assert jpeg.status_code == 201


def test_an_uploaded_dataset_is_listed_and_can_be_trained(served) -> None:
    client, store = served
    response = post_file(
        client,
        "/api/datasets",
        "shades.zip",
        class_folders_zip(wrapper="shades/"),
        name="shades",
        image_size="10",
        grayscale="true",
    )
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["name"] == "shades" and info["class_names"] == ["dark", "light"]
    assert info["image_shape"] == [10, 10, 1] and info["available"]
    assert info["train_count"] + info["test_count"] == 12
    manifest = json.loads((store.datasets_dir / "shades.json").read_text())
    assert manifest["file"] == "shades.zip" and manifest["skipped_count"] == 0
    listed = {d["name"]: d for d in client.get("/api/datasets").json()}
    assert listed["shades"]["description"].startswith("Uploaded")
    config = {"dataset": "shades", "epochs": 1, "probe_size": 2}
    created = client.post("/api/runs", json=config)
    assert created.status_code == 201, created.text
    assert created.json()["class_names"] == ["dark", "light"]
    # A training process registers the store's datasets itself.
    from convscope.training.runner import train_run

    record = train_run(store, created.json()["id"])
    assert record.status == "done", record.error
    again = post_file(client, "/api/datasets", "s.zip", class_folders_zip(), name="shades")
    assert again.status_code == 422 and "exists" in again.text


# -- hostile input -------------------------------------------------------------------------

FAKE_PNG = b"this is not an image at all\n" * 10
TRUNCATED_PNG = png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64, 3)))[:700]
DOTS = zip_bytes({"cats/../../escape.png": png_bytes(np.zeros((4, 4))), "b/x.png": b""})
ABSOLUTE = zip_bytes({"/etc/cats/a.png": png_bytes(np.zeros((4, 4))), "b/x.png": b""})
LINK = zip_bytes({"cats/a.png": b"/etc/passwd", "dogs/b.png": b""}, links=("cats/a.png",))
IMAGE_CASES = [
    ("bomb.png", bomb_png(30_000), 413, "pixels"),
    ("big.png", bomb_png(5_000), 413, "max_image_pixels"),
    ("fake.png", FAKE_PNG, 415, "not a PNG or JPEG"),
    ("cut.png", TRUNCATED_PNG, 422, "truncated"),
    ("empty.png", b"", 415, "empty"),
    ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * UPLOAD_LIMIT, 413, "max_upload_bytes"),
]
DATASET_CASES = [
    ("dots.zip", DOTS, 422, "outside the zip"),
    ("absolute.zip", ABSOLUTE, 422, "outside the zip"),
    ("link.zip", LINK, 422, "symbolic link"),
    ("bomb.zip", zip_bomb(), 413, "max_compression_ratio"),
    ("notes.zip", FAKE_PNG, 415, "not a zip"),
    ("big.zip", b"PK\x03\x04" + b"\x00" * UPLOAD_LIMIT, 413, "max_upload_bytes"),
]
UNKNOWN = config_with_layer(
    {"module": "keras.layers", "class_name": "MyOwnLayer", "config": {"name": "mine"}}
)
SENTINEL = Path("/tmp/convscope-hostile-model-ran")
OUTSIDE = config_with_layer({"module": "os", "class_name": "system", "config": f"touch {SENTINEL}"})
MODEL_CASES = [
    ("lambda.keras", keras_bytes(LAMBDA_CONFIG), 422, "Lambda"),
    ("unknown.keras", keras_bytes(UNKNOWN), 422, "allowlist"),
    ("outside.keras", keras_bytes(OUTSIDE), 422, "not from Keras"),
    ("old.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, 415, ".keras"),
    ("notes.keras", FAKE_PNG, 415, "zip"),
    ("big.keras", b"PK\x03\x04" + b"\x00" * UPLOAD_LIMIT, 413, "max_model_bytes"),
]


def refused(client, store, url, file_name, data, status, words, **fields) -> None:
    before = store_files(store)
    runs_before = len(store.list_runs())
    response = post_file(client, url, file_name, data, **fields)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"][:2] == ["body", "file"], detail
    assert words in detail[0]["msg"], detail
    assert store_files(store) == before  # nothing stored, no temporary file left
    assert len(store.list_runs()) == runs_before
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize(("name", "data", "status", "words"), IMAGE_CASES)
def test_hostile_images_are_refused(served, name, data, status, words) -> None:
    client, store = served
    refused(client, store, "/api/uploads/images", name, data, status, words)


@pytest.mark.parametrize(("name", "data", "status", "words"), DATASET_CASES)
def test_hostile_zips_are_refused(served, name, data, status, words) -> None:
    client, store = served
    refused(client, store, "/api/datasets", name, data, status, words, name="hostile")
    assert "hostile" not in {d["name"] for d in client.get("/api/datasets").json()}


@pytest.mark.parametrize(("name", "data", "status", "words"), MODEL_CASES)
def test_hostile_models_are_refused(served, name, data, status, words) -> None:
    client, store = served
    SENTINEL.unlink(missing_ok=True)
    refused(client, store, "/api/models", name, data, status, words)
    assert not SENTINEL.exists()  # nothing in the file ran


def test_a_zip_with_one_usable_class_says_so(served) -> None:
    client, store = served
    data = zip_bytes({"cats/a.png": png_bytes(np.zeros((4, 4))), "dogs/b.txt": b"woof"})
    refused(client, store, "/api/datasets", "pets.zip", data, 422, "two", name="pets")


@pytest.mark.parametrize(
    ("fields", "loc", "words"),
    [
        ({"name": "../up"}, "name", "letters, digits"),
        ({"name": "digits"}, "name", "exists"),
        ({"name": "ok", "image_size": "4"}, "image_size", ""),
    ],
)
def test_bad_dataset_fields_are_named(served, fields, loc, words) -> None:
    client, _ = served
    response = post_file(client, "/api/datasets", "d.zip", class_folders_zip(), **fields)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(loc in entry["loc"] and words in entry["msg"] for entry in detail), detail


def test_class_names_must_match_the_model(served, small_model, tmp_path) -> None:
    client, _store = served
    data = keras_file_bytes(tmp_path, small_model)
    response = post_file(client, "/api/models", "m.keras", data, class_names="a, b")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "class_names"]
    assert "3 classes" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("image", "loc"),
    [
        ({"upload": "0123456789abcdef"}, None),
        ({"upload": "../../etc/passwd"}, ["body", "image", "upload"]),
    ],
)
def test_an_unknown_or_malformed_upload_id(served, small_model, tmp_path, image, loc) -> None:
    client, _ = served
    run = post_file(
        client, "/api/models", "m.keras", keras_file_bytes(tmp_path, small_model)
    ).json()
    response = client.post(f"/api/runs/{run['id']}/lenses/activations", json={"image": image})
    if loc is None:
        assert response.status_code == 404 and "no uploaded image" in response.text
    else:
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][:3] == loc


def test_a_lens_of_a_layer_that_does_not_exist(served, small_model, tmp_path) -> None:
    client, _ = served
    run = post_file(
        client, "/api/models", "m.keras", keras_file_bytes(tmp_path, small_model)
    ).json()
    for lens in ("filters", "feature_visualisation", "activations"):
        params = {"layers": ["conv9"]} if lens == "activations" else {"layer": "conv9"}
        body = {"params": params, "image": {"pixels": np.zeros((8, 8)).tolist()}}
        response = client.post(f"/api/runs/{run['id']}/lenses/{lens}", json=body)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"][0]
        assert detail["loc"][:3] == [
            "body",
            "params",
            "layers" if lens == "activations" else "layer",
        ]
        assert "conv" in detail["msg"]  # the valid layers are listed
