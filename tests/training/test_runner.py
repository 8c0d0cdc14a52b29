import numpy as np
import pytest

import convscope
from convscope.errors import InvalidInput
from convscope.store import Store
from convscope.training.recorder import Recorder
from convscope.training.snapshot import LAYER_STAT_KEYS


def assert_snapshot_epochs(epochs, *, epochs_trained, steps_per_epoch=45):
    """Early snapshots fall on the batch nearest 1/8, 1/4 and 1/2 of the first epoch."""
    early, late = epochs[:3], epochs[3:]
    for value, fraction in zip(early, [0.125, 0.25, 0.5], strict=True):
        assert abs(value - fraction) <= 1 / steps_per_epoch
        assert abs(value * steps_per_epoch - round(value * steps_per_epoch)) < 1e-9
    assert late == [float(e) for e in range(1, epochs_trained + 1)]


def test_digits_small_cnn_learns_and_records_six_snapshots(digits_run):
    code, summary, store = digits_run
    assert code == 0
    assert summary["status"] == "done"
    assert summary["snapshots"] == 6
    assert summary["final_metrics"]["val_accuracy"] >= 0.9
    run = store.get_run(summary["run_id"])
    assert run.source == "cli"
    assert run.class_names == [str(i) for i in range(10)]
    assert run.versions["keras"].startswith("3.")
    snapshots = store.list_snapshots(run.id)
    assert_snapshot_epochs([s.epoch for s in snapshots], epochs_trained=3)
    steps = [s.step for s in snapshots]
    assert steps == sorted(steps) and len(set(steps)) == 6
    # The last snapshot's metrics are the run's final metrics.
    assert snapshots[-1].metrics == run.final_metrics


def test_stored_probe_logits_equal_predict_with_the_snapshot_weights(digits_run):
    _, summary, store = digits_run
    run_id = summary["run_id"]
    probe = store.read_run_arrays(run_id, "probe")
    for index in (0, 3, 5):
        model = convscope.load_model(store, run_id, snapshot=index)
        predicted = model.predict(probe["images"], verbose=0)
        stored = store.snapshot_arrays(run_id, index)["logits"]
        assert stored.dtype == np.float16
        np.testing.assert_allclose(stored, predicted.astype(np.float16), rtol=2e-3, atol=2e-3)
    # Different snapshots really hold different weights.
    first = store.snapshot_arrays(run_id, 0)["logits"]
    last = store.snapshot_arrays(run_id, 5)["logits"]
    assert not np.allclose(first, last, atol=0.1)


def test_snapshot_holds_probe_confusion_and_layer_statistics(digits_run):
    _, summary, store = digits_run
    run_id = summary["run_id"]
    probe = store.read_run_arrays(run_id, "probe")
    count = len(probe["labels"])
    assert probe["images"].dtype == np.uint8 and probe["images"].shape[1:] == (8, 8, 1)
    # digits keeps 359 test images, fewer than 1,000: the probe is all of them.
    assert count == 359 and set(probe["labels"]) == set(range(10))
    arrays = store.snapshot_arrays(run_id, 5)
    assert arrays["logits"].shape == (count, 10)
    assert arrays["embedding"].dtype == np.float16 and arrays["embedding"].shape[0] == count
    assert arrays["positions"].shape == (count, 2) and np.isfinite(arrays["positions"]).all()
    confusion = arrays["confusion"]
    assert confusion.shape == (10, 10) and confusion.sum() == 359
    accuracy = np.trace(confusion) / confusion.sum()
    assert accuracy == store.get_snapshot(run_id, 5).metrics["val_accuracy"]
    names = list(arrays["layer_names"])
    assert "logits" in names
    for key in LAYER_STAT_KEYS:
        assert arrays[f"layer_{key}"].shape == (len(names),)
    logits_row = names.index("logits")
    assert arrays["layer_weight_norm"][logits_row] > 0
    assert arrays["layer_grad_norm"][logits_row] > 0
    assert 0 < arrays["layer_update_ratio"][logits_row] < 1
    dead = arrays["layer_dead_fraction"]
    relu_rows = ~np.isnan(dead)
    assert relu_rows.any() and ((dead[relu_rows] >= 0) & (dead[relu_rows] <= 1)).all()


def test_per_batch_curve_and_live_events_are_recorded(digits_run):
    _, summary, store = digits_run
    run_id = summary["run_id"]
    batches = store.batches(run_id)
    steps = batches["step"]
    assert list(steps) == list(range(1, len(steps) + 1))
    assert len(steps) == store.list_snapshots(run_id)[-1].step
    assert np.isfinite(batches["loss"]).all()
    # Loss falls: the last tenth of the batches is well below the first tenth.
    tenth = max(1, len(steps) // 10)
    assert batches["loss"][-tenth:].mean() < 0.5 * batches["loss"][:tenth].mean()
    kinds = [event.kind for event in store.events_after(run_id, 0)]
    assert kinds.count("snapshot") == 6
    assert "progress" in kinds
    assert kinds[-1] == "status"


def test_a_shapes_run_records_the_probe_sets_object_masks(trained_shapes_run, digits_run):
    from convscope.datasets import load_dataset

    with Store(trained_shapes_run.store_dir) as store:
        probe = store.read_run_arrays(trained_shapes_run.run_id, "probe")
    dataset = load_dataset("shapes", train_size=1200, test_size=120, seed=0)
    assert dataset.masks_test is not None
    np.testing.assert_array_equal(probe["masks"], dataset.masks_test[probe["indices"]])
    np.testing.assert_array_equal(probe["images"], dataset.x_test[probe["indices"]])
    # Datasets without masks record none.
    _, summary, digits_store = digits_run
    assert "masks" not in digits_store.read_run_arrays(summary["run_id"], "probe")


def test_masks_of_the_wrong_shape_are_refused(tmp_path):
    images = np.zeros((10, 8, 8, 1), np.uint8)
    with pytest.raises(InvalidInput) as caught:
        Recorder(tmp_path, (images, np.zeros(10)), probe_masks=np.zeros((10, 4, 4), bool))
    assert caught.value.field == "probe_masks"
