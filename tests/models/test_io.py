"""Atomic saving, and loading that refuses any .keras file able to run code."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import h5py
import keras
import numpy as np
import pytest

from convscope.errors import InvalidInput, PayloadTooLarge, UnsafeModel
from convscope.models.build import build_model
from convscope.models.io import check_model_config, load_model, save_model
from convscope.models.presets import get_preset, preset_names
from convscope.models.spec import ArchSpec, ConvBlock, FlattenBlock


@keras.saving.register_keras_serializable(package="convscope_tests")
class Doubler(keras.layers.Layer):
    """A custom layer that counts how often it is created, to prove loading never ran it."""

    created: ClassVar[int] = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        Doubler.created += 1

    def call(self, inputs: Any) -> Any:
        return inputs * 2


@keras.saving.register_keras_serializable(package="convscope_tests")
def doubled(tensor: Any) -> Any:
    return tensor * 2


def tiny_model() -> keras.Model:
    return build_model(ArchSpec(blocks=[ConvBlock(filters=2), FlattenBlock()]), (8, 8, 1), 3)


def rewrite(
    source: Path,
    target: Path,
    replace: dict[str, bytes] | None = None,
    extra: list[tuple[zipfile.ZipInfo, bytes]] | None = None,
) -> Path:
    """Copy a .keras zip, replacing some entries and adding others."""
    replace = replace or {}
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            copy.writestr(info.filename, replace.get(info.filename, original.read(info)))
        for info, data in extra or []:
            copy.writestr(info, data)
    return target


def saved_config(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.mark.parametrize("name", preset_names())
def test_round_trip_of_each_preset_predicts_the_same(
    name: str, tmp_path: Path, images_8x8: np.ndarray
) -> None:
    model = build_model(get_preset(name), (8, 8, 1), 4, seed=3)
    path = save_model(model, tmp_path / f"{name}.keras")
    assert path == tmp_path / f"{name}.keras"
    loaded = load_model(path)
    assert loaded.name == name
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(
        np.asarray(loaded(images_8x8, training=False)),
        np.asarray(model(images_8x8, training=False)),
    )


def test_save_is_atomic_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "model.keras"
    save_model(tiny_model(), path)
    first = path.read_bytes()
    save_model(build_model(get_preset("mlp"), (8, 8, 1), 3), path)
    assert path.read_bytes() != first
    assert [p.name for p in path.parent.iterdir()] == ["model.keras"]


def test_save_refuses_another_suffix(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        save_model(tiny_model(), tmp_path / "model.h5")
    assert caught.value.field == "path"
    assert list(tmp_path.iterdir()) == []


def test_compiled_model_loads_uncompiled(tmp_path: Path) -> None:
    model = tiny_model()
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    loaded = load_model(save_model(model, tmp_path / "compiled.keras"))
    assert not loaded.compiled


def test_lambda_layer_is_refused(tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda tensor: tensor * 2)(inputs))
    path = save_model(model, tmp_path / "lambda.keras")
    with pytest.raises(UnsafeModel, match="Lambda layers hold arbitrary Python code"):
        load_model(path)


def test_custom_layer_is_refused_before_keras_creates_it(tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    path = save_model(keras.Model(inputs, Doubler()(inputs)), tmp_path / "custom.keras")
    created = Doubler.created
    with pytest.raises(UnsafeModel, match="Doubler"):
        load_model(path)
    assert Doubler.created == created


def test_custom_activation_function_is_refused(tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation=doubled)(inputs))
    with pytest.raises(UnsafeModel, match="not from Keras"):
        load_model(save_model(model, tmp_path / "activation.keras"))


def test_non_zip_and_wrong_suffix_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.keras"
    fake.write_bytes(b"\x89HDF\r\n\x1a\n not a zip")
    with pytest.raises(UnsafeModel, match="not a zip"):
        load_model(fake)
    renamed = tmp_path / "model.zip"
    renamed.write_bytes(save_model(tiny_model(), tmp_path / "ok.keras").read_bytes())
    with pytest.raises(UnsafeModel, match=r"not a \.keras file"):
        load_model(renamed)
    with pytest.raises(InvalidInput):
        load_model(tmp_path / "missing.keras")


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = save_model(tiny_model(), tmp_path / "model.keras")
    with pytest.raises(PayloadTooLarge, match="max_model_bytes") as caught:
        load_model(path, max_bytes=1000)
    assert caught.value.limit == "max_model_bytes"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "points outside the zip"),
        ("/etc/evil", "points outside the zip"),
        ("assets\\..\\evil", "points outside the zip"),
        ("C:evil", "points outside the zip"),
        ("notes.txt", "unexpected entry"),
    ],
)
def test_zip_with_a_bad_entry_is_refused(tmp_path: Path, name: str, reason: str) -> None:
    good = save_model(tiny_model(), tmp_path / "good.keras")
    bad = rewrite(good, tmp_path / "bad.keras", extra=[(zipfile.ZipInfo(name), b"x")])
    with pytest.raises(UnsafeModel, match=reason):
        load_model(bad)


def test_zip_with_a_link_is_refused(tmp_path: Path) -> None:
    good = save_model(tiny_model(), tmp_path / "good.keras")
    link = zipfile.ZipInfo("config.json")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(good) as original, zipfile.ZipFile(tmp_path / "bad.keras", "w") as copy:
        for info in original.infolist():
            if info.filename == "config.json":
                copy.writestr(link, b"/etc/passwd")
            else:
                copy.writestr(info.filename, original.read(info))
    with pytest.raises(UnsafeModel, match="is a symbolic link"):
        load_model(tmp_path / "bad.keras")


def test_zip_bomb_and_missing_entries_are_refused(tmp_path: Path) -> None:
    good = save_model(tiny_model(), tmp_path / "good.keras")
    with zipfile.ZipFile(good) as original, zipfile.ZipFile(tmp_path / "bomb.keras", "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "metadata.json":
                data = b" " * (8 * 1024 * 1024) + data
            copy.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(PayloadTooLarge, match="a zip bomb") as caught:
        load_model(tmp_path / "bomb.keras")
    assert caught.value.limit == "max_compression_ratio"
    with zipfile.ZipFile(good) as original, zipfile.ZipFile(tmp_path / "part.keras", "w") as copy:
        copy.writestr("config.json", original.read("config.json"))
        copy.writestr("metadata.json", original.read("metadata.json"))
    with pytest.raises(UnsafeModel, match=r"missing model\.weights\.h5"):
        load_model(tmp_path / "part.keras")


def test_weights_with_an_external_link_are_refused(tmp_path: Path) -> None:
    good = save_model(tiny_model(), tmp_path / "good.keras")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_group("layers")
        h5["layers/secret"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/")
    bad = rewrite(good, tmp_path / "bad.keras", replace={"model.weights.h5": buffer.getvalue()})
    with pytest.raises(UnsafeModel, match="link"):
        load_model(bad)


def test_forged_config_in_a_file_is_refused(tmp_path: Path) -> None:
    good = save_model(tiny_model(), tmp_path / "good.keras")
    config = saved_config(good)
    config["config"]["layers"][2]["module"] = "os"
    bad = rewrite(
        good, tmp_path / "bad.keras", replace={"config.json": json.dumps(config).encode()}
    )
    with pytest.raises(UnsafeModel, match="module 'os'"):
        load_model(bad)
    broken = rewrite(good, tmp_path / "broken.keras", replace={"config.json": b"{not json"})
    with pytest.raises(UnsafeModel, match="not valid JSON"):
        load_model(broken)


def mutate(config: dict[str, Any], change: str) -> dict[str, Any]:
    conv = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D")
    if change == "custom_registered_name":
        conv["registered_name"] = "evil>Conv2D"
    elif change == "unlisted_layer":
        conv["class_name"] = "TFSMLayer"
    elif change == "keras_internal_module":
        conv["module"] = "keras.src.utils.file_utils"
    elif change == "activation_helper":
        conv["config"]["activation"] = "deserialize"
    elif change == "unknown_activation":
        conv["config"]["activation"] = "evil_function"
    elif change == "initializer_from_elsewhere":
        conv["config"]["kernel_initializer"]["module"] = "numpy.random"
    elif change == "typespec":
        conv["config"]["extra"] = {"class_name": "__typespec__", "module": "tensorflow"}
    elif change == "top_level_layer":
        return conv
    return config


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("custom_registered_name", "custom registered"),
        ("unlisted_layer", "TFSMLayer"),
        ("keras_internal_module", "allowlist"),
        ("activation_helper", "not a built-in activation"),
        ("unknown_activation", "not a built-in activation"),
        ("initializer_from_elsewhere", "numpy.random"),
        ("typespec", "__typespec__"),
        ("top_level_layer", "Functional or Sequential"),
    ],
)
def test_forged_configs_are_refused(tmp_path: Path, change: str, reason: str) -> None:
    config = saved_config(save_model(tiny_model(), tmp_path / "good.keras"))
    check_model_config(config)
    with pytest.raises(UnsafeModel, match=reason):
        check_model_config(mutate(config, change))


def test_deeply_nested_config_is_refused_without_crashing() -> None:
    nested: Any = {"class_name": "Lambda", "module": "keras.layers"}
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(UnsafeModel, match="Lambda"):
        check_model_config({"class_name": "Functional", "module": "keras", "config": nested})
