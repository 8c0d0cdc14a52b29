"""Finding dataset files on disk, and Keras' download as the last resort."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from convscope import config
from convscope.datasets.base import DataDir


def candidate_dirs(data_dir: DataDir, subdirs: Sequence[str]) -> list[Path]:
    """Directories to search, in order: each search root's ``subdirs``, then the root itself.

    Args:
        data_dir: The user's directory (``--data-dir``), searched first.
        subdirs: Relative sub-directories where the dataset usually lives.

    Returns:
        Distinct directories, in search order (they need not exist).
    """
    found: list[Path] = []
    for root in config.data_search_dirs(data_dir):
        for candidate in [*(root / sub for sub in subdirs), root]:
            if candidate not in found:
                found.append(candidate)
    return found


def first_file(directory: Path, names: Iterable[str]) -> Path | None:
    """The first of ``names`` that is a regular file in ``directory``, or ``None``."""
    for name in names:
        path = directory / name
        if path.is_file():
            return path
    return None


def searched_text(dirs: Sequence[Path]) -> str:
    """The searched directories as one line for a message."""
    return ", ".join(str(d) for d in dirs)


def keras_download(module: str) -> Any:
    """Ask Keras to download a dataset (``keras.datasets.<module>.load_data()``).

    Only ``load_dataset`` calls this, after every local directory failed: listing datasets
    must never touch the network. Keras is imported here because importing it is slow.

    Returns:
        Keras' ``((x_train, y_train), (x_test, y_test))``.
    """
    loader = importlib.import_module(f"keras.datasets.{module}")
    return loader.load_data()


def download_hint() -> str:
    """Where Keras keeps what it downloads, for ``Dataset.source``."""
    return f"{config.KERAS_CACHE} (downloaded by Keras)"
