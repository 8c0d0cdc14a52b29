"""Cached lens results: ``runs/<id>/lenses/<key>.npz``, arrays and their metadata.

A lens of a stored snapshot never changes, so its result is computed once. The key is a
hash of everything the result depends on (lens and version, snapshots, image, target,
parameters), made by the caller; files go with their run when it is deleted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from convscope.errors import InvalidInput, StoreError

from .arrays import read_npz, write_npz
from .files import FilesMixin

_KEY_PATTERN = re.compile(r"[0-9a-f]{64}")
#: Name of the member holding the metadata as UTF-8 JSON; lens arrays never start with "_".
_META = "__meta__"
RESULTS_DIR = "lenses"


def _check_key(key: object) -> str:
    if not isinstance(key, str) or _KEY_PATTERN.fullmatch(key) is None:
        raise InvalidInput("key", "a result key is 64 hexadecimal digits")
    return key


class ResultsMixin(FilesMixin):
    """Lens results cached as files inside their run's directory."""

    def read_lens_result(
        self, run_id: str, key: str
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The cached result under ``key``, or None when there is none (or it is damaged)."""
        path = self._run_path(run_id) / RESULTS_DIR / f"{_check_key(key)}.npz"
        try:
            arrays = read_npz(path)
        except (FileNotFoundError, StoreError):
            return None
        meta_bytes = arrays.pop(_META, None)
        if meta_bytes is None:
            return None
        return arrays, json.loads(meta_bytes.tobytes().decode("utf-8"))

    def write_lens_result(
        self, run_id: str, key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
    ) -> None:
        """Cache a result under ``key``, atomically.

        Raises:
            NotFound: Unknown run.
        """
        directory = self.run_dir(run_id) / RESULTS_DIR
        try:
            directory.mkdir(exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create {directory}: {error}") from error
        encoded = np.frombuffer(json.dumps(dict(meta)).encode("utf-8"), dtype=np.uint8)
        write_npz(directory / f"{_check_key(key)}.npz", {**arrays, _META: encoded})
