"""Fashion-MNIST and MNIST from idx files and Keras' npz, built here in the real formats."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from convscope import config
from convscope.datasets import _files, dataset_info, load_dataset
from convscope.errors import DataUnavailable

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file of unsigned bytes: zero, zero, type 0x08, dimensions, sizes, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def fake_arrays(seed: int, train: int = 30, test: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(train, dtype=np.uint8) % 10,
        "test_images": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(test, dtype=np.uint8) % 10,
    }


def write_idx(directory: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for role, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (directory / f"{NAMES[role]}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / NAMES[role]).write_bytes(data)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
    )


def test_gzipped_idx_files_load(tmp_path: Path) -> None:
    arrays = fake_arrays(0)
    write_idx(tmp_path / "fashion-mnist", arrays)
    fashion = load_dataset("fashion_mnist", data_dir=tmp_path)
    assert fashion.x_train.shape == (30, 28, 28, 1) and fashion.x_test.shape == (10, 28, 28, 1)
    assert np.array_equal(fashion.x_train[..., 0], arrays["train_images"])
    assert fashion.y_test.dtype == np.int64
    assert np.array_equal(fashion.y_test, arrays["test_labels"])
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[9] == "Ankle boot"
    assert fashion.source == str(tmp_path / "fashion-mnist")


def test_plain_idx_files_in_the_data_env_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = fake_arrays(1)
    write_idx(tmp_path, arrays, gz=False)
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path))
    mnist = load_dataset("mnist")
    assert np.array_equal(mnist.x_test[..., 0], arrays["test_images"])
    assert mnist.class_names == tuple("0123456789")


def test_keras_mnist_npz_in_the_keras_cache(keras_cache: Path) -> None:
    arrays = fake_arrays(2)
    write_npz(keras_cache / "mnist.npz", arrays)
    info = dataset_info("mnist")
    assert info.available and info.location == str(keras_cache)
    mnist = load_dataset("mnist")
    assert np.array_equal(mnist.x_train[..., 0], arrays["train_images"])
    assert mnist.source == str(keras_cache / "mnist.npz")


def test_the_users_directory_comes_before_the_keras_cache(
    tmp_path: Path, keras_cache: Path
) -> None:
    write_idx(keras_cache / "fashion-mnist", fake_arrays(3))
    mine = fake_arrays(4)
    write_idx(tmp_path / "mine" / "fashion_mnist", mine)
    assert load_dataset("fashion_mnist").source == str(keras_cache / "fashion-mnist")
    chosen = load_dataset("fashion_mnist", data_dir=tmp_path / "mine")
    assert np.array_equal(chosen.x_train[..., 0], mine["train_images"])


def test_missing_files_name_every_directory_searched(
    tmp_path: Path, keras_downloads: list[str]
) -> None:
    with pytest.raises(DataUnavailable) as caught:
        load_dataset("fashion_mnist", data_dir=tmp_path)
    message = str(caught.value)
    for directory in _files.candidate_dirs(tmp_path, ("fashion-mnist", "fashion_mnist")):
        assert str(directory) in message
    assert str(config.SYSTEM_DATASETS / "fashion-mnist") in message
    assert "dataset-fashion-mnist" in message and "--data-dir" in message
    assert "no network in tests" in message
    assert keras_downloads == ["fashion_mnist"]


def test_keras_download_is_the_last_resort(monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = fake_arrays(5)
    keras_style = (
        (arrays["train_images"], arrays["train_labels"]),
        (arrays["test_images"], arrays["test_labels"]),
    )
    monkeypatch.setattr(_files, "keras_download", lambda module: keras_style)
    assert not dataset_info("mnist").available  # listing never downloads
    mnist = load_dataset("mnist")
    assert mnist.x_train.shape == (30, 28, 28, 1)
    assert "downloaded by Keras" in mnist.source


def corrupt_cases() -> dict[str, tuple[str, bytes]]:
    good = idx_bytes(fake_arrays(6)["train_images"])
    return {
        "bad magic": ("magic number", b"\x00\x00\x09\x03" + good[4:]),
        "wrong rank": ("dimensions", b"\x00\x00\x08\x02" + good[4:]),
        "truncated": ("its header says", good[:-5]),
        "trailing": ("beyond", good + b"\x00"),
        "short header": ("cut short", good[:9]),
    }


@pytest.mark.parametrize("case", sorted(corrupt_cases()))
def test_corrupt_idx_files_are_reported_clearly(tmp_path: Path, case: str) -> None:
    write_idx(tmp_path / "mnist", fake_arrays(6))
    expected, data = corrupt_cases()[case]
    (tmp_path / "mnist" / f"{NAMES['train_images']}.gz").write_bytes(gzip.compress(data))
    with pytest.raises(DataUnavailable, match=expected) as caught:
        load_dataset("mnist", data_dir=tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(caught.value)


def test_a_file_that_is_not_gzip_is_reported(tmp_path: Path) -> None:
    write_idx(tmp_path / "mnist", fake_arrays(7))
    (tmp_path / "mnist" / f"{NAMES['test_labels']}.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataUnavailable, match="cannot be read"):
        load_dataset("mnist", data_dir=tmp_path)


def test_labels_that_do_not_match_the_images_are_reported(tmp_path: Path) -> None:
    arrays = fake_arrays(8)
    arrays["test_labels"] = arrays["test_labels"][:-1]
    write_idx(tmp_path / "mnist", arrays)
    with pytest.raises(DataUnavailable, match="9 labels"):
        load_dataset("mnist", data_dir=tmp_path)
    arrays = fake_arrays(8)
    arrays["train_labels"][0] = 12
    write_idx(tmp_path / "mnist", arrays)
    with pytest.raises(DataUnavailable, match="labels must be 0 to 9"):
        load_dataset("mnist", data_dir=tmp_path)


def test_bad_npz_files_are_reported(tmp_path: Path) -> None:
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataUnavailable, match="lacks the arrays y_train"):
        load_dataset("mnist", data_dir=tmp_path)
    arrays = {f"{k}": np.array([{"a": 1}], dtype=object) for k in ("x_train", "y_train")}
    np.savez(tmp_path / "mnist.npz", **arrays, x_test=arrays["x_train"], y_test=arrays["x_train"])
    with pytest.raises(DataUnavailable, match="cannot be read as a Keras npz"):
        load_dataset("mnist", data_dir=tmp_path)


def test_debians_fashion_mnist_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "SYSTEM_DATASETS", Path("/usr/share/datasets"))
    info = dataset_info("fashion_mnist")
    assert info.available and info.location == "/usr/share/datasets/fashion-mnist"
    fashion = load_dataset("fashion_mnist")
    assert fashion.x_train.shape == (60000, 28, 28, 1) and fashion.x_test.shape == (
        10000,
        28,
        28,
        1,
    )
    assert np.bincount(fashion.y_train).tolist() == [6000] * 10
    assert fashion.y_train[:5].tolist() == [9, 0, 0, 3, 0]
    assert 60 < fashion.x_train[:1000].mean() < 90
