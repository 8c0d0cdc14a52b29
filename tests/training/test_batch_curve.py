import numpy as np
import pytest

from convscope.training.batch_curve import BatchCurve, accuracy_from_logs


def test_running_means_become_per_batch_values():
    losses = [2.0, 1.0, 0.5, 0.25]
    accuracies = [0.1, 0.5, 0.7, 0.9]
    curve = BatchCurve()
    for n in range(len(losses)):
        logs = {"loss": np.mean(losses[: n + 1]), "accuracy": np.mean(accuracies[: n + 1])}
        curve.add(step=n + 1, epoch=(n + 1) / 4, logs=logs)
    rows = curve.take()
    assert [row[0] for row in rows] == [1, 2, 3, 4]
    np.testing.assert_allclose([row[2] for row in rows], losses, rtol=1e-9)
    np.testing.assert_allclose([row[3] for row in rows], accuracies, rtol=1e-9)
    assert curve.take() == []


def test_each_epoch_restarts_the_means():
    curve = BatchCurve()
    curve.add(1, 0.5, {"loss": 3.0, "accuracy": 0.2})
    curve.add(2, 1.0, {"loss": 2.0, "accuracy": 0.4})
    curve.start_epoch()
    curve.add(3, 1.5, {"loss": 0.5, "accuracy": 0.8})
    rows = curve.take()
    assert rows[1][2] == pytest.approx(1.0)
    assert rows[2][2] == pytest.approx(0.5)
    assert rows[2][3] == pytest.approx(0.8)


def test_accuracy_is_found_whatever_its_name():
    assert accuracy_from_logs({"loss": 1, "sparse_categorical_accuracy": 0.3}) == 0.3
    assert accuracy_from_logs({"loss": 1, "my_acc_metric": 0.4}) == 0.4
    assert accuracy_from_logs({"loss": 1}) is None
