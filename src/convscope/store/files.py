"""Files of a run under ``<root>/runs/<run_id>/``: ids and checked names map to paths."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from convscope.errors import InvalidInput, NotFound, StoreError

from . import schema
from .arrays import TEMP_PREFIX, atomic_write_bytes, atomic_writer, fsync_dir, read_npz, write_npz
from .base import StoreBase
from .paths import (
    RUN_ID_PATTERN,
    SNAPSHOTS_DIR,
    check_arrays_name,
    check_file_name,
    check_run_id,
    check_suffix,
)

#: Temp files of a running run younger than this may still be in use by its worker.
DEFAULT_TEMP_MAX_AGE_S = 3600.0


def install_file(source: str | os.PathLike[str], target: Path, field: str) -> None:
    """Move a finished temp file to its final name durably (fsync, ``os.replace``, fsync dir).

    Args:
        source: The file written by the caller.
        target: Its final name.
        field: Name of the argument, for the error message.
    """
    source = Path(source)
    if not source.is_file():
        raise InvalidInput(field, f"{source} is not a file")
    try:
        with open(source, "rb") as handle:
            os.fsync(handle.fileno())  # the data must be on disk before the rename is
        try:
            os.replace(source, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            # On another file system a rename is impossible: copy atomically, then remove.
            with atomic_writer(target) as out, open(source, "rb") as inp:
                shutil.copyfileobj(inp, out)
            source.unlink()
    except OSError as error:
        raise StoreError(f"cannot move {source} to {target}: {error}") from error
    fsync_dir(target.parent)


class FilesMixin(StoreBase):
    """Run directories, run-level files and arrays, temp files."""

    def run_dir(self, run_id: str) -> Path:
        """Return the directory of a run, creating it if needed.

        Args:
            run_id: The run.

        Returns:
            ``<root>/runs/<run_id>``.

        Raises:
            NotFound: The id is malformed (nothing is touched) or unknown.
        """
        path = self._run_path(run_id)
        with self._read() as conn:
            self._require_run(conn, run_id)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the run directory {path}: {error}") from error
        return path

    def temp_path(self, run_id: str, suffix: str = "") -> Path:
        """Return a fresh, unused path for a temp file inside the run directory.

        The file is not created. Write it, then hand it to ``add_snapshot(weights_file=...)``
        or ``install_run_file``, which move it to its final name.

        Args:
            run_id: The run.
            suffix: End of the file name, such as ``".weights.npz"``.

        Returns:
            A path whose name starts with ``".tmp-"``.
        """
        check_suffix(suffix)
        return self.run_dir(run_id) / f"{TEMP_PREFIX}{secrets.token_hex(8)}{suffix}"

    def write_run_arrays(self, run_id: str, name: str, arrays: Mapping[str, Any]) -> Path:
        """Write run-level arrays (``"probe"`` -> ``runs/<id>/probe.npz``) atomically.

        Args:
            run_id: The run.
            name: Bundle name: letters, digits, ``_`` and ``-``.
            arrays: Names mapped to arrays.

        Returns:
            The path of the ``.npz`` file.
        """
        check_arrays_name(name)
        return write_npz(self.run_dir(run_id) / f"{name}.npz", arrays)

    def read_run_arrays(self, run_id: str, name: str) -> dict[str, np.ndarray]:
        """Read run-level arrays written by ``write_run_arrays``.

        Raises:
            NotFound: Malformed or unknown run, or no such bundle.
        """
        check_arrays_name(name)
        path = self._run_path(run_id) / f"{name}.npz"
        try:
            return read_npz(path)
        except FileNotFoundError:
            raise NotFound(f"run {run_id} has no arrays named {name!r}") from None

    def write_run_file(self, run_id: str, name: str, data: bytes) -> Path:
        """Write a run-level file (``"model.keras"``, ``"atlas.png"``) atomically.

        Args:
            run_id: The run.
            name: File name: dot-separated words of letters, digits, ``_`` and ``-``.
            data: Its content.

        Returns:
            The path written.
        """
        check_file_name(name)
        target = self.run_dir(run_id) / name
        try:
            return atomic_write_bytes(target, data)
        except OSError as error:
            raise StoreError(f"cannot write {target}: {error}") from error

    def install_run_file(self, run_id: str, name: str, temp_file: str | os.PathLike[str]) -> Path:
        """Move a file the caller wrote (e.g. at ``temp_path``) to a run-level name, durably.

        For files written by other libraries (``model.save``), without reading them back.

        Args:
            run_id: The run.
            name: Final file name, as for ``write_run_file``.
            temp_file: The written file; it is moved, not copied.

        Returns:
            The final path.
        """
        check_file_name(name)
        target = self.run_dir(run_id) / name
        install_file(temp_file, target, "temp_file")
        return target

    def run_file(self, run_id: str, name: str) -> Path:
        """Return the path of an existing run-level file, for reading.

        Raises:
            NotFound: Malformed or unknown run, or no such file.
        """
        check_file_name(name)
        path = self._run_path(run_id) / name
        if not path.is_file():
            raise NotFound(f"run {run_id} has no file named {name!r}")
        return path

    def cleanup_temp_files(
        self, run_id: str | None = None, *, max_age_s: float = DEFAULT_TEMP_MAX_AGE_S
    ) -> int:
        """Remove stale ``.tmp-*`` files left by processes killed mid-write.

        A temp file is stale when its run is not running, or when it is older than
        ``max_age_s`` (a running worker may still be writing a younger one).

        Args:
            run_id: Only this run; None for every run directory.
            max_age_s: Age from which a temp file of a running run is stale.

        Returns:
            How many files were removed.
        """
        runs_root = self.root / "runs"
        if run_id is not None:
            dirs = [self._run_path(run_id)]
        else:
            try:
                dirs = [d for d in runs_root.iterdir() if RUN_ID_PATTERN.fullmatch(d.name)]
            except FileNotFoundError:
                dirs = []
        with self._read() as conn:
            running = set(
                conn.execute(
                    select(schema.runs.c.id).where(
                        schema.runs.c.status == "running",
                        schema.runs.c.id.in_([check_run_id(d.name) for d in dirs]),
                    )
                ).scalars()
            )
        now = time.time()
        removed = 0
        for directory in dirs:
            for path in [
                *directory.glob(f"{TEMP_PREFIX}*"),
                *(directory / SNAPSHOTS_DIR).glob(f"{TEMP_PREFIX}*"),
            ]:
                with contextlib.suppress(FileNotFoundError):
                    if directory.name in running and now - path.lstat().st_mtime < max_age_s:
                        continue
                    if path.is_file() or path.is_symlink():
                        path.unlink()
                        removed += 1
        return removed
