"""The executor interface on the local executor: calls in another process, runs it does
not own, and the choice of executor."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from convscope.config import Settings
from convscope.errors import InvalidInput
from convscope.store import Store
from convscope.training.executor import Executor, check_executor_kind
from convscope.training.executors import make_executor
from convscope.training.jobs import WorkerPool


def test_the_local_executor_computes_calls_in_another_process(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        pool = make_executor(Settings(store_dir=tmp_path, workers=0), store)
        assert isinstance(pool, WorkerPool) and isinstance(pool, Executor)
        assert pool.kind == "local"
        try:
            matrix = np.arange(12, dtype=np.float64).reshape(4, 3) + np.eye(4, 3)
            q, r = pool.submit_call(np.linalg.qr, matrix).result(timeout=60)
            assert np.allclose(q @ r, matrix)
            assert pool.submit_call(os.getpid).result(timeout=60) != os.getpid()
        finally:
            pool.stop()


def test_a_run_the_executor_does_not_train_is_not_its_own(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        pool = make_executor(Settings(store_dir=tmp_path, workers=0), store)
        run = store.claim_run(store.create_run({}, source="cli").id, os.getpid())
        assert run is not None
        assert not pool.owns(run) and pool.slots() == 0
        pool.cancel(run)  # nothing to signal: the test process is not one of its workers
        assert not pool.force_stop(run, "x")
        assert store.get_run(run.id).status == "running"


def test_an_unknown_executor_is_refused() -> None:
    assert check_executor_kind("ray") == "ray"
    with pytest.raises(InvalidInput) as info:
        check_executor_kind("spark")
    assert info.value.field == "executor" and info.value.choices == ["local", "ray"]
