"""Class-stratified sampling shared by dataset subsets and probe sets."""

from __future__ import annotations

import numpy as np

from convscope.errors import InvalidInput


def check_seed(seed: object, field: str = "seed") -> int:
    """Return ``seed`` as an int, or raise :class:`InvalidInput` if it is not a usable seed."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InvalidInput(field, f"must be a whole number, got {seed!r}")
    if seed < 0:
        raise InvalidInput(field, f"must be zero or more, got {seed}")
    return int(seed)


def stratified_indices(
    labels: np.ndarray, size: object, seed: object, *, field: str, population: str
) -> np.ndarray:
    """Pick ``size`` indices so that every class keeps its share of ``labels``.

    Each class gets ``size * count / total`` indices rounded down; the indices left over go
    to the classes with the largest remainders, ties broken by ``seed`` so that no class is
    always favoured. Within a class the indices are drawn uniformly without replacement.

    Args:
        labels: Integer class labels, one per image.
        size: How many indices to pick, 1 to ``len(labels)``.
        seed: Seed of the draw; the same seed gives the same indices.
        field: Name of the user's field, used in error messages (``"train_size"``).
        population: Words naming what ``labels`` describes (``"the test set"``).

    Returns:
        Sorted int64 indices into ``labels``.

    Raises:
        InvalidInput: ``size`` is not a whole number from 1 to ``len(labels)``.
    """
    labels = np.asarray(labels).reshape(-1)
    total = len(labels)
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise InvalidInput(field, f"must be a whole number, got {size!r}")
    size = int(size)
    if size < 1:
        raise InvalidInput(field, f"must be at least 1, got {size}")
    if size > total:
        raise InvalidInput(field, f"asked for {size} images but {population} has {total} images")
    rng = np.random.default_rng(check_seed(seed))
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    # Integer arithmetic keeps the shares exact (no float rounding at boundaries).
    quota = (size * counts) // total
    leftover = size - int(quota.sum())
    if leftover:
        remainders = (size * counts) % total
        order = np.lexsort((rng.random(len(counts)), -remainders))
        quota[order[:leftover]] += 1
    members_by_class = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    chosen = [
        rng.choice(members_by_class[bounds[c] : bounds[c + 1]], int(quota[c]), replace=False)
        for c in range(len(counts))
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
