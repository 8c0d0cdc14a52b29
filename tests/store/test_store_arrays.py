"""Atomic files and .npz bundles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convscope.errors import InvalidInput, StoreError
from convscope.store import atomic_write_bytes, read_npz, write_npz


def test_atomic_write_bytes_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    atomic_write_bytes(target, b"first")
    assert atomic_write_bytes(target, b"second") == target
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_npz_round_trip_keeps_dtypes_shapes_and_awkward_names(tmp_path: Path) -> None:
    arrays = {
        "logits": np.random.default_rng(0).normal(size=(5, 3)).astype(np.float16),
        "labels": np.arange(5, dtype=np.int64),
        "file": np.zeros((2, 2), dtype=np.uint8),  # a name np.savez(**kw) cannot take
        "scalar": np.float32(1.5),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    path = write_npz(tmp_path / "x.npz", arrays)
    loaded = read_npz(path)
    assert list(loaded) == list(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == np.asarray(value).dtype
    # The layout is the standard one: numpy's own loader reads it.
    with np.load(path, allow_pickle=False) as raw:
        assert sorted(raw.files) == sorted(arrays)


def test_object_arrays_are_refused_and_the_old_file_survives(tmp_path: Path) -> None:
    target = tmp_path / "x.npz"
    write_npz(target, {"a": np.ones(3)})
    with pytest.raises(InvalidInput, match="object"):
        write_npz(target, {"a": np.array([{"x": 1}], dtype=object)})
    np.testing.assert_array_equal(read_npz(target)["a"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]


def test_failure_mid_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x.npz"
    write_npz(target, {"a": np.ones(3)})

    def write_half_then_fail(fp: Any, array: np.ndarray, **kwargs: Any) -> None:
        fp.write(b"\x93NUMPY half an array")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_npz(target, {"a": np.zeros(3)})
    monkeypatch.undo()
    np.testing.assert_array_equal(read_npz(target)["a"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]


def test_read_npz_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "missing.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(StoreError, match=re.escape("damaged.npz")):
        read_npz(damaged)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(2))
    with pytest.raises(StoreError, match=re.escape("not an .npz")):
        read_npz(single)
