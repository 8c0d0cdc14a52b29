"""The probe set: a fixed, class-stratified sample of test images followed through a run."""

from __future__ import annotations

import numpy as np

from convscope.datasets._sampling import stratified_indices


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
