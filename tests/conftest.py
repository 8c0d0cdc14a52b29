"""Fixtures shared by every test folder: a throwaway PostgreSQL server for the store."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Test helpers are imported by name (tests run in importlib mode, without their folders on
# the path); spawned worker processes inherit the path too.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from pg_server import PostgresServer, postgres_server  # noqa: E402 - needs the path above


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (started on first use)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def database_for(request: pytest.FixtureRequest) -> Callable[[str], str | None]:
    """``database_for(backend)``: the database URL of a store on that backend.

    ``"sqlite"`` gives None (SQLite in the store folder); ``"postgresql"`` a fresh, empty
    database on the session's throwaway server.
    """

    def make(backend: str) -> str | None:
        if backend == "sqlite":
            return None
        if backend != "postgresql":
            raise ValueError(f"unknown backend {backend!r}")
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.create_database()

    return make
