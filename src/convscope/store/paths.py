"""How ids and names map to paths. Clients never give paths: every part is checked here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from convscope.errors import InvalidInput, NotFound

RUN_ID_PATTERN = re.compile(r"[0-9a-f]{12}")
#: Largest snapshot index: SQLite integers are 64-bit, and no run records 2**31 snapshots.
MAX_INDEX = 2**31 - 1
# File names inside a run directory: dot-separated words, never "..", never hidden.
_FILE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
_ARRAYS_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_SUFFIX_PATTERN = re.compile(r"(\.[A-Za-z0-9_-]+)*")
_MAX_NAME = 100
_MAX_SUFFIX = 32
#: Directory of the snapshot files inside a run directory; not usable as a file name.
SNAPSHOTS_DIR = "snapshots"


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if it has the run id format, else raise ``NotFound``.

    A malformed id cannot name a run, so it is reported as not found, before any path is
    built from it.
    """
    if not isinstance(run_id, str) or RUN_ID_PATTERN.fullmatch(run_id) is None:
        raise NotFound(f"no run with id {run_id!r}")
    return run_id


def check_index(index: object) -> int:
    """Return a snapshot index as an int, or raise ``InvalidInput`` if it is not one >= 0."""
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise InvalidInput("index", f"must be an integer >= 0, got {index!r}")
    value = int(index)
    if not 0 <= value <= MAX_INDEX:
        raise InvalidInput("index", f"must be an integer in 0..{MAX_INDEX}, got {value}")
    return value


def check_file_name(name: object) -> str:
    """Return ``name`` if it is an allowed file name inside a run directory."""
    if (
        not isinstance(name, str)
        or len(name) > _MAX_NAME
        or _FILE_NAME_PATTERN.fullmatch(name) is None
        or name == SNAPSHOTS_DIR
    ):
        raise InvalidInput(
            "name",
            f"{name!r} is not an allowed file name (letters, digits, '_', '-', "
            f"and '.' between them, at most {_MAX_NAME} characters)",
        )
    return name


def check_arrays_name(name: object) -> str:
    """Return ``name`` if it is an allowed run-level array bundle name (``"probe"``)."""
    if (
        not isinstance(name, str)
        or len(name) > _MAX_NAME
        or _ARRAYS_NAME_PATTERN.fullmatch(name) is None
        or name == SNAPSHOTS_DIR
    ):
        raise InvalidInput(
            "name",
            f"{name!r} is not an allowed array bundle name (letters, digits, '_', '-')",
        )
    return name


def check_suffix(suffix: object) -> str:
    """Return ``suffix`` if it is an allowed temp file suffix (``".weights.npz"``, ``""``)."""
    if (
        not isinstance(suffix, str)
        or len(suffix) > _MAX_SUFFIX
        or _SUFFIX_PATTERN.fullmatch(suffix) is None
    ):
        raise InvalidInput("suffix", f"{suffix!r} is not an allowed file suffix")
    return suffix


def snapshot_arrays_file(run_dir: Path, index: int) -> Path:
    """``runs/<id>/snapshots/<index:04d>.npz``."""
    return run_dir / SNAPSHOTS_DIR / f"{index:04d}.npz"


def snapshot_weights_file(run_dir: Path, index: int) -> Path:
    """``runs/<id>/snapshots/<index:04d>.weights.npz``."""
    return run_dir / SNAPSHOTS_DIR / f"{index:04d}.weights.npz"
