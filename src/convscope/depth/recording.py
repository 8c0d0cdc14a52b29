"""Probe and k-NN accuracy per layer at each snapshot: recorded in training, or computed later.

With ``record_depth`` on, the Recorder measures after each snapshot how separable the
probe set's classes are at every layer (:class:`SnapshotDepth`) and stores one
:class:`DepthRecord` per snapshot among the run's cached results. Runs recorded without
it, and imported models, get the same record on demand from the inspection worker, which
runs the ``knn_accuracy`` and ``linear_probes`` lenses with :data:`RECORDED` settings
(:func:`record_from_lenses`); the web server then stores it the same way. Either way the
Depth view reads one record per snapshot, made by the same code on the same features.

This module imports no Keras at import time: the web server reads and writes records.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from convscope.depth.measures import PROBE_REGULARIZATION
from convscope.depth.reduction import MAX_FEATURES

if TYPE_CHECKING:
    import keras

    from convscope.depth.features import LayerFeatures
    from convscope.store import Store

#: Bumped when the recorded measures change, so that older records are computed again.
DEPTH_VERSION = 1


@dataclass(frozen=True)
class DepthSettings:
    """How the per-snapshot accuracies are measured (the lenses' parameters).

    Attributes:
        sample_size: Measure on a class-stratified sample of this many probe images
            (:func:`~convscope.depth.measures.stratified_sample`), or on all of them (None).
        max_features: Features per image and layer (see :mod:`convscope.depth.features`).
        k: Neighbours that vote in the k-NN accuracy.
        metric: Distance of the k-NN accuracy.
        regularization: The probes' L2 penalty.
        seed: Seed of the probes' split into halves.
    """

    sample_size: int | None = None
    max_features: int = MAX_FEATURES
    k: int = 5
    metric: Literal["cosine", "euclidean"] = "cosine"
    regularization: float = PROBE_REGULARIZATION
    seed: int = 0

    def knn_params(self) -> dict[str, Any]:
        """The ``knn_accuracy`` lens's parameters."""
        return {
            "sample_size": self.sample_size,
            "max_features": self.max_features,
            "k": self.k,
            "metric": self.metric,
        }

    def probe_params(self) -> dict[str, Any]:
        """The ``linear_probes`` lens's parameters."""
        return {
            "sample_size": self.sample_size,
            "max_features": self.max_features,
            "regularization": self.regularization,
            "seed": self.seed,
        }


#: The settings of every per-snapshot record: the lenses' defaults on a sample of 500 probe
#: images, which keeps recording them in training within 15 % of its time (bench/depth.py).
RECORDED = DepthSettings(sample_size=500)


@dataclass(frozen=True)
class DepthRecord:
    """One snapshot's accuracies per row (``"input"`` first, then every layer).

    Attributes:
        layers: Row names.
        knn: Leave-one-out k-NN accuracy per row, on every probe image.
        probe: Linear-probe accuracy per row, on the probes' test half.
        network_knn: The network's own accuracy on every probe image.
        network_probe: The network's own accuracy on the probes' test half.
        same_as: Rows whose features repeat an earlier row's (a flatten, a dropout).
    """

    layers: list[str]
    knn: np.ndarray
    probe: np.ndarray
    network_knn: float
    network_probe: float
    same_as: dict[str, str]


ResultKind = Literal["accuracy", "maps"]


def record_key(
    index: int, settings: DepthSettings = RECORDED, kind: ResultKind = "accuracy"
) -> str:
    """The key of a snapshot's per-snapshot result among the run's cached results.

    Args:
        index: The snapshot.
        settings: How it was measured.
        kind: ``"accuracy"`` for a :class:`DepthRecord`, ``"maps"`` for the snapshot's
            ``layer_maps`` positions.
    """
    key = {"depth": DEPTH_VERSION, "kind": kind, "snapshot": int(index), **asdict(settings)}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def write_record(
    store: Store, run_id: str, index: int, record: DepthRecord, settings: DepthSettings = RECORDED
) -> None:
    """Store a snapshot's record (atomically, as a cached result of the run)."""
    store.write_lens_result(
        run_id,
        record_key(index, settings),
        {
            "knn": np.asarray(record.knn, dtype=np.float32),
            "probe": np.asarray(record.probe, dtype=np.float32),
        },
        {
            "layers": list(record.layers),
            "network_knn": record.network_knn,
            "network_probe": record.network_probe,
            "same_as": dict(record.same_as),
            "settings": asdict(settings),
        },
    )


def read_record(
    store: Store, run_id: str, index: int, settings: DepthSettings = RECORDED
) -> DepthRecord | None:
    """A snapshot's stored record, or None when there is none (yet)."""
    found = store.read_lens_result(run_id, record_key(index, settings))
    if found is None:
        return None
    arrays, meta = found
    return DepthRecord(
        layers=list(meta["layers"]),
        knn=arrays["knn"],
        probe=arrays["probe"],
        network_knn=float(meta["network_knn"]),
        network_probe=float(meta["network_probe"]),
        same_as=dict(meta.get("same_as", {})),
    )


def record_from_lenses(
    knn: tuple[dict[str, np.ndarray], dict[str, Any]],
    probes: tuple[dict[str, np.ndarray], dict[str, Any]],
) -> DepthRecord:
    """A record from the results (arrays, meta) of ``knn_accuracy`` and ``linear_probes``
    at one snapshot, run with :meth:`DepthSettings.knn_params` and ``probe_params``."""
    (knn_arrays, knn_meta), (probe_arrays, probe_meta) = knn, probes
    return DepthRecord(
        layers=list(knn_meta["layers"]),
        knn=np.asarray(knn_arrays["accuracy"], dtype=np.float32),
        probe=np.asarray(probe_arrays["accuracy"], dtype=np.float32),
        network_knn=float(knn_meta["network_accuracy"]),
        network_probe=float(probe_meta["network_accuracy"]),
        same_as=dict(knn_meta.get("same_as", {})),
    )


def measure(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, settings: DepthSettings = RECORDED
) -> DepthRecord:
    """Measure a snapshot's record directly: the same numbers as the two lenses give.

    Args:
        model: The network, with the snapshot's weights.
        images: float32 probe images as the model takes them.
        labels: Their classes.
        settings: How to measure.
    """
    from convscope.models.inspect import num_classes

    features, chosen = sampled_features(model, images, labels, settings)
    return measure_features(features, chosen, num_classes(model), settings)


def sampled_features(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, settings: DepthSettings = RECORDED
) -> tuple[LayerFeatures, np.ndarray]:
    """Every layer's features of the sample of images ``settings`` asks for, and their labels."""
    from convscope.depth.features import layer_features
    from convscope.depth.measures import stratified_sample

    chosen = stratified_sample(labels, settings.sample_size)
    images, labels = np.asarray(images)[chosen], np.asarray(labels, dtype=np.int64)[chosen]
    features = layer_features(model, images, max_features=settings.max_features, cache=False)
    return features, labels


def measure_features(
    features: LayerFeatures, labels: np.ndarray, classes: int, settings: DepthSettings = RECORDED
) -> DepthRecord:
    """The record of features already computed (NumPy only: it needs no model)."""
    from convscope.depth.measures import knn_accuracy, probe_accuracy, probe_split

    train = probe_split(labels, settings.seed)
    # Both measures of a row in one task: the threads that measure rows stay busy.
    pairs = features.each(
        lambda rows: (
            knn_accuracy(rows, labels, settings.k, settings.metric),
            probe_accuracy(rows, labels, train, classes, settings.regularization),
        )
    )
    knn, probe = zip(*pairs, strict=True)
    predicted = features.logits.argmax(axis=1)
    return DepthRecord(
        layers=list(features.names),
        knn=np.array(knn, dtype=np.float32),
        probe=np.array(probe, dtype=np.float32),
        network_knn=float(np.mean(predicted == labels)),
        network_probe=float(np.mean(predicted[~train] == labels[~train])),
        same_as=dict(features.same_as),
    )


class SnapshotDepth:
    """The Recorder's hook: after each snapshot, measure and store its :class:`DepthRecord`.

    The features need the network as it is at the snapshot, so they are computed at once;
    the measures on them need only NumPy, so they run in a background thread while
    training goes on (cores that training leaves idle do them), one snapshot after the
    other. :meth:`close` waits for the last ones.

    Args:
        store: The run's store.
        run_id: The run.
        images: The probe images as the model takes them.
        labels: Their classes.
        settings: How to measure.
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        images: np.ndarray,
        labels: np.ndarray,
        settings: DepthSettings = RECORDED,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.images = np.asarray(images, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.settings = settings
        self._background = ThreadPoolExecutor(1, thread_name_prefix="convscope-depth")
        self._jobs: list[Future[None]] = []

    def __call__(self, model: keras.Model, index: int) -> None:
        """Compute the features of the model as it is now; measure them in the background.

        Raises:
            Exception: What the measures of an earlier snapshot raised.
        """
        from convscope.models.inspect import num_classes

        self._raise_failures()
        features, labels = sampled_features(model, self.images, self.labels, self.settings)
        classes = num_classes(model)

        def finish() -> None:
            record = measure_features(features, labels, classes, self.settings)
            write_record(self.store, self.run_id, index, record, self.settings)

        self._jobs.append(self._background.submit(finish))

    def close(self) -> None:
        """Wait until every snapshot's record is stored.

        Raises:
            Exception: What the measures of a snapshot raised.
        """
        try:
            for job in self._jobs:
                job.result()
        finally:
            self._background.shutdown(wait=True)

    def _raise_failures(self) -> None:
        for job in [job for job in self._jobs if job.done()]:
            self._jobs.remove(job)
            if job.exception() is not None:
                self._background.shutdown(wait=False, cancel_futures=True)
                job.result()
