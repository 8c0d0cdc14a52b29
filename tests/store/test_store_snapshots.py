"""Snapshots (files before rows), run files, temp files, the per-batch curve."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from convscope.errors import InvalidInput, NotFound
from convscope.store import Store, read_npz


@pytest.fixture
def run_id(store: Store) -> str:
    return store.set_status(store.create_run({}, source="cli").id, "running").id


def test_add_and_read_snapshots(store: Store, run_id: str) -> None:
    logits = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float16)
    first = store.add_snapshot(
        run_id, 0, epoch=0.25, step=3, metrics={"loss": 1.5}, arrays={"logits": logits}
    )
    store.add_snapshot(run_id, 1, epoch=1.0, step=12, metrics={"loss": 0.5}, arrays={"x": [1]})
    assert first.run_id == run_id and first.index == 0 and first.epoch == 0.25
    assert first.step == 3 and first.metrics == {"loss": 1.5} and not first.has_weights
    assert first.created_at.tzinfo is not None
    assert [s.index for s in store.list_snapshots(run_id)] == [0, 1]
    assert store.get_snapshot(run_id, 0) == first
    assert store.get_run(run_id).num_snapshots == 2
    np.testing.assert_array_equal(store.snapshot_arrays(run_id, 0)["logits"], logits)
    assert (store.run_dir(run_id) / "snapshots" / "0001.npz").is_file()
    assert store.snapshot_weights_path(run_id, 0) is None
    events = [e for e in store.events_after(run_id, 0) if e.kind == "snapshot"]
    assert [e.payload for e in events] == [
        {"index": 0, "epoch": 0.25, "step": 3, "metrics": {"loss": 1.5}},
        {"index": 1, "epoch": 1.0, "step": 12, "metrics": {"loss": 0.5}},
    ]
    with pytest.raises(NotFound):
        store.get_snapshot(run_id, 2)
    with pytest.raises(NotFound):
        store.snapshot_arrays(run_id, 2)


def test_weights_file_is_moved_into_the_snapshot(store: Store, run_id: str) -> None:
    temp = store.temp_path(run_id, ".weights.npz")
    assert temp.name.startswith(".tmp-") and temp.name.endswith(".weights.npz")
    assert temp.parent == store.run_dir(run_id) and not temp.exists()
    assert store.temp_path(run_id, ".weights.npz") != temp
    temp.write_bytes(b"hdf5 weights")
    record = store.add_snapshot(
        run_id, 0, epoch=1, step=1, metrics={}, arrays={"a": np.ones(1)}, weights_file=temp
    )
    assert record.has_weights and not temp.exists()
    path = store.snapshot_weights_path(run_id, 0)
    assert path is not None and path.name == "0000.weights.npz"
    assert path.read_bytes() == b"hdf5 weights"


def test_files_exist_before_the_row(store: Store, run_id: str) -> None:
    seen: list[bool] = []

    def before_insert(*args: Any) -> None:
        statement = args[2]
        if statement.startswith("INSERT INTO snapshots"):
            seen.append((store.root / "runs" / run_id / "snapshots" / "0000.npz").is_file())

    event.listen(store._engine, "before_cursor_execute", before_insert)
    store.add_snapshot(run_id, 0, epoch=1, step=1, metrics={}, arrays={"a": np.ones(1)})
    assert seen == [True]


def test_a_failing_arrays_write_leaves_no_row_and_no_event(store: Store, run_id: str) -> None:
    events_before = store.events_after(run_id, 0)
    with pytest.raises(InvalidInput):
        store.add_snapshot(
            run_id, 0, epoch=1, step=1, metrics={}, arrays={"bad": np.array([object()])}
        )
    assert store.list_snapshots(run_id) == []
    assert store.events_after(run_id, 0) == events_before
    assert not (store.run_dir(run_id) / "snapshots" / "0000.npz").exists()


def test_a_missing_weights_file_leaves_no_row(store: Store, run_id: str) -> None:
    with pytest.raises(InvalidInput, match="weights_file"):
        store.add_snapshot(
            run_id,
            0,
            epoch=1,
            step=1,
            metrics={},
            arrays={"a": np.ones(1)},
            weights_file=store.temp_path(run_id, ".weights.npz"),
        )
    assert store.list_snapshots(run_id) == []


def test_snapshot_index_is_written_once(store: Store, run_id: str) -> None:
    store.add_snapshot(run_id, 0, epoch=1, step=1, metrics={}, arrays={"a": np.ones(1)})
    with pytest.raises(InvalidInput, match="already"):
        store.add_snapshot(run_id, 0, epoch=2, step=2, metrics={}, arrays={"a": np.zeros(1)})
    np.testing.assert_array_equal(store.snapshot_arrays(run_id, 0)["a"], np.ones(1))
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(InvalidInput):
            store.add_snapshot(run_id, bad, epoch=1, step=1, metrics={}, arrays={})  # type: ignore[arg-type]


def test_stale_temp_files_do_not_break_reads_and_are_cleaned(store: Store, run_id: str) -> None:
    store.add_snapshot(run_id, 0, epoch=1, step=1, metrics={}, arrays={"a": np.ones(2)})
    store.write_run_arrays(run_id, "probe", {"labels": np.arange(3)})
    run_dir = store.run_dir(run_id)
    # What a worker killed mid-write leaves: half-written temp files beside the real ones.
    stale = [run_dir / ".tmp-dead.part", run_dir / "snapshots" / ".tmp-dead2.part"]
    for path in stale:
        path.write_bytes(b"PK\x03\x04 half")
    young = store.temp_path(run_id, ".weights.npz")
    young.write_bytes(b"being written")
    old_time = time.time() - 7200
    for path in stale:
        os.utime(path, (old_time, old_time))

    assert [s.index for s in store.list_snapshots(run_id)] == [0]
    np.testing.assert_array_equal(store.snapshot_arrays(run_id, 0)["a"], np.ones(2))
    np.testing.assert_array_equal(store.read_run_arrays(run_id, "probe")["labels"], np.arange(3))

    # The run is running: only temp files older than max_age_s go.
    assert store.cleanup_temp_files() == 2
    assert young.exists() and not any(p.exists() for p in stale)
    store.set_status(run_id, "interrupted")
    assert store.cleanup_temp_files(run_id) == 1
    assert not young.exists()
    assert store.snapshot_arrays(run_id, 0)["a"].shape == (2,)


def test_run_arrays_and_run_files(store: Store, run_id: str) -> None:
    path = store.write_run_arrays(run_id, "probe", {"images": np.zeros((2, 8, 8), np.uint8)})
    assert path == store.root / "runs" / run_id / "probe.npz"
    assert read_npz(path)["images"].shape == (2, 8, 8)
    with pytest.raises(NotFound):
        store.read_run_arrays(run_id, "other")

    written = store.write_run_file(run_id, "atlas.png", b"\x89PNG")
    assert written == store.run_file(run_id, "atlas.png")
    assert written.read_bytes() == b"\x89PNG"
    with pytest.raises(NotFound):
        store.run_file(run_id, "model.keras")

    temp = store.temp_path(run_id, ".keras")
    temp.write_bytes(b"zip")
    installed = store.install_run_file(run_id, "model.keras", temp)
    assert installed == store.run_file(run_id, "model.keras") and not temp.exists()


@pytest.mark.parametrize(
    "name", ["../x", "a/b", ".hidden", ".tmp-x", "a..b", "", "snapshots", "x" * 101, "a b"]
)
def test_bad_file_names_are_refused(store: Store, run_id: str, name: str) -> None:
    with pytest.raises(InvalidInput):
        store.write_run_file(run_id, name, b"x")
    with pytest.raises(InvalidInput):
        store.run_file(run_id, name)
    with pytest.raises(InvalidInput):
        store.write_run_arrays(run_id, name, {})
    assert sorted(p.name for p in store.run_dir(run_id).iterdir()) == []


@pytest.mark.parametrize("suffix", ["/x", "../x", "x", ". ", ".a/b"])
def test_bad_temp_suffixes_are_refused(store: Store, run_id: str, suffix: str) -> None:
    with pytest.raises(InvalidInput):
        store.temp_path(run_id, suffix)


def test_batches_round_trip(store: Store, run_id: str) -> None:
    empty = store.batches(run_id)
    assert set(empty) == {"step", "epoch", "loss", "accuracy"}
    assert all(len(v) == 0 for v in empty.values())
    store.add_batches(run_id, [(2, 0.2, 1.5, 0.3), (1, 0.1, 2.0, float("nan"))])
    store.add_batches(run_id, [(3, np.float32(0.3), np.float64(1.0), None)])  # type: ignore[list-item]
    store.add_batches(run_id, [])
    curve = store.batches(run_id)
    assert curve["step"].dtype == np.int64 and curve["loss"].dtype == np.float64
    np.testing.assert_array_equal(curve["step"], [1, 2, 3])
    np.testing.assert_allclose(curve["epoch"], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(curve["loss"], [2.0, 1.5, 1.0])
    np.testing.assert_array_equal(curve["accuracy"], [np.nan, 0.3, np.nan])
    with pytest.raises(InvalidInput):
        store.add_batches(run_id, [(1, 0.1)])  # type: ignore[list-item]
    with pytest.raises(NotFound):
        store.add_batches("0123456789ab", [(1, 0.1, 1.0, 1.0)])
