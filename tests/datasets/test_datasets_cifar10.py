"""CIFAR-10 from pickle batches built here, and the unpickler that refuses code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from convscope.datasets import _files, dataset_info, load_dataset
from convscope.datasets.cifar10 import CLASS_NAMES
from convscope.errors import DataUnavailable

PER_BATCH = 6


def batch(seed: int, count: int = PER_BATCH) -> dict[bytes, object]:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": f"batch {seed}".encode(),
        b"labels": [int(label) for label in rng.integers(0, 10, count)],
        b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
        b"filenames": [f"image_{i}.png".encode() for i in range(count)],
    }


def write_cifar(directory: Path, protocol: int = 2) -> dict[str, dict[bytes, object]]:
    directory.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{i}": batch(i) for i in range(1, 6)}
    batches["test_batch"] = batch(9)
    for name, content in batches.items():
        (directory / name).write_bytes(pickle.dumps(content, protocol=protocol))
    meta = {b"label_names": [name.encode() for name in CLASS_NAMES], b"num_vis": 3072}
    (directory / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return batches


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_batches_load_as_nhwc(tmp_path: Path, protocol: int) -> None:
    batches = write_cifar(tmp_path / "cifar-10-batches-py", protocol)
    cifar = load_dataset("cifar10", data_dir=tmp_path)
    assert cifar.x_train.shape == (5 * PER_BATCH, 32, 32, 3)
    assert cifar.x_test.shape == (PER_BATCH, 32, 32, 3)
    assert cifar.y_train.dtype == np.int64
    assert cifar.y_train[:PER_BATCH].tolist() == batches["data_batch_1"][b"labels"]
    first = batches["data_batch_1"][b"data"][0]
    assert isinstance(first, np.ndarray)
    # Each row is 1024 reds, 1024 greens, 1024 blues: pixel (row 1, column 2) is below.
    assert cifar.x_train[0, 1, 2].tolist() == [first[34], first[1024 + 34], first[2048 + 34]]
    assert cifar.class_names == CLASS_NAMES
    assert cifar.source == str(tmp_path / "cifar-10-batches-py")


def test_numpy_1_pickles_load(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py", 2)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    # Older numpy names the reconstruct function under numpy.core.
    data = path.read_bytes()
    assert b"numpy._core.multiarray" in data
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert load_dataset("cifar10", data_dir=tmp_path).x_test.shape == (PER_BATCH, 32, 32, 3)


def test_keras_extraction_folder_in_the_keras_cache_is_found(keras_cache: Path) -> None:
    directory = keras_cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    write_cifar(directory)
    info = dataset_info("cifar10")
    assert info.available and info.location == str(directory)
    assert (info.train_count, info.image_shape) == (50000, (32, 32, 3))
    assert len(load_dataset("cifar10").y_test) == PER_BATCH


def test_an_incomplete_layout_is_not_used(tmp_path: Path, keras_downloads: list[str]) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    info = dataset_info("cifar10", data_dir=tmp_path)
    assert not info.available and info.reason is not None
    assert str(tmp_path / "cifar-10-batches-py") in info.reason
    assert keras_downloads == []
    with pytest.raises(DataUnavailable, match="Looked in") as caught:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "Keras could not download" in str(caught.value)
    assert keras_downloads == ["cifar10"]


class Payload:
    """Unpickling this would create a directory: proof that code ran."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.target),)


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    marker = tmp_path / "code-ran"
    evil = {b"data": Payload(marker), b"labels": [0]}
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps(evil))
    with pytest.raises(DataUnavailable, match="refusing to load") as caught:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "data_batch_3" in str(caught.value)
    assert not marker.exists()


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    odd = {b"data": np.array([[1, "a"]], dtype=object), b"labels": [0]}
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(odd, protocol=2))
    with pytest.raises(DataUnavailable, match="not a plain CIFAR-10 pickle"):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1, 2, 3], "does not hold a dict"),
        ({b"labels": [0]}, "no 'data' entry"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "instead of 3072"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "1 labels for 2 images"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, "integers from 0 to 9"),
    ],
)
def test_malformed_batches_are_reported(tmp_path: Path, content: object, message: str) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps(content))
    with pytest.raises(DataUnavailable, match=message):
        load_dataset("cifar10", data_dir=tmp_path)


def test_truncated_pickle_is_reported(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    path = tmp_path / "cifar-10-batches-py" / "batches.meta"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataUnavailable, match=r"batches\.meta"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_keras_download_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    images = np.zeros((4, 32, 32, 3), np.uint8)
    labels = np.array([[0], [1], [2], [3]], np.uint8)  # Keras gives (N, 1) labels
    monkeypatch.setattr(
        _files, "keras_download", lambda module: ((images, labels), (images, labels))
    )
    cifar = load_dataset("cifar10")
    assert cifar.y_train.tolist() == [0, 1, 2, 3] and cifar.y_train.dtype == np.int64
    assert "downloaded by Keras" in cifar.source
