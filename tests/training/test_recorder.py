"""The Recorder on small real models: bounded evaluation, cancel labels, reuse, failures."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import convscope
from convscope.errors import InvalidInput, StoreError
from convscope.store import Store
from convscope.training.recorder import Recorder

STEPS = 20  # 640 training images in batches of 32


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Learnable 6x6 images: the class is where the bright pixel is."""
    rng = np.random.default_rng(0)

    def make(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 4, count)
        images = rng.normal(0, 0.3, (count, 6, 6, 1)).astype(np.float32)
        images[np.arange(count), 1 + 3 * (labels // 2), 1 + 3 * (labels % 2), 0] += 3
        return images, labels

    x_train, y_train = make(STEPS * 32)
    x_val, y_val = make(3000)
    return x_train, y_train, x_val, y_val


def functional_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(
        keras.layers.Flatten()(inputs)
    )
    model = keras.Model(inputs, keras.layers.Dense(4, name="logits")(hidden))
    model.compile(
        keras.optimizers.SGD(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class Scale(keras.layers.Layer):
    """A custom layer without ``get_config``: Keras cannot copy a model that holds it."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def call(self, x: object) -> object:
        return x * self.factor


def test_snapshots_measure_a_bounded_evaluation_set_holding_the_probe(
    tmp_path: Path, data: tuple
) -> None:
    x_train, y_train, x_val, y_val = data
    store = Store(tmp_path)
    model = functional_model()
    events: list[tuple[str, dict]] = []
    rec = Recorder(
        store,
        (x_val, y_val),
        probe_size=200,
        eval_size=1000,
        on_event=lambda kind, payload: events.append((kind, payload)),
    )
    model.fit(x_train, y_train, batch_size=32, epochs=1, callbacks=[rec], verbose=0)
    assert rec.measured_in_background
    run = store.get_run(rec.run_id)
    assert run.status == "done" and run.config["eval_size"] == 1000
    probe = store.read_run_arrays(run.id, "probe")
    chosen = probe["eval_indices"]
    assert len(chosen) == 1000 and np.isin(probe["indices"], chosen).all()
    assert int(probe["validation_size"]) == 3000
    kinds = [kind for kind, _ in events]
    assert kinds.index("probe") < kinds.index("snapshot")
    assert events[kinds.index("probe")][1] == {
        "count": 200,
        "evaluated": 1000,
        "validation_size": 3000,
    }
    # The last snapshot's numbers are the model's own on those 1,000 images.
    last = store.list_snapshots(run.id)[-1]
    arrays = store.snapshot_arrays(run.id, last.index)
    logits = model.predict(x_val[chosen], verbose=0)
    predictions = logits.argmax(axis=1)
    assert arrays["confusion"].sum() == 1000
    assert last.metrics["val_accuracy"] == pytest.approx(np.mean(predictions == y_val[chosen]))
    rows = np.searchsorted(chosen, probe["indices"])
    np.testing.assert_allclose(arrays["logits"], logits[rows], rtol=3e-3, atol=3e-3)
    store.close()


def test_a_cancelled_run_is_labelled_where_it_stopped(tmp_path: Path, data: tuple) -> None:
    x_train, y_train, x_val, y_val = data
    store = Store(tmp_path)
    batches = {"done": 0}

    def stop_after_seven() -> bool:
        batches["done"] += 1
        return batches["done"] >= 7

    rec = Recorder(store, (x_val, y_val), probe_size=100, should_stop=stop_after_seven)
    functional_model().fit(x_train, y_train, batch_size=32, epochs=3, callbacks=[rec], verbose=0)
    run = store.get_run(rec.run_id)
    assert run.status == "cancelled"
    assert run.progress == {"epoch": 0, "step": 7, "steps_per_epoch": STEPS, "epochs": 3}
    snapshots = store.list_snapshots(run.id)
    # 1/8 of 20 steps: after batch 2 (round(2.5)); 1/4: after batch 5; then the stop at 7.
    assert [(s.epoch, s.step) for s in snapshots] == [(2 / 20, 2), (5 / 20, 5), (7 / 20, 7)]
    assert snapshots[-1].metrics == run.final_metrics
    store.close()


def test_a_run_stopped_right_after_a_snapshot_has_no_duplicate(tmp_path: Path, data: tuple) -> None:
    x_train, y_train, x_val, y_val = data
    store = Store(tmp_path)
    count = {"done": 0}

    def stop_after_five() -> bool:
        count["done"] += 1
        return count["done"] >= 5

    rec = Recorder(store, (x_val, y_val), probe_size=100, should_stop=stop_after_five)
    functional_model().fit(x_train, y_train, batch_size=32, epochs=2, callbacks=[rec], verbose=0)
    assert [s.step for s in store.list_snapshots(rec.run_id)] == [2, 5]
    store.close()


def test_one_recorder_records_two_fits_as_two_runs(tmp_path: Path, data: tuple) -> None:
    x_train, y_train, x_val, y_val = data
    store = Store(tmp_path)
    model = functional_model()
    rec = Recorder(store, (x_val, y_val), probe_size=100, snapshots_per_epoch=1)
    model.fit(x_train, y_train, batch_size=32, epochs=1, callbacks=[rec], verbose=0)
    first = rec.run_id
    model.fit(x_train, y_train, batch_size=32, epochs=1, callbacks=[rec], verbose=0)
    second = rec.run_id
    assert first != second
    for run_id in (first, second):
        assert store.get_run(run_id).status == "done"
        assert [s.index for s in store.list_snapshots(run_id)] == [0, 1, 2, 3]
    reloaded = convscope.load_model(store, second, snapshot=0)
    assert reloaded.count_params() == model.count_params()
    store.close()


def test_a_model_that_cannot_be_copied_is_measured_inline(tmp_path: Path, data: tuple) -> None:
    x_train, y_train, x_val, y_val = data
    store = Store(tmp_path)
    inputs = keras.Input((6, 6, 1))
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(Scale(0.5)(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(4)(hidden))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rec = Recorder(store, (x_val, y_val), probe_size=100, snapshots_per_epoch=2)
    model.fit(x_train, y_train, batch_size=32, epochs=1, callbacks=[rec], verbose=0)
    assert not rec.measured_in_background
    run = store.get_run(rec.run_id)
    assert run.status == "done" and run.num_snapshots == 4  # 1/8, 1/4, 1/2 and the end
    probe = store.read_run_arrays(run.id, "probe")
    stored = store.snapshot_arrays(run.id, 3)["logits"]
    expected = model.predict(x_val[probe["indices"]], verbose=0)
    np.testing.assert_allclose(stored, expected, rtol=3e-3, atol=3e-3)
    store.close()


def test_a_failing_snapshot_stops_fit_with_its_error(
    tmp_path: Path, data: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    x_train, y_train, x_val, y_val = data
    store = Store(tmp_path)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise StoreError("cannot write the snapshot: No space left on device")

    monkeypatch.setattr(store, "add_snapshot", disk_full)
    rec = Recorder(store, (x_val, y_val), probe_size=100)
    with pytest.raises(StoreError, match="No space left"):
        functional_model().fit(x_train, y_train, batch_size=32, epochs=2, callbacks=[rec])
    rec.close()  # the error was reported once; closing again is quiet
    store.close()


def test_bad_recorder_options_name_their_field(tmp_path: Path, data: tuple) -> None:
    _, _, x_val, y_val = data
    store = Store(tmp_path)
    cases = [
        ({"probe_size": 500, "eval_size": 100}, "eval_size"),
        ({"snapshots_per_epoch": 0}, "snapshots_per_epoch"),
        ({"probe_size": 5000}, "probe_size"),
    ]
    for options, field in cases:
        with pytest.raises(InvalidInput) as raised:
            Recorder(store, (x_val, y_val), **options)
        assert raised.value.field == field
    store.close()
