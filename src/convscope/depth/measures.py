"""How well a layer's features separate the classes: neighbours, linear probes, search.

NumPy in, NumPy out, on the ``(N, features)`` arrays of :mod:`convscope.depth.features`:

- :func:`knn_accuracy`: leave-one-out k-nearest-neighbour accuracy: each image takes the
  majority class of its ``k`` nearest other images (Cover and Hart 1967);
- :func:`probe_accuracy`: a multinomial logistic-regression probe trained on one half of
  the images and tested on the other (Alain and Bengio 2016);
- :func:`nearest` and :func:`search_score`: an image's nearest neighbours and the share of
  them of its class, rank-weighted as in ConvNet Playground (Dibia 2019).

Every measure runs with one BLAS thread: its products are small or thin, and on a machine
that also trains (or runs other work) several BLAS threads spend more time waiting for
each other than computing (measured: 20 times slower on two busy cores).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Literal

import numpy as np

Metric = Literal["cosine", "euclidean"]
METRICS: tuple[str, ...] = ("cosine", "euclidean")

#: Default strength of the probes' L2 penalty, on features scaled to unit mean square norm.
PROBE_REGULARIZATION = 1e-3
#: Largest number of L-BFGS iterations of a probe (rarely reached: ~30 suffice).
PROBE_MAX_ITERATIONS = 500
#: The solver stops when every gradient component is below this: the test accuracy no
#: longer changes by more than an image or two, at half the cost of 1e-5.
PROBE_TOLERANCE = 1e-4


@functools.cache
def _thread_pools() -> Any:
    # Finding the loaded libraries reads the process's memory map: done once.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context in which NumPy's BLAS uses one thread (see the module's note)."""
    return _thread_pools().limit(limits=1, user_api="blas")


def _unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), in float32 as scikit-learn does."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0] = 1.0
    return x / norms[:, None]


#: Rows of the distance matrix computed at once: bounds memory for large probe sets.
DISTANCE_BLOCK = 1024


class _Geometry:
    """Distances from any images to all images, with the per-image work done once."""

    def __init__(self, features: np.ndarray, metric: Metric) -> None:
        self.metric = metric
        if metric == "cosine":
            self.points = _unit_rows(features)
        else:
            # In float64: the expansion |a|^2 + |b|^2 - 2ab loses small distances in float32.
            self.points = np.asarray(features, dtype=np.float64)
            self.squares = np.einsum("ij,ij->i", self.points, self.points)

    def __len__(self) -> int:
        return len(self.points)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """float64 ``(len(index), N)`` distances; each image at exactly 0 from itself."""
        if self.metric == "cosine":
            result = 1.0 - (self.points[index] @ self.points.T).astype(np.float64)
            np.clip(result, 0.0, 2.0, out=result)
        else:
            result = self.squares[index, None] + self.squares[None, :]
            result -= 2.0 * (self.points[index] @ self.points.T)
            np.sqrt(np.maximum(result, 0.0, out=result), out=result)
        result[np.arange(len(index)), index] = 0.0
        return result


def distances(features: np.ndarray, metric: Metric, rows: np.ndarray | None = None) -> np.ndarray:
    """Distances from some images (``rows``, default all) to every image.

    Args:
        features: ``(N, F)``.
        metric: ``"cosine"`` (one minus the cosine similarity, in 0..2; a zero vector is at
            distance 1 from every other) or ``"euclidean"``.
        rows: Indices of the images to measure from.

    Returns:
        float64 ``(len(rows), N)``; an image is at distance exactly 0 from itself.
    """
    geometry = _Geometry(features, metric)
    return geometry.rows(np.arange(len(geometry)) if rows is None else np.asarray(rows))


def _ranked(row_distances: np.ndarray, count: int, exclude: int | None) -> np.ndarray:
    """The ``count`` nearest indices by (distance, index), without ``exclude``."""
    order = np.lexsort((np.arange(len(row_distances)), row_distances))
    if exclude is not None:
        order = order[order != exclude]
    return order[:count]


def knn_predictions(features: np.ndarray, labels: np.ndarray, k: int, metric: Metric) -> np.ndarray:
    """Leave-one-out k-nearest-neighbour predictions.

    Each image is classified by the majority class of its ``k`` nearest *other* images
    (uniform votes; a tie goes to the smallest class index, as in scikit-learn's
    ``KNeighborsClassifier``).

    Args:
        features: ``(N, F)``.
        labels: int ``(N,)`` true classes.
        k: Neighbours, 1 to ``N - 1``.
        metric: See :func:`distances`.

    Returns:
        int64 ``(N,)`` predicted classes.
    """
    labels = np.asarray(labels, dtype=np.int64)
    count = len(labels)
    k = min(k, count - 1)
    if k < 1:
        return labels.copy()
    geometry = _Geometry(features, metric)
    classes = int(labels.max()) + 1
    predictions = np.empty(count, dtype=np.int64)
    with one_blas_thread():
        for start in range(0, count, DISTANCE_BLOCK):
            index = np.arange(start, min(start + DISTANCE_BLOCK, count))
            block = geometry.rows(index)
            block[np.arange(len(index)), index] = np.inf  # leave the image itself out
            nearest = np.argpartition(block, k - 1, axis=1)[:, :k]
            counts = np.zeros((len(index), classes), dtype=np.int64)
            np.add.at(counts, (np.repeat(np.arange(len(index)), k), labels[nearest].ravel()), 1)
            predictions[index] = counts.argmax(axis=1)
    return predictions


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int, metric: Metric) -> float:
    """Leave-one-out k-nearest-neighbour accuracy (see :func:`knn_predictions`).

    References:
        Thomas Cover, Peter Hart. "Nearest neighbor pattern classification". IEEE
        Transactions on Information Theory, 1967.
    """
    return float(np.mean(knn_predictions(features, labels, k, metric) == labels))


def stratified_sample(labels: np.ndarray, size: int | None, seed: int = 0) -> np.ndarray:
    """Indices of a class-stratified sample of ``size`` images, drawn as a probe set is.

    Args:
        labels: The images' classes.
        size: How many; None, or at least as many as there are images, means all.
        seed: Seed of the draw.

    Returns:
        Sorted int64 indices (every image when no sample is asked for).
    """
    if size is None or size >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    from convscope.datasets.probe import sample_probe

    return sample_probe(np.asarray(labels), size, seed)


def probe_split(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Which images train the probes: half of each class, drawn with ``seed``.

    Within each class, a permutation drawn with ``numpy.random.default_rng(seed)`` (classes
    in increasing order) puts the first half, rounded down, in the training half; the rest
    test the probes.

    Returns:
        bool ``(N,)``, True for training images.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        train[members[: len(members) // 2]] = True
    return train


def _standardised(features: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Centred on the training mean, scaled so training rows have unit mean square norm.

    One scale per layer (not per feature) keeps the geometry of the layer and makes one
    penalty strength mean the same at every layer.
    """
    x = np.asarray(features, dtype=np.float32)
    centred = x - x[train].mean(axis=0, keepdims=True)
    scale = float(np.sqrt(np.mean(np.einsum("ij,ij->i", centred[train], centred[train]))))
    return centred / scale if scale > 0 else centred


def fit_probe(
    features: np.ndarray,
    labels: np.ndarray,
    classes: int,
    regularization: float = PROBE_REGULARIZATION,
    tolerance: float = PROBE_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression with an L2 penalty, by L-BFGS.

    Minimises ``mean cross-entropy + regularization / 2 * |W|^2`` (the bias is not
    penalised), from zero weights.

    Args:
        features: float32 ``(n, F)`` training features (already standardised).
        labels: int ``(n,)`` their classes.
        classes: Number of classes of the model.
        regularization: The penalty's strength.
        tolerance: Stop when every gradient component is below this.

    Returns:
        ``(W, b)``: float32 ``(F, classes)`` and ``(classes,)``.
    """
    x = np.asarray(features, dtype=np.float32)
    count, width = x.shape
    targets = np.zeros((count, classes), dtype=np.float32)
    targets[np.arange(count), labels] = 1.0

    def loss_and_gradient(flat: np.ndarray) -> tuple[float, np.ndarray]:
        weights = flat[: width * classes].reshape(width, classes).astype(np.float32)
        scores = x @ weights + flat[width * classes :].astype(np.float32)
        scores -= scores.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scores).sum(axis=1, keepdims=True))
        probabilities = np.exp(scores - log_norm)
        loss = -float(np.sum(targets * (scores - log_norm))) / count
        loss += 0.5 * regularization * float(np.sum(weights * weights))
        residual = (probabilities - targets) / count
        gradient_w = x.T @ residual + regularization * weights
        return loss, np.concatenate([gradient_w.ravel(), residual.sum(axis=0)]).astype(np.float64)

    with one_blas_thread():
        flat = minimize_lbfgs(loss_and_gradient, np.zeros(width * classes + classes), tolerance)
    weights = flat[: width * classes].reshape(width, classes).astype(np.float32)
    return weights, flat[width * classes :].astype(np.float32)


def minimize_lbfgs(
    loss_and_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]],
    start: np.ndarray,
    tolerance: float,
    max_iterations: int = PROBE_MAX_ITERATIONS,
    memory: int = 10,
) -> np.ndarray:
    """Minimise a smooth convex function by L-BFGS with a backtracking line search.

    The two-loop recursion (Nocedal and Wright, "Numerical Optimization", 2006, algorithm
    7.4) turns the last ``memory`` steps into a quasi-Newton direction; a step of 1 along
    it is halved until the loss decreases enough (Armijo's condition). Written out here
    because on these small problems SciPy's general L-BFGS-B spends as long in its own
    bookkeeping as in the loss.

    Args:
        loss_and_gradient: Returns the loss and its gradient (float64) at a point.
        start: The starting point.
        tolerance: Stop when every gradient component is at most this.
        max_iterations: Stop after this many steps.
        memory: Steps kept for the curvature estimate.

    Returns:
        The last point.
    """
    point = np.asarray(start, dtype=np.float64)
    loss, gradient = loss_and_gradient(point)
    steps: list[tuple[np.ndarray, np.ndarray, float]] = []
    for _ in range(max_iterations):
        if float(np.max(np.abs(gradient))) <= tolerance:
            break
        direction = -gradient
        weights = []
        for step, change, inverse in reversed(steps):
            weight = inverse * float(step @ direction)
            direction = direction - weight * change
            weights.append(weight)
        if steps:
            step, change, _ = steps[-1]
            direction = direction * (float(step @ change) / float(change @ change))
        else:  # no curvature known yet: a first step of unit length
            direction = direction / float(np.linalg.norm(direction))
        for (step, change, inverse), weight in zip(steps, reversed(weights), strict=True):
            direction = direction + step * (weight - inverse * float(change @ direction))
        slope = float(gradient @ direction)
        length = 1.0
        while True:
            candidate = point + length * direction
            new_loss, new_gradient = loss_and_gradient(candidate)
            if new_loss <= loss + 1e-4 * length * slope or length < 1e-10:
                break
            length *= 0.5
        step, change = candidate - point, new_gradient - gradient
        curvature = float(step @ change)
        if curvature > 1e-12:
            steps = [*steps[-(memory - 1) :], (step, change, 1.0 / curvature)]
        point, loss, gradient = candidate, new_loss, new_gradient
    return point


def probe_predictions(
    features: np.ndarray,
    labels: np.ndarray,
    train: np.ndarray,
    classes: int,
    regularization: float = PROBE_REGULARIZATION,
) -> np.ndarray:
    """A linear probe's predictions for the test half.

    The features are centred and scaled on the training half (see :func:`_standardised`),
    the probe is fitted there (:func:`fit_probe`) and predicts the other half.

    Returns:
        int64 predictions for the images where ``train`` is False, in order.

    References:
        Guillaume Alain, Yoshua Bengio. "Understanding intermediate layers using linear
        classifier probes". 2016. https://arxiv.org/abs/1610.01644
    """
    x = _standardised(features, train)
    weights, bias = fit_probe(x[train], np.asarray(labels)[train], classes, regularization)
    return np.asarray((x[~train] @ weights + bias).argmax(axis=1), dtype=np.int64)


def probe_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    train: np.ndarray,
    classes: int,
    regularization: float = PROBE_REGULARIZATION,
) -> float:
    """A linear probe's accuracy on the test half (see :func:`probe_predictions`)."""
    labels = np.asarray(labels)
    predictions = probe_predictions(features, labels, train, classes, regularization)
    return float(np.mean(predictions == labels[~train]))


def nearest(
    features: np.ndarray, query: int, count: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """The query's nearest images, the query itself first.

    Args:
        features: ``(N, F)``.
        query: Index of the query image.
        count: How many to return, the query included (at most ``N``).
        metric: See :func:`distances`.

    Returns:
        int64 indices and float64 distances, by increasing distance (then index), the
        query first at distance 0.
    """
    with one_blas_thread():
        row = distances(features, metric, rows=np.array([query]))[0]
    others = _ranked(row, count - 1, exclude=query)
    order = np.concatenate([[query], others]).astype(np.int64)
    return order, row[order]


def search_score(neighbour_classes: np.ndarray, query_class: int) -> float:
    """The share of same-class images among the top neighbours, rank-weighted.

    The neighbour at rank ``i`` (0 for the nearest, the query excluded) of ``k`` weighs
    ``(k - i) / k``; the score is the weight of the same-class neighbours over the total
    weight: 1 when all are of the query's class, 0 when none is.

    References:
        Victor Dibia. "ConvNet Playground: learning convolutional neural networks through
        interactive visualization". Cloudera Fast Forward Labs, 2019.
        https://github.com/fastforwardlabs/convnetplayground
    """
    k = len(neighbour_classes)
    if k == 0:
        return 0.0
    weights = (k - np.arange(k)) / k
    same = np.asarray(neighbour_classes) == query_class
    return float(weights[same].sum() / weights.sum())
