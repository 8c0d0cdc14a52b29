"""Every dataset test sees empty search directories and no network, whatever the machine has."""

from __future__ import annotations

from pathlib import Path

import pytest

from convscope import config
from convscope.datasets import _files


@pytest.fixture(autouse=True)
def keras_downloads(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Hide the user's ~/.keras and /usr/share/datasets; record Keras download attempts.

    Returns:
        The list of ``keras.datasets`` modules a test asked Keras to download.
    """
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    monkeypatch.setattr(config, "SYSTEM_DATASETS", tmp_path_factory.mktemp("system"))
    calls: list[str] = []

    def offline(module: str) -> None:
        calls.append(module)
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(_files, "keras_download", offline)
    return calls


@pytest.fixture
def keras_cache() -> Path:
    """The (empty, per-test) Keras cache directory, created."""
    cache = config.KERAS_CACHE.expanduser()
    cache.mkdir(parents=True)
    return cache
