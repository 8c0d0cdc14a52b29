"""Atomic files: bytes and ``.npz`` array bundles that are either complete or absent.

A file is written to a temporary name in the same directory, flushed and fsynced, then
renamed over its final name with ``os.replace``, and the directory is fsynced so that the
rename itself survives a crash. Readers therefore never see a half-written file, and a
process killed mid-write leaves at worst a stale ``.tmp-*`` file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from convscope.errors import InvalidInput, StoreError

#: Every temporary file the store writes starts with this prefix, so that stale ones can be
#: recognised and removed (see ``Store.cleanup_temp_files``).
TEMP_PREFIX = ".tmp-"

# mkstemp creates files readable by the owner only; final files get the usual permissions.
_FILE_MODE = 0o644


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory entry to disk, so that a rename inside it is durable.

    Args:
        directory: The directory that holds the renamed file.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms (Windows) where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories; the rename still holds
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a binary file that replaces ``path`` only when the ``with`` block succeeds.

    Args:
        path: The final file name; its directory must exist.

    Returns:
        A context manager yielding a writable binary file object. On an exception the
        temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _FILE_MODE)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, ``os.replace``, fsync dir).

    Args:
        path: The final file name; its directory must exist.
        data: The whole content of the file.

    Returns:
        The path written, as a ``Path``.
    """
    with atomic_writer(path) as handle:
        handle.write(data)
    return Path(path)


def _checked_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Convert the values to arrays and refuse what cannot be stored without pickle."""
    if not isinstance(arrays, Mapping):
        raise InvalidInput("arrays", f"expected a mapping of names to arrays, got {type(arrays)}")
    checked: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or "\x00" in key:
            raise InvalidInput("arrays", f"array names must be non-empty strings, got {key!r}")
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise InvalidInput(
                f"arrays[{key!r}]", "object arrays cannot be stored (they would need pickle)"
            )
        checked[key] = array
    return checked


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> Path:
    """Write named arrays to an uncompressed ``.npz`` file, atomically and without pickle.

    The file has the layout of ``np.savez`` (a zip of ``.npy`` members), written member by
    member so that names such as ``"file"`` are allowed and nothing is held twice in memory.

    Args:
        path: The final file name (conventionally ending in ``.npz``); its directory must exist.
        arrays: Names mapped to arrays or array-likes; object dtypes are refused.

    Returns:
        The path written, as a ``Path``.

    Raises:
        InvalidInput: A name is not a non-empty string or an array has an object dtype;
            nothing is written then.
    """
    checked = _checked_arrays(arrays)
    with (
        atomic_writer(path) as handle,
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as bundle,
    ):
        for key, array in checked.items():
            with bundle.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return Path(path)


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file into memory and close the file.

    Args:
        path: The file to read.

    Returns:
        The arrays by name, in the order they were written.

    Raises:
        FileNotFoundError: The file does not exist.
        StoreError: The file is damaged, is not an ``.npz`` bundle, or holds pickled objects.
    """
    try:
        # We open the file ourselves: np.load leaks its handle when the zip is damaged.
        with open(path, "rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise StoreError(f"{path} is not an .npz array bundle")
            with loaded:
                return {key: loaded[key] for key in loaded.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise StoreError(f"cannot read the array file {path}: {error}") from error
