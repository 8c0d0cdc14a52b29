"""CIFAR-10 from its "python version" batches, read by an unpickler that cannot run code.

The batches are Python pickles, and unpickling an arbitrary file runs whatever code it
names. We therefore (1) only open a directory with the exact CIFAR-10 layout, (2) refuse
files larger than a real batch could be, and (3) unpickle with :class:`SafeUnpickler`,
which resolves no global except numpy's array and dtype reconstruction (and the latin-1
bytes encoding of protocol 2), wrapped so that they build plain numeric arrays only.
Dicts, lists, bytes, str and ints need no globals.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from convscope.datasets import _files
from convscope.datasets.base import DataDir, Dataset, DatasetInfo, DatasetSource, register_dataset
from convscope.errors import DataUnavailable

LAYOUT_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# Where the layout directory is found below each search root: plain, Keras' extraction
# folder, or a folder the user named after the dataset.
_SUBDIRS = (
    LAYOUT_DIR,
    f"cifar-10-batches-py-target/{LAYOUT_DIR}",
    f"cifar10/{LAYOUT_DIR}",
    f"cifar-10/{LAYOUT_DIR}",
    "cifar10",
    "cifar-10",
)
_MAX_BATCH_BYTES = 64 << 20  # a real batch is 31 MB
_NUMERIC_KINDS = "biuf"


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # numpy pickles an array as an empty placeholder filled by __setstate__; refusing any
    # other shape stops a forged file from allocating a huge array here.
    if subtype is not np.ndarray or tuple(shape) not in ((0,), ()):
        raise pickle.UnpicklingError("unexpected array reconstruction arguments")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _dtype(name: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if isinstance(name, bytes):
        name = name.decode("ascii", errors="replace")
    if not isinstance(name, str):
        raise pickle.UnpicklingError("unexpected dtype description")
    # copy=True always: the pickle then sets the state of a fresh dtype, never of numpy's
    # shared uint8 instance.
    dtype = np.dtype(name, align=bool(align), copy=True)
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
        raise pickle.UnpicklingError(f"refusing non-numeric dtype {name!r}")
    return dtype


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS:
        raise pickle.UnpicklingError("refusing non-numeric array")
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape, order="F" if order == "F" else "C")


def _encode(text: Any, encoding: Any = "latin1") -> bytes:
    # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("unexpected _codecs.encode arguments")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy's array-reconstruction globals (wrapped)."""

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed global, or refuse the file."""
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return allowed


def _unpickle(path: Path) -> Any:
    size = path.stat().st_size
    if size > _MAX_BATCH_BYTES:
        raise _corrupt(path, f"it is {size} bytes, larger than any CIFAR-10 batch")
    try:
        # encoding="bytes": the batches were written by Python 2, whose str is our bytes.
        return SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as error:  # a forged pickle can raise nearly anything
        raise _corrupt(path, f"it is not a plain CIFAR-10 pickle ({error})") from error


def _corrupt(path: Path, why: str) -> DataUnavailable:
    return DataUnavailable(f"{path} is not a usable CIFAR-10 file: {why}.")


def _field(batch: Any, key: str, path: Path) -> Any:
    if not isinstance(batch, dict):
        raise _corrupt(path, "it does not hold a dict")
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    raise _corrupt(path, f"it has no {key!r} entry")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file.

    Args:
        path: ``data_batch_N`` or ``test_batch``.

    Returns:
        uint8 images (N, 32, 32, 3) and int64 labels (N,).

    Raises:
        DataUnavailable: The file is not a CIFAR-10 batch.
    """
    batch = _unpickle(path)
    data = _field(batch, "data", path)
    labels = _field(batch, "labels", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise _corrupt(path, "its data is not a uint8 (N, 3072) array")
    if data.shape[1] != 3 * 32 * 32:
        raise _corrupt(path, f"its rows hold {data.shape[1]} values instead of 3072")
    if not isinstance(labels, list | np.ndarray) or len(labels) != len(data):
        raise _corrupt(path, f"it has {len(labels)} labels for {len(data)} images")
    y = np.asarray(labels)
    if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= len(CLASS_NAMES))):
        raise _corrupt(path, "its labels are not integers from 0 to 9")
    # Each row is the red plane, then green, then blue, each 32x32 row-major.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), y.astype(np.int64)


def read_class_names(path: Path) -> tuple[str, ...]:
    """Class names from ``batches.meta``; the standard names if it does not match them."""
    names = _field(_unpickle(path), "label_names", path)
    if not isinstance(names, list) or len(names) != len(CLASS_NAMES):
        raise _corrupt(path, "its label_names is not a list of 10 names")
    return tuple(
        n.decode("utf-8", errors="replace") if isinstance(n, bytes) else str(n) for n in names
    )


def _is_layout(directory: Path) -> bool:
    return all((directory / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH, META))


@register_dataset(
    "cifar10",
    title="CIFAR-10",
    description="60,000 colour 32x32 photos in 10 classes (airplane, cat, ship...).",
)
class Cifar10(DatasetSource):
    """CIFAR-10 from a ``cifar-10-batches-py`` directory, or Keras' download."""

    def find(self, data_dir: DataDir) -> Path | None:
        """The first searched directory with the full CIFAR-10 layout."""
        for directory in _files.candidate_dirs(data_dir, _SUBDIRS):
            if _is_layout(directory):
                return directory
        return None

    def missing_message(self, data_dir: DataDir) -> str:
        """Where we looked and how to get the files."""
        dirs = _files.candidate_dirs(data_dir, _SUBDIRS)
        return (
            f"CIFAR-10 files not found. Looked in: {_files.searched_text(dirs)}. Expected "
            f"{', '.join((*TRAIN_BATCHES, TEST_BATCH, META))} (the python version). To get "
            "them: extract cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
            "into one of those directories, or pass --data-dir (or set CONVSCOPE_DATA) to a "
            "directory that holds cifar-10-batches-py; with network access Keras downloads it."
        )

    def describe(self, data_dir: DataDir, options: Mapping[str, Any]) -> DatasetInfo:
        directory = self.find(data_dir)
        return self.info(
            image_shape=(32, 32, 3),
            class_names=CLASS_NAMES,
            available=directory is not None,
            location=None if directory is None else str(directory),
            reason=None if directory is not None else self.missing_message(data_dir),
            train_count=50000,
            test_count=10000,
        )

    def load(self, data_dir: DataDir, options: Mapping[str, Any]) -> Dataset:
        directory = self.find(data_dir)
        if directory is not None:
            train = [read_batch(directory / name) for name in TRAIN_BATCHES]
            x_test, y_test = read_batch(directory / TEST_BATCH)
            class_names = read_class_names(directory / META)
            x_train = np.concatenate([x for x, _ in train])
            y_train = np.concatenate([y for _, y in train])
            source = str(directory)
        else:
            try:
                (x_train, y_train), (x_test, y_test) = _files.keras_download("cifar10")
            except Exception as error:  # any failure means "not available", never a crash
                raise DataUnavailable(
                    f"{self.missing_message(data_dir)} Keras could not download it either "
                    f"({type(error).__name__}: {error})."
                ) from error
            class_names, source = CLASS_NAMES, _files.download_hint()
        return Dataset(
            name=self.name,
            x_train=np.asarray(x_train, dtype=np.uint8),
            y_train=np.asarray(y_train).reshape(-1).astype(np.int64),
            x_test=np.asarray(x_test, dtype=np.uint8),
            y_test=np.asarray(y_test).reshape(-1).astype(np.int64),
            class_names=class_names,
            source=source,
        )
