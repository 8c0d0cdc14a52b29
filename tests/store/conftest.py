"""Fixtures of the store tests: a real SQLite store in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convscope.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store under ``tmp_path/store``, closed after the test."""
    opened = Store(tmp_path / "store")
    yield opened
    opened.close()
