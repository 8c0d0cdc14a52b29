"""Fixtures of the store tests: a real store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convscope.store import Store
from pg_server import BACKENDS


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, database_for: Callable[[str], str | None]
) -> str | None:
    """Every test that uses the store runs once per database backend."""
    return database_for(request.param)


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Iterator[Store]:
    """An empty store: arrays under ``tmp_path/store``, the database per backend."""
    opened = Store(tmp_path / "store", url=database_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """An empty store on SQLite, for what only SQLite has (its PRAGMA settings)."""
    opened = Store(tmp_path / "store")
    yield opened
    opened.close()
