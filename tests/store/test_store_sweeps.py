"""Sweeps in the store: created with their runs, listed, stopped early; the version 2
migration that added them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import inspect, text

from convscope.errors import InvalidInput, NotFound
from convscope.store import Store
from convscope.store.base import make_engine
from convscope.store.schema import read_schema_version
from convscope.training.sweep import apply_early_stopping

SPEC = {
    "parameters": {"learning_rate": [0.1, 0.01, 0.001, 0.0001]},
    "early_stopping": {"rule": "median", "min_epochs": 1, "min_runs": 3},
}


def make_sweep(store: Store, count: int = 4, spec: dict | None = None) -> list[str]:
    configs = [{"dataset": "digits", "learning_rate": 10.0**-i} for i in range(1, count + 1)]
    sweep = store.create_sweep(spec or SPEC, configs, source="cli", name="lr")
    return sweep.run_ids


def test_a_sweep_queues_its_runs_in_order(store: Store) -> None:
    other = store.create_run({}, source="cli").id
    sweep = store.create_sweep(
        SPEC,
        [{"learning_rate": 0.1}, {"learning_rate": 0.01}],
        source="web",
        name="rates",
        run_names=["a", "b"],
        class_names=["x", "y"],
    )
    assert sweep.name == "rates" and sweep.spec == SPEC and sweep.stopped == {}
    runs = store.sweep_runs(sweep.id)
    assert [r.id for r in runs] == sweep.run_ids and [r.name for r in runs] == ["a", "b"]
    assert all(r.status == "queued" and r.sweep_id == sweep.id for r in runs)
    assert runs[0].config == {"learning_rate": 0.1} and runs[0].class_names == ["x", "y"]
    assert store.get_run(other).sweep_id is None
    assert store.queued_run_ids() == [other, *sweep.run_ids]
    assert store.get_sweep(sweep.id) == sweep
    second = store.create_sweep(SPEC, [{}], source="cli")
    assert [s.id for s in store.list_sweeps()] == [second.id, sweep.id]
    assert store.active_sweep_ids() == sorted([sweep.id, second.id])
    for run_id in sweep.run_ids:
        store.request_cancel(run_id)
    assert store.active_sweep_ids() == [second.id]


def test_bad_sweeps_are_refused_and_write_nothing(store: Store) -> None:
    with pytest.raises(InvalidInput, match="at least one run"):
        store.create_sweep(SPEC, [], source="cli")
    with pytest.raises(InvalidInput) as info:
        store.create_sweep(SPEC, [{}, {"x": object()}], source="cli")
    assert info.value.field == "config"
    assert store.list_sweeps() == [] and store.list_runs() == []
    for bad in ("nope", "0123456789ab", "../../x"):
        with pytest.raises(NotFound, match="no sweep"):
            store.get_sweep(bad)


def test_stopped_runs_are_recorded_in_the_sweep(store: Store) -> None:
    run_ids = make_sweep(store, 2)
    sweep = store.mark_stopped_early(store.list_sweeps()[0].id, run_ids[1], "too slow")
    assert sweep.stopped == {run_ids[1]: "too slow"}
    with pytest.raises(InvalidInput):
        store.mark_stopped_early(sweep.id, store.create_run({}, source="cli").id, "x")


def _snapshot(store: Store, run_id: str, index: int, epoch: float, accuracy: float) -> None:
    store.add_snapshot(
        run_id,
        index,
        epoch=epoch,
        step=index,
        metrics={"val_accuracy": accuracy},
        arrays={"logits": np.zeros((2, 2), np.float32)},
    )


def test_the_median_rule_cancels_a_hopeless_running_run(store: Store) -> None:
    run_ids = make_sweep(store, 4)
    sweep_id = store.list_sweeps()[0].id
    for run_id in run_ids:
        store.claim_run(run_id, 4242)
    for run_id, accuracy in zip(run_ids[:3], (0.9, 0.8, 0.7), strict=True):
        _snapshot(store, run_id, 0, 1.0, accuracy)
        store.set_status(run_id, "done")  # finished runs are compared with, never stopped
    _snapshot(store, run_ids[3], 0, 0.5, 0.1)
    cancelled: list[str] = []
    # The fourth run has no whole epoch yet: nothing to judge.
    assert apply_early_stopping(store, sweep_id, lambda run: cancelled.append(run.id)) == []
    _snapshot(store, run_ids[3], 1, 1.0, 0.2)
    assert apply_early_stopping(store, sweep_id, lambda run: cancelled.append(run.id)) == [
        run_ids[3]
    ]
    assert cancelled == [run_ids[3]]
    run = store.get_run(run_ids[3])
    assert run.status == "running" and run.cancel_requested  # its worker stops it
    assert "median 0.800" in store.get_sweep(sweep_id).stopped[run_ids[3]]
    # Judged once: a stopped run is not stopped again.
    assert apply_early_stopping(store, sweep_id) == []


def test_the_rule_can_be_turned_off(store: Store) -> None:
    run_ids = make_sweep(store, 4, {**SPEC, "early_stopping": {"rule": "none"}})
    for run_id, accuracy in zip(run_ids, (0.9, 0.8, 0.7, 0.1), strict=True):
        store.claim_run(run_id, 1)
        _snapshot(store, run_id, 0, 1.0, accuracy)
    assert apply_early_stopping(store, store.list_sweeps()[0].id) == []


def test_a_version_1_database_is_migrated(tmp_path: Path, database_url: str | None) -> None:
    with Store(tmp_path, url=database_url) as store:
        run_id = store.create_run({"a": 1}, source="cli").id
        url = store.url
    # Take the database back to version 1: no sweeps table, no runs.sweep_id.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_runs_sweep_id"))
        conn.execute(text("ALTER TABLE runs DROP COLUMN sweep_id"))
        conn.execute(text("DROP TABLE sweeps"))
        conn.execute(text("UPDATE meta SET value = '1'"))
    with Store(tmp_path, url=database_url) as store:
        assert store.get_run(run_id).sweep_id is None
        sweep = store.create_sweep(SPEC, [{}], source="cli")
        assert store.get_run(sweep.run_ids[0]).sweep_id == sweep.id
    with engine.connect() as conn:
        assert read_schema_version(conn) == 2
        assert "sweep_id" in {c["name"] for c in inspect(conn).get_columns("runs")}
        assert "ix_runs_sweep_id" in {i["name"] for i in inspect(conn).get_indexes("runs")}
    engine.dispose()
