"""When snapshots are taken, and which validation images every snapshot measures."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.datasets.probe import sample_evaluation, sample_probe
from convscope.errors import InvalidInput
from convscope.training.schedule import snapshot_batches, snapshots_in_run


def test_every_epoch_gets_evenly_spaced_snapshots_and_the_first_some_early_ones() -> None:
    # 10,000 images in batches of 32: 313 steps an epoch.
    first = snapshot_batches(313, 0, 4, (0.125, 0.25, 0.5))
    assert sorted(first) == [38, 77, 155, 234]  # after 39, 78, 156 and 235 batches
    assert first[77] == pytest.approx(78 / 313)
    second = snapshot_batches(313, 1, 4, (0.125, 0.25, 0.5))
    assert sorted(second) == [77, 155, 234]
    assert second[155] == pytest.approx(1 + 156 / 313)
    assert snapshots_in_run(313, 3, 4, (0.125, 0.25, 0.5)) == 13


def test_one_snapshot_per_epoch_keeps_only_the_early_ones_and_epoch_ends() -> None:
    assert sorted(snapshot_batches(45, 0, 1, (0.125, 0.25, 0.5))) == [5, 10, 21]
    assert snapshot_batches(45, 2, 1, (0.125, 0.25, 0.5)) == {}
    assert snapshots_in_run(45, 3, 1, (0.125, 0.25, 0.5)) == 6


def test_tiny_or_unknown_epochs_have_only_their_end() -> None:
    assert snapshot_batches(None, 0, 4, (0.5,)) == {}
    assert snapshot_batches(1, 0, 4, (0.5,)) == {}
    # Two batches: the halfway snapshot is after the first one.
    assert snapshot_batches(2, 0, 4, ()) == {0: 0.5}


def test_the_evaluation_set_holds_the_probe_and_keeps_the_class_balance() -> None:
    rng = np.random.default_rng(3)
    labels = rng.choice(10, size=10_000, p=np.linspace(1, 2, 10) / 15)
    probe = sample_probe(labels, 1000, seed=0)
    chosen = sample_evaluation(labels, probe, 2000, seed=0)
    assert len(chosen) == 2000 and len(np.unique(chosen)) == 2000
    assert np.all(np.diff(chosen) > 0)
    assert np.isin(probe, chosen).all()
    shares = np.bincount(labels[chosen], minlength=10) / 2000
    assert np.abs(shares - np.bincount(labels, minlength=10) / len(labels)).max() < 0.005
    np.testing.assert_array_equal(chosen, sample_evaluation(labels, probe, 2000, seed=0))
    assert not np.array_equal(chosen, sample_evaluation(labels, probe, 2000, seed=1))


def test_the_evaluation_set_is_everything_or_the_probe_at_the_extremes() -> None:
    labels = np.arange(300) % 3
    probe = sample_probe(labels, 30, seed=0)
    np.testing.assert_array_equal(sample_evaluation(labels, probe, 300, seed=0), np.arange(300))
    np.testing.assert_array_equal(sample_evaluation(labels, probe, 5000, seed=0), np.arange(300))
    np.testing.assert_array_equal(sample_evaluation(labels, probe, 30, seed=0), probe)
    with pytest.raises(InvalidInput) as raised:
        sample_evaluation(labels, probe, 29, seed=0)
    assert raised.value.field == "eval_size"
