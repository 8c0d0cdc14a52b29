"""Layer health measures what the Recorder records, and equals the model's own numbers."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import convscope
from convscope import lenses
from convscope.training.snapshot import LAYER_STAT_KEYS


@pytest.fixture(scope="module")
def stored(trained_run):
    store = convscope.open_store(trained_run.store_dir)
    probe = store.read_run_arrays(trained_run.run_id, "probe")
    yield store, probe["images"].astype(np.float32), probe["labels"]
    store.close()


def column(result, key: str) -> np.ndarray:
    index = result.meta["statistics"].index(key)
    values = result.arrays["values"][:, index].astype(np.float64)
    return np.where(result.arrays["defined"][:, index], values, np.nan)


@pytest.mark.parametrize("snapshot", [0, 2])
def test_it_equals_what_the_recorder_recorded(stored, trained_run, snapshot) -> None:
    store, images, labels = stored
    model = convscope.load_model(store, trained_run.run_id, snapshot=snapshot)
    recorded = store.snapshot_arrays(trained_run.run_id, snapshot)
    result = lenses.compute("layer_health", model, images, labels=labels, recorded=recorded)
    assert result.meta["layers"] == recorded["layer_names"].tolist()
    assert result.meta["update_ratio"] == "recorded"
    for key in LAYER_STAT_KEYS:
        np.testing.assert_allclose(
            column(result, key), recorded[f"layer_{key}"], rtol=1e-4, atol=1e-6, err_msg=key
        )


def test_the_numbers_are_the_models_own(stored, trained_run) -> None:
    store, images, labels = stored
    model = convscope.load_model(store, trained_run.run_id, snapshot=1)
    result = lenses.compute("layer_health", model, images, labels=labels)
    layers = result.meta["layers"]
    weight_norm, dead = column(result, "weight_norm"), column(result, "dead_fraction")
    conv1 = model.get_layer("conv1")
    expected = np.sqrt(sum(np.sum(np.square(np.asarray(w))) for w in conv1.trainable_weights))
    assert weight_norm[layers.index("conv1")] == pytest.approx(float(expected), rel=1e-5)
    activations = np.asarray(keras.Model(model.inputs[0], conv1.output)(images))
    channel_dead = np.all(activations <= 0, axis=(0, 1, 2))
    assert dead[layers.index("conv1")] == pytest.approx(float(channel_dead.mean()))
    assert np.isnan(weight_norm[layers.index("pool1")])  # no weights: not defined
    assert np.isnan(dead[layers.index("logits")])  # not a ReLU
    # Without the record, the one statistic only training can measure is left undefined.
    assert result.meta["update_ratio"] is None
    assert np.all(np.isnan(column(result, "update_ratio")))
