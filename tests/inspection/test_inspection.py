"""The inspection side: each run's model at any snapshot, the lens service, the worker pool."""

from __future__ import annotations

import dataclasses
import os
import signal

import numpy as np
import pytest

import convscope
from convscope.config import Settings
from convscope.errors import InvalidInput, NotFound
from convscope.inspection.pool import InspectionPool
from convscope.inspection.requests import LensFailed, LensRequest
from convscope.inspection.run_models import RunModels
from convscope.inspection.service import merge_meta, run_lens_request
from convscope.store import Store


@pytest.fixture(scope="module")
def store(trained_run):
    with Store(trained_run.store_dir) as opened:
        yield opened


@pytest.fixture(scope="module")
def models(store):
    return RunModels(store, max_runs=1, max_snapshots=2)


def test_swapped_weights_give_each_snapshots_own_model(store, models, trained_run) -> None:
    images, _ = models.probe_set(trained_run.run_id)
    # Visit the snapshots out of order and twice, through an LRU smaller than their number.
    for index in [2, 0, 1, 0, 2]:
        expected = convscope.load_model(store, trained_run.run_id, snapshot=index)
        got = models.model(trained_run.run_id, index)
        np.testing.assert_allclose(
            np.asarray(got(images[:8])), np.asarray(expected(images[:8])), rtol=1e-5, atol=1e-5
        )


def test_probe_set_is_the_recorded_one(store, models, trained_run) -> None:
    images, labels = models.probe_set(trained_run.run_id)
    recorded = store.read_run_arrays(trained_run.run_id, "probe")
    assert images.dtype == np.float32 and images.shape == recorded["images"].shape
    np.testing.assert_array_equal(labels, recorded["labels"])


def test_unknown_snapshot_is_not_found(models, trained_run) -> None:
    with pytest.raises(NotFound):
        models.model(trained_run.run_id, 99)


def test_several_snapshots_stack_along_a_first_axis(models, trained_run) -> None:
    images, _ = models.probe_set(trained_run.run_id)
    request = LensRequest(trained_run.run_id, "activations", (0, 2), images[:3])
    reply = run_lens_request(models, request)
    assert reply.arrays["conv1"].shape[:2] == (2, 3)
    assert reply.meta["snapshots"] == [0, 2]
    # Layers are the same at every snapshot; predictions may differ.
    assert reply.meta["layers"][0]["name"] == "rescale"
    single = run_lens_request(models, dataclasses.replace(request, snapshots=(2,)))
    np.testing.assert_allclose(reply.arrays["dense1"][1], single.arrays["dense1"], rtol=1e-5)


def test_merge_meta_keeps_what_is_shared() -> None:
    merged = merge_meta([{"a": 1, "b": [1]}, {"a": 1, "b": [2]}, {"a": 1}])
    assert merged == {"a": 1, "per_snapshot": [{"b": [1]}, {"b": [2]}, {}]}
    assert merge_meta([{"a": 1}, {"a": 1}]) == {"a": 1}


def test_a_lens_without_its_image_is_refused(models, trained_run) -> None:
    with pytest.raises(InvalidInput) as caught:
        run_lens_request(models, LensRequest(trained_run.run_id, "activations", (0,), None))
    assert caught.value.field == "image"


@pytest.fixture(scope="module")
def pool(trained_run):
    settings = Settings(store_dir=trained_run.store_dir, workers=0, inspection_workers=1)
    started = InspectionPool(settings)
    started.start()
    assert started.wait_ready(120)
    yield started
    started.stop()


def probe_request(trained_run, **changes) -> LensRequest:
    images = np.zeros((1, 8, 8, 1), np.float32)
    request = LensRequest(trained_run.run_id, "activations", (trained_run.snapshots - 1,), images)
    return dataclasses.replace(request, **changes)


def test_the_worker_answers_and_refuses_by_field(pool, trained_run, store) -> None:
    reply = pool.run(probe_request(trained_run))
    model = convscope.load_model(store, trained_run.run_id)
    np.testing.assert_allclose(
        reply.arrays["logits"], np.asarray(model(np.zeros((1, 8, 8, 1)))), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(InvalidInput) as caught:
        pool.run(probe_request(trained_run, params={"layers": ["nope"]}))
    assert caught.value.field == "layers"
    with pytest.raises(NotFound):
        pool.run(probe_request(trained_run, run_id="0123456789ab"))


def test_a_killed_worker_is_replaced(pool, trained_run) -> None:
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)
    reply = pool.run(probe_request(trained_run))
    assert "conv1" in reply.arrays
    assert pool.pids() != [pid]


def test_a_lens_past_its_time_limit_is_stopped_and_the_next_one_answers(trained_run) -> None:
    settings = Settings(
        store_dir=trained_run.store_dir, workers=0, inspection_workers=1, lens_timeout_s=0.0
    )
    slow = InspectionPool(settings)
    slow.start()
    try:
        assert slow.wait_ready(120)
        (pid,) = slow.pids()
        with pytest.raises(LensFailed, match="took longer than 0 s"):
            slow.run(probe_request(trained_run))
        assert slow.pids() != [pid]  # replaced
        slow.settings = dataclasses.replace(settings, lens_timeout_s=60.0)
        assert "conv1" in slow.run(probe_request(trained_run)).arrays
    finally:
        slow.stop()
    assert slow.pids() == []
