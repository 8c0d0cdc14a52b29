"""Recording probe and k-NN accuracies after each snapshot, as the lenses compute them."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import convscope
from convscope import lenses
from convscope.depth.recording import RECORDED, read_record
from convscope.inspection.images import probe_model_inputs
from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.recorder import Recorder
from convscope.training.runner import create_run, train_run


@pytest.fixture(scope="module")
def depth_run(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("depth"))
    config = RunConfig(
        dataset="digits",
        train_size=200,
        test_size=100,
        probe_size=60,
        epochs=2,
        snapshot_fractions=[0.5],
        snapshots_per_epoch=1,
        record_depth=True,
    )
    run = create_run(store, config, source="cli")
    record = train_run(store, run.id)
    assert record.status == "done", record.error
    yield store, run.id
    store.close()


def test_every_snapshot_has_its_record(depth_run) -> None:
    store, run_id = depth_run
    snapshots = store.list_snapshots(run_id)
    assert len(snapshots) == 3
    for snapshot in snapshots:
        record = read_record(store, run_id, snapshot.index)
        assert record is not None, snapshot.index
        assert record.layers[0] == "input" and "dense1" in record.layers
        assert record.knn.shape == record.probe.shape == (len(record.layers),)
        assert np.all((record.probe >= 0) & (record.probe <= 1))


def test_records_equal_the_lenses_at_that_snapshot(depth_run) -> None:
    store, run_id = depth_run
    probe = store.read_run_arrays(run_id, "probe")
    images, labels = probe_model_inputs(probe), probe["labels"]
    for snapshot in (0, 2):
        model = convscope.load_model(store, run_id, snapshot=snapshot)
        knn = lenses.compute("knn_accuracy", model, images, labels=labels, **RECORDED.knn_params())
        probes = lenses.compute(
            "linear_probes", model, images, labels=labels, **RECORDED.probe_params()
        )
        record = read_record(store, run_id, snapshot)
        assert record is not None
        assert record.layers == knn.meta["layers"]
        np.testing.assert_allclose(record.knn, knn.arrays["accuracy"], atol=1e-6)
        np.testing.assert_allclose(record.probe, probes.arrays["accuracy"], atol=1e-6)
        assert record.network_knn == pytest.approx(knn.meta["network_accuracy"])
        assert record.network_probe == pytest.approx(probes.meta["network_accuracy"])


def test_a_measure_that_fails_does_not_stop_training(tmp_path) -> None:
    # A layer named "input" clashes with the pixels' row: the measure refuses the model.
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(name="input"), keras.layers.Dense(3)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).random((60, 8, 8, 1)).astype(np.float32)
    y = np.arange(60) % 3
    events: list[tuple[str, dict]] = []
    with Store(tmp_path) as store:
        recorder = Recorder(
            store,
            (x, y),
            record_depth=True,
            snapshot_fractions=(),
            snapshots_per_epoch=1,
            on_event=lambda kind, payload: events.append((kind, payload)),
        )
        model.fit(x, y, epochs=2, callbacks=[recorder], verbose=0)
        assert recorder.run_id is not None
        assert store.get_run(recorder.run_id).status == "done"
        assert len(store.list_snapshots(recorder.run_id)) == 2
        assert store.get_run(recorder.run_id).config["record_depth"] is True
    warnings = [payload["message"] for kind, payload in events if kind == "warning"]
    assert len(warnings) == 1 and "input" in warnings[0]
