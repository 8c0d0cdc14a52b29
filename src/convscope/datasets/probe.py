"""The probe set, followed through a run, and the evaluation set measured at every snapshot."""

from __future__ import annotations

import numpy as np

from convscope.datasets._sampling import stratified_indices
from convscope.errors import InvalidInput


def sample_probe(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Choose the test images a run follows snapshot after snapshot.

    Every class gets its share of ``size`` (rounded down, the remaining images going to the
    classes with the largest remainders), so that per-class views stay meaningful.

    Args:
        labels: Labels of the test set.
        size: Number of probe images, 1 to ``len(labels)``.
        seed: Seed of the draw; the same labels, size and seed give the same indices.

    Returns:
        Sorted int64 indices into ``labels``.

    Raises:
        InvalidInput: ``size`` is below 1 or larger than the test set (field ``probe_size``).
    """
    return stratified_indices(labels, size, seed, field="probe_size", population="the test set")


def sample_evaluation(
    labels: np.ndarray, probe_indices: np.ndarray, size: int, seed: int
) -> np.ndarray:
    """Choose the validation images measured at every snapshot: the probe set and more.

    The probe images are always in it (their logits are what the views show); the rest
    is a class-stratified sample of the other images, so that the validation metrics and
    the confusion matrix keep the class balance of the whole set while their cost stays
    bounded however large the validation set is.

    Args:
        labels: Labels of the validation set.
        probe_indices: The probe set, sorted indices into ``labels``.
        size: How many images to measure; all of them when ``size >= len(labels)``.
        seed: Seed of the draw.

    Returns:
        Sorted int64 indices into ``labels``, a superset of ``probe_indices``.

    Raises:
        InvalidInput: ``size`` is smaller than the probe set (field ``eval_size``).
    """
    labels = np.asarray(labels).reshape(-1)
    probe_indices = np.asarray(probe_indices, dtype=np.int64)
    if size < len(probe_indices):
        raise InvalidInput(
            "eval_size",
            f"{size} is smaller than the probe set ({len(probe_indices)} images), "
            "which is always measured",
        )
    if size >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(labels)), probe_indices)
    extra = size - len(probe_indices)
    if extra == 0:
        return probe_indices.copy()
    # A different seed than the probe's, so the two draws are independent.
    chosen = stratified_indices(
        labels[rest], extra, seed + 1, field="eval_size", population="the validation set"
    )
    return np.sort(np.concatenate([probe_indices, rest[chosen]])).astype(np.int64)
