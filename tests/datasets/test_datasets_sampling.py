"""Probe-set sampling and dataset subsets: stratified, deterministic, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.datasets import load_dataset, sample_probe
from convscope.errors import InvalidInput

LABELS = np.repeat([0, 1, 2], [50, 30, 20])
np.random.default_rng(3).shuffle(LABELS)


def test_probe_gives_each_class_its_share() -> None:
    picked = sample_probe(LABELS, 10, seed=0)
    assert picked.dtype == np.int64
    assert np.all(np.diff(picked) > 0)  # sorted, no repeats
    assert np.bincount(LABELS[picked]).tolist() == [5, 3, 2]


def test_probe_spreads_rounding_over_classes() -> None:
    labels = np.repeat([0, 1, 2], 10)
    extra_class = set()
    for seed in range(30):
        counts = np.bincount(labels[sample_probe(labels, 4, seed)], minlength=3)
        assert sorted(counts.tolist()) == [1, 1, 2]
        extra_class.add(int(np.argmax(counts)))
    assert extra_class == {0, 1, 2}


def test_probe_is_deterministic_by_seed() -> None:
    assert np.array_equal(sample_probe(LABELS, 30, 7), sample_probe(LABELS, 30, 7))
    assert not np.array_equal(sample_probe(LABELS, 30, 7), sample_probe(LABELS, 30, 8))


def test_probe_of_everything_is_every_index() -> None:
    assert np.array_equal(sample_probe(LABELS, len(LABELS), 1), np.arange(len(LABELS)))


@pytest.mark.parametrize(
    ("size", "message"), [(101, "the test set has 100 images"), (0, "at least 1")]
)
def test_probe_size_errors(size: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        sample_probe(LABELS, size, 0)
    assert caught.value.field == "probe_size"


def test_probe_refuses_a_negative_seed() -> None:
    with pytest.raises(InvalidInput, match="seed"):
        sample_probe(LABELS, 5, -1)


def test_subset_is_stratified_and_deterministic() -> None:
    digits = load_dataset("digits")
    small = digits.subset(train_size=200, test_size=50, seed=3)
    assert (len(small.x_train), len(small.x_test)) == (200, 50)
    expected = np.bincount(digits.y_train) * 200 / len(digits.y_train)
    assert np.all(np.abs(np.bincount(small.y_train) - expected) < 1)
    again = digits.subset(train_size=200, test_size=50, seed=3)
    assert np.array_equal(small.x_train, again.x_train)
    assert np.array_equal(small.y_test, again.y_test)
    other = digits.subset(train_size=200, test_size=50, seed=4)
    assert not np.array_equal(small.x_train, other.x_train)


def test_subset_none_keeps_everything() -> None:
    digits = load_dataset("digits")
    same = digits.subset(test_size=None)
    assert np.array_equal(same.x_train, digits.x_train)
    assert np.array_equal(same.x_test, digits.x_test)


def test_subset_larger_than_available_says_how_many() -> None:
    digits = load_dataset("digits")
    with pytest.raises(InvalidInput, match="has 1438 images") as caught:
        digits.subset(train_size=5000)
    assert caught.value.field == "train_size"
    with pytest.raises(InvalidInput, match="has 359 images") as caught:
        load_dataset("digits", test_size=360)
    assert caught.value.field == "test_size"


def test_subset_keeps_masks_aligned() -> None:
    shapes = load_dataset("shapes", train_count=60, test_count=30, image_size=16)
    small = shapes.subset(train_size=12, test_size=6, seed=1)
    assert small.masks_train is not None and shapes.masks_train is not None
    for image, mask in zip(small.x_train, small.masks_train, strict=True):
        match = np.flatnonzero((shapes.x_train == image).all(axis=(1, 2, 3)))
        assert np.array_equal(shapes.masks_train[match[0]], mask)
    assert np.bincount(small.y_train).tolist() == [2] * 6


def test_load_dataset_applies_sizes_and_seed() -> None:
    first = load_dataset("digits", train_size=100, test_size=40, seed=5)
    second = load_dataset("digits", train_size=100, test_size=40, seed=5)
    assert first.x_train.shape == (100, 8, 8, 1) and first.x_test.shape == (40, 8, 8, 1)
    assert np.array_equal(first.x_train, second.x_train)
