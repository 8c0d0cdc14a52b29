"""Example forgetting: when each probe image is learned, forgotten and learned again.

Toneva et al. (2019) follow every training example through training and count its
*forgetting events*: the moments when an example that was classified correctly is
misclassified again. Examples that are never forgotten once learned ("unforgettable")
are easy; examples that are forgotten often, or never learned at all, are the hard,
atypical or mislabelled ones. Here the same bookkeeping runs over the probe set, one
step per recorded snapshot.

Reference:
    Mariya Toneva, Alessandro Sordoni, Remi Tachet des Combes, Adam Trischler, Yoshua
    Bengio, Geoffrey J. Gordon. "An Empirical Study of Example Forgetting during Deep
    Neural Network Learning". ICLR 2019. https://arxiv.org/abs/1812.05159

Caveat: the paper counts events between consecutive mini-batch presentations of a
training example; snapshots are much coarser, so an image forgotten and re-learned
between two snapshots is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How many probe images :func:`hardest_examples` returns at most by default.
DEFAULT_HARDEST = 50


@dataclass(frozen=True)
class ForgettingSummary:
    """Forgetting statistics of ``n`` probe images over ``s`` snapshots.

    Attributes:
        correct: ``uint8 [s, n]``, 1 where the image is classified correctly.
        true_probability: ``float32 [s, n]``, the probability given to the true class.
        forgetting_events: ``int64 [n]``, how often the image went from correct to wrong.
        first_learned: ``int64 [n]``, the first snapshot where it is correct, -1 for never.
        hardest: ``int64 [<= limit]``, probe positions: never learned first, then most
            forgotten.
    """

    correct: np.ndarray
    true_probability: np.ndarray
    forgetting_events: np.ndarray
    first_learned: np.ndarray
    hardest: np.ndarray


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, stable for large logits.

    Args:
        logits: ``[n, classes]`` array of any float dtype (snapshots store float16).

    Returns:
        ``float32 [n, classes]`` probabilities whose rows sum to 1.
    """
    values = np.asarray(logits, dtype=np.float32)
    shifted = values - values.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def correctness_rows(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correctness and true-class probability of one snapshot's probe logits.

    Args:
        logits: ``[n, classes]`` logits.
        labels: ``[n]`` integer true classes.

    Returns:
        ``(correct uint8 [n], true_probability float32 [n])``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = softmax(logits)
    correct = (probabilities.argmax(axis=-1) == labels).astype(np.uint8)
    true_probability = probabilities[np.arange(len(labels)), labels].astype(np.float32)
    return correct, true_probability


def forgetting_events(correct: np.ndarray) -> np.ndarray:
    """Count, per image, the snapshots where a correct image became wrong.

    Args:
        correct: ``[snapshots, n]`` booleans or 0/1 integers.

    Returns:
        ``int64 [n]`` counts (zeros when there are fewer than two snapshots).
    """
    matrix = np.asarray(correct, dtype=bool)
    if matrix.ndim != 2:
        raise ValueError(f"correct must be 2-D [snapshots, n], got shape {matrix.shape}")
    if matrix.shape[0] < 2:
        return np.zeros(matrix.shape[1], dtype=np.int64)
    forgotten = matrix[:-1] & ~matrix[1:]
    return forgotten.sum(axis=0).astype(np.int64)


def first_learned(correct: np.ndarray) -> np.ndarray:
    """The first snapshot at which each image is classified correctly, -1 if never.

    Args:
        correct: ``[snapshots, n]`` booleans or 0/1 integers.

    Returns:
        ``int64 [n]`` snapshot indices.
    """
    matrix = np.asarray(correct, dtype=bool)
    if matrix.ndim != 2:
        raise ValueError(f"correct must be 2-D [snapshots, n], got shape {matrix.shape}")
    if matrix.shape[0] == 0:
        return np.full(matrix.shape[1], -1, dtype=np.int64)
    first = matrix.argmax(axis=0).astype(np.int64)
    first[~matrix.any(axis=0)] = -1
    return first


def hardest_examples(
    correct: np.ndarray, true_probability: np.ndarray, limit: int = DEFAULT_HARDEST
) -> np.ndarray:
    """The hardest probe images: never learned first, then the most forgotten.

    Images never classified correctly come first, those with the lowest mean true-class
    probability leading; then images forgotten at least once, by decreasing number of
    forgetting events and, among equals, by increasing mean true-class probability.
    Images learned once and never forgotten (Toneva et al.'s "unforgettable" examples) are
    not included, so fewer than ``limit`` positions may be returned.

    Args:
        correct: ``[snapshots, n]`` booleans or 0/1 integers.
        true_probability: ``[snapshots, n]`` probabilities of the true class.
        limit: Most positions to return.

    Returns:
        ``int64`` probe positions, at most ``limit``.
    """
    matrix = np.asarray(correct, dtype=bool)
    probability = np.asarray(true_probability, dtype=np.float64)
    if matrix.shape != probability.shape:
        raise ValueError(
            f"correct {matrix.shape} and true_probability {probability.shape} differ in shape"
        )
    if matrix.shape[0] == 0 or limit <= 0:
        return np.zeros(0, dtype=np.int64)
    events = forgetting_events(matrix)
    never = ~matrix.any(axis=0)
    mean_probability = probability.mean(axis=0)
    positions = np.arange(matrix.shape[1])

    never_idx = positions[never]
    never_idx = never_idx[np.lexsort((never_idx, mean_probability[never_idx]))]
    forgotten_idx = positions[~never & (events > 0)]
    forgotten_idx = forgotten_idx[
        np.lexsort((forgotten_idx, mean_probability[forgotten_idx], -events[forgotten_idx]))
    ]
    return np.concatenate([never_idx, forgotten_idx])[:limit].astype(np.int64)


def summarize(
    correct: np.ndarray, true_probability: np.ndarray, limit: int = DEFAULT_HARDEST
) -> ForgettingSummary:
    """All forgetting statistics from stacked per-snapshot correctness and probabilities.

    Args:
        correct: ``[snapshots, n]`` booleans or 0/1 integers, snapshots in order.
        true_probability: ``[snapshots, n]`` probabilities of the true class.
        limit: Most positions in ``hardest``.

    Returns:
        A :class:`ForgettingSummary`.
    """
    matrix = np.asarray(correct).astype(np.uint8)
    probability = np.asarray(true_probability, dtype=np.float32)
    return ForgettingSummary(
        correct=matrix,
        true_probability=probability,
        forgetting_events=forgetting_events(matrix),
        first_learned=first_learned(matrix),
        hardest=hardest_examples(matrix, probability, limit),
    )
