"""What users upload: images under ``<root>/uploads/images/``, datasets under ``<root>/datasets/``.

Clients never name files: an uploaded image gets a random id, a dataset a checked name,
and only this module turns them into paths. Files are written atomically, and only after
every check has passed, so a refused upload leaves nothing behind.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from convscope.errors import InvalidInput, NotFound, StoreError

from .arrays import atomic_write_bytes, write_npz
from .base import StoreBase

UPLOAD_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
DATASET_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
#: File name endings of the image formats kept, by their first bytes.
_IMAGE_SUFFIXES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg"}
#: Where uploaded datasets live, inside the store.
DATASETS_DIR = "datasets"


def check_dataset_name(name: object) -> str:
    """Return ``name`` if it can name an uploaded dataset (and its files).

    Raises:
        InvalidInput: Not 1 to 40 letters, digits, ``_`` or ``-``, starting with a letter
            or digit (``field`` is ``"name"``).
    """
    if not isinstance(name, str) or DATASET_NAME_PATTERN.fullmatch(name) is None:
        raise InvalidInput(
            "name",
            "a dataset name is 1 to 40 letters, digits, '_' or '-', starting with a letter "
            f"or a digit; got {name!r}",
        )
    return name


class UploadsMixin(StoreBase):
    """Uploaded images and datasets, beside the runs."""

    @property
    def datasets_dir(self) -> Path:
        """``<root>/datasets``: one ``<name>.npz`` (images) and ``<name>.json`` (what it
        holds) per uploaded dataset."""
        return self.root / DATASETS_DIR

    def save_upload_image(self, data: bytes) -> str:
        """Keep an uploaded image (already decoded once, so known to be a PNG or JPEG).

        Returns:
            Its id, 16 hexadecimal digits.
        """
        suffix = next(
            (end for start, end in _IMAGE_SUFFIXES.items() if data.startswith(start)), None
        )
        if suffix is None:
            raise InvalidInput("file", "not a PNG or JPEG image")
        directory = self.root / "uploads" / "images"
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create {directory}: {error}") from error
        upload_id = secrets.token_hex(8)
        atomic_write_bytes(directory / f"{upload_id}{suffix}", data)
        return upload_id

    def upload_image(self, upload_id: object) -> bytes:
        """The bytes of an uploaded image.

        Raises:
            NotFound: Malformed or unknown id.
        """
        if not isinstance(upload_id, str) or UPLOAD_ID_PATTERN.fullmatch(upload_id) is None:
            raise NotFound(f"no uploaded image with id {upload_id!r}")
        for suffix in _IMAGE_SUFFIXES.values():
            path = self.root / "uploads" / "images" / f"{upload_id}{suffix}"
            if path.is_file():
                return path.read_bytes()
        raise NotFound(f"no uploaded image with id {upload_id!r}")

    def save_dataset(
        self, name: str, arrays: Mapping[str, np.ndarray], manifest: Mapping[str, Any]
    ) -> Path:
        """Keep an uploaded dataset: its arrays, then its manifest (which makes it listed).

        Args:
            name: A name accepted by :func:`check_dataset_name`, not used yet.
            arrays: ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 NHWC, int64).
            manifest: JSON-compatible description (class names, counts...).

        Returns:
            The manifest's path.

        Raises:
            InvalidInput: Bad name, or a dataset of that name exists (``field`` ``"name"``).
        """
        check_dataset_name(name)
        directory = self.datasets_dir
        if (directory / f"{name}.json").exists():
            raise InvalidInput("name", f"a dataset named {name!r} exists already")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create {directory}: {error}") from error
        write_npz(directory / f"{name}.npz", arrays)
        return atomic_write_bytes(directory / f"{name}.json", json.dumps(dict(manifest)).encode())
