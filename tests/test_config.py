"""Settings from the environment: the database URL under its two names, the executor."""

from __future__ import annotations

import pytest

from convscope.config import Settings, default_database_url


def test_the_database_url_comes_from_convscope_db_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVSCOPE_DB", raising=False)
    monkeypatch.delenv("CONVSCOPE_DATABASE_URL", raising=False)
    assert default_database_url() is None and Settings().database_url is None
    monkeypatch.setenv("CONVSCOPE_DATABASE_URL", "postgresql+psycopg://old@h/db")
    assert Settings().database_url == "postgresql+psycopg://old@h/db"
    monkeypatch.setenv("CONVSCOPE_DB", "postgresql+psycopg://new@h/db")
    assert Settings().database_url == "postgresql+psycopg://new@h/db"


def test_the_executor_defaults_to_local_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVSCOPE_EXECUTOR", raising=False)
    assert Settings().executor == "local" and Settings().ray_address is None
    monkeypatch.setenv("CONVSCOPE_EXECUTOR", "ray")
    monkeypatch.setenv("CONVSCOPE_RAY_ADDRESS", "head:6379")
    assert Settings().executor == "ray" and Settings().ray_address == "head:6379"
