"""Fixtures shared by several test folders: one small real run, trained once per session,
and a throwaway PostgreSQL server for the store."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import convscope  # noqa: F401  (selects the TensorFlow backend before Keras is imported)

# Test helpers are imported by name (tests run in importlib mode, without their folders on
# the path); spawned worker processes inherit the path too. The repository's root is on it
# as well: importlib mode names a test module ``tests.<folder>.<module>``, and a process
# spawned to run one of its functions must import it under that name.
HERE = str(Path(__file__).resolve().parent)
ROOT = str(Path(HERE).parent)
for folder in (ROOT, HERE):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from pg_server import PostgresServer, postgres_server  # noqa: E402 - needs the path above


@dataclass(frozen=True)
class TrainedRun:
    """A finished run stored in ``store_dir``."""

    store_dir: Path
    run_id: str
    snapshots: int


def _train(store_dir: Path, **config: object) -> TrainedRun:
    """Train one run of small_cnn in ``store_dir`` as the CLI does; it must end done."""
    from convscope.store import Store
    from convscope.training.config import RunConfig
    from convscope.training.runner import create_run, train_run

    with Store(store_dir) as store:
        run = create_run(store, RunConfig(**config), source="cli")
        record = train_run(store, run.id)
        assert record.status == "done", record.error
        return TrainedRun(store_dir, run.id, len(store.list_snapshots(run.id)))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """small_cnn trained on 300 digits for 2 epochs: snapshots at half an epoch and after
    each epoch, a probe set of 60 test images."""
    return _train(
        tmp_path_factory.mktemp("trained"),
        dataset="digits",
        train_size=300,
        test_size=120,
        probe_size=60,
        epochs=2,
        snapshot_fractions=[0.5],
    )


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


@pytest.fixture(scope="session")
def trained_shapes_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """small_cnn trained on 1,200 generated 32x32 shapes for 3 epochs (about 93% accurate):
    snapshots at half an epoch and after each epoch, a probe set of 60 images with their
    object masks."""
    return _train(
        tmp_path_factory.mktemp("shapes"),
        dataset="shapes",
        train_size=1200,
        test_size=120,
        probe_size=60,
        epochs=3,
        snapshot_fractions=[0.5],
    )
