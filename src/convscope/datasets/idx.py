"""MNIST and Fashion-MNIST: the idx files (gzip'd or not) or Keras' ``mnist.npz``."""

from __future__ import annotations

import gzip
import math
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from convscope.datasets import _files
from convscope.datasets.base import DataDir, Dataset, DatasetInfo, DatasetSource, register_dataset
from convscope.errors import DataUnavailable

#: The four files of the idx format, by role; each may also end in ``.gz``.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_UBYTE = 0x08
# Far above any real idx file, low enough that a forged header cannot ask for terabytes.
_MAX_IDX_BYTES = 1 << 31


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an idx file of unsigned bytes, checking its header against its contents.

    Args:
        path: The file; a ``.gz`` suffix means gzip'd.
        ndim: Dimensions expected: 3 for images, 1 for labels.

    Returns:
        A uint8 array of the shape the header declares.

    Raises:
        DataUnavailable: The file is not a valid idx file of that kind.
    """
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            magic = stream.read(4)
            if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] != _UBYTE:
                raise _corrupt(path, "its magic number is not that of an idx file of bytes")
            if magic[3] != ndim:
                raise _corrupt(path, f"it has {magic[3]} dimensions where {ndim} were expected")
            header = stream.read(4 * ndim)
            if len(header) < 4 * ndim:
                raise _corrupt(path, "its header is cut short")
            dims = struct.unpack(f">{ndim}I", header)
            size = math.prod(dims)
            if size > _MAX_IDX_BYTES:
                raise _corrupt(path, f"its header declares an implausible size {dims}")
            data = stream.read(size)
            if len(data) != size:
                raise _corrupt(path, f"it holds {len(data)} bytes of data, its header says {size}")
            if stream.read(1):
                raise _corrupt(path, "it has data beyond what its header declares")
    except (OSError, EOFError, zlib.error) as error:
        # BadGzipFile is an OSError; a truncated gzip stream raises EOFError.
        raise _corrupt(path, f"it cannot be read ({error})") from error
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _corrupt(path: Path, why: str) -> DataUnavailable:
    return DataUnavailable(f"{path} is not a usable dataset file: {why}.")


def _idx_paths(directory: Path) -> dict[str, Path] | None:
    paths = {}
    for role, stem in IDX_FILES.items():
        found = _files.first_file(directory, [f"{stem}.gz", stem])
        if found is None:
            return None
        paths[role] = found
    return paths


class IdxSource(DatasetSource):
    """Shared loader of the two 28x28 grayscale datasets in idx or npz form."""

    subdirs: ClassVar[tuple[str, ...]] = ()
    npz_names: ClassVar[tuple[str, ...]] = ()
    keras_module: ClassVar[str] = ""
    class_names: ClassVar[tuple[str, ...]] = ()
    how_to_get: ClassVar[str] = ""

    def find(self, data_dir: DataDir) -> tuple[Path | None, Path | dict[str, Path] | None]:
        """The first directory holding the files, and the files (an npz or the idx set)."""
        for directory in _files.candidate_dirs(data_dir, self.subdirs):
            paths = _idx_paths(directory)
            if paths is not None:
                return directory, paths
            npz = _files.first_file(directory, self.npz_names)
            if npz is not None:
                return directory, npz
        return None, None

    def missing_message(self, data_dir: DataDir) -> str:
        """Where we looked and how to get the files."""
        dirs = _files.candidate_dirs(data_dir, self.subdirs)
        wanted = ", ".join(f"{stem}.gz" for stem in IDX_FILES.values())
        return (
            f"{self.title} files not found. Looked in: {_files.searched_text(dirs)}. "
            f"Expected the idx files ({wanted}; gzip'd or not) or {' or '.join(self.npz_names)}. "
            f"To get them: {self.how_to_get}, or put the files in one of those directories, "
            "or pass --data-dir (or set CONVSCOPE_DATA) to a directory that holds them."
        )

    def describe(self, data_dir: DataDir, options: Mapping[str, Any]) -> DatasetInfo:
        directory, _ = self.find(data_dir)
        return self.info(
            image_shape=(28, 28, 1),
            class_names=self.class_names,
            available=directory is not None,
            location=None if directory is None else str(directory),
            reason=None if directory is not None else self.missing_message(data_dir),
            train_count=60000,
            test_count=10000,
        )

    def load(self, data_dir: DataDir, options: Mapping[str, Any]) -> Dataset:
        directory, files = self.find(data_dir)
        arrays: tuple[Any, ...]
        if isinstance(files, dict):
            arrays = (
                read_idx(files["train_images"], 3),
                read_idx(files["train_labels"], 1),
                read_idx(files["test_images"], 3),
                read_idx(files["test_labels"], 1),
            )
            where = str(directory)
        elif isinstance(files, Path):
            arrays = _read_npz(files)
            where = str(files)
        else:
            try:
                (x_train, y_train), (x_test, y_test) = _files.keras_download(self.keras_module)
            except Exception as error:  # any failure means "not available", never a crash
                raise DataUnavailable(
                    f"{self.missing_message(data_dir)} Keras could not download them either "
                    f"({type(error).__name__}: {error})."
                ) from error
            arrays = (x_train, y_train, x_test, y_test)
            where = _files.download_hint()
        return self._dataset(arrays, where)

    def _dataset(self, arrays: tuple[Any, ...], where: str) -> Dataset:
        x_train, y_train, x_test, y_test = (np.asarray(a) for a in arrays)
        for x, y, split in ((x_train, y_train, "training"), (x_test, y_test, "test")):
            if x.ndim != 3 or x.dtype != np.uint8:
                raise DataUnavailable(
                    f"{where}: {split} images must be uint8 (N, H, W), got {x.dtype} {x.shape}."
                )
            if y.reshape(-1).shape != (len(x),):
                raise DataUnavailable(
                    f"{where}: {len(x)} {split} images but {y.size} labels; the files do not match."
                )
            if y.size and (y.min() < 0 or y.max() >= len(self.class_names)):
                raise DataUnavailable(
                    f"{where}: {split} labels must be 0 to {len(self.class_names) - 1}."
                )
        if x_train.shape[1:] != x_test.shape[1:]:
            raise DataUnavailable(f"{where}: training and test images differ in size.")
        return Dataset(
            name=self.name,
            x_train=x_train[..., np.newaxis],
            y_train=y_train.reshape(-1).astype(np.int64),
            x_test=x_test[..., np.newaxis],
            y_test=y_test.reshape(-1).astype(np.int64),
            class_names=self.class_names,
            source=where,
        )


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        # allow_pickle=False: an npz of plain arrays never needs pickle, and pickle runs code.
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise _corrupt(path, f"it lacks the arrays {', '.join(missing)}")
            return tuple(archive[key] for key in keys)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise _corrupt(path, f"it cannot be read as a Keras npz file ({error})") from error


@register_dataset(
    "fashion_mnist",
    title="Fashion-MNIST",
    description="70,000 grayscale 28x28 photos of clothes in 10 classes (Zalando Research).",
)
class FashionMnist(IdxSource):
    """Fashion-MNIST from Debian's package, the Keras cache or the user's directory."""

    subdirs = ("fashion-mnist", "fashion_mnist")
    npz_names = ("fashion-mnist.npz", "fashion_mnist.npz")
    keras_module = "fashion_mnist"
    class_names = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    how_to_get = (
        "install Debian's package dataset-fashion-mnist (apt install dataset-fashion-mnist)"
    )


@register_dataset(
    "mnist",
    title="MNIST",
    description="70,000 grayscale 28x28 handwritten digits in 10 classes.",
)
class Mnist(IdxSource):
    """MNIST from Keras' ``mnist.npz`` or the idx files."""

    subdirs = ("mnist", "MNIST")
    npz_names = ("mnist.npz",)
    keras_module = "mnist"
    class_names = tuple(str(digit) for digit in range(10))
    how_to_get = "with network access Keras downloads mnist.npz into ~/.keras/datasets"
