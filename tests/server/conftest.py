"""Fixtures of the server tests: the app over a real store in a temporary directory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from convscope.config import Settings
from convscope.server.app import create_app

# The tests import their helpers as `server_helpers` (tests are imported in importlib
# mode, without their directory on the path); spawned worker processes inherit this path
# and import the helper trainer from there too.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from server_helpers import Api, TestClient  # noqa: E402 - needs the path above


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The app on an empty store, lifespan running, no worker processes."""
    store_dir = tmp_path / "store"
    app = create_app(
        Settings(store_dir=store_dir, workers=1),
        start_workers=False,
        static_dir=tmp_path / "no-static",
    )
    with TestClient(app) as client:
        yield Api(client, app, app.state.store, store_dir)
