"""Measuring snapshots beside training: a cheap capture, then the work on a copy of the model.

At a snapshot the training thread only *captures*: it copies the weights (a few
milliseconds) and the training metrics, and goes on training. The measurement (the
forward pass over the evaluation set, the layer statistics with their backward pass, the
map positions) and the writes to the store run in one background thread, on a *shadow*
copy of the model that is given the captured weights, so a snapshot shows the network
exactly as it was when it was captured, however far training has gone since.

Training a small network in batches of 32 leaves CPU cores idle between steps, and the
snapshot work fills them, so recording costs little wall-clock time. A model that cannot
be copied (a subclassed model, custom layers) is measured inline, on the training thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from convscope.training.projection import AlignedProjection
from convscope.training.snapshot import (
    ModelTaps,
    confusion_matrix,
    cross_entropy,
    forward_in_batches,
    layer_statistics,
)

#: Captured snapshots that may wait for the background thread before training waits too.
QUEUE_DEPTH = 2


@dataclass(frozen=True)
class Capture:
    """What the training thread copies at a snapshot.

    Attributes:
        index: Position of the snapshot in the run.
        epoch: Exact epoch value (``epoch + batches_done / steps``).
        step: Global training step.
        train_metrics: ``train_loss`` and ``train_accuracy`` from Keras' logs.
        weights: ``model.get_weights()`` at that moment.
        weights_before: Each layer's trainable weights before the last step, or None.
    """

    index: int
    epoch: float
    step: int
    train_metrics: dict[str, float | None]
    weights: list[np.ndarray]
    weights_before: dict[str, list[np.ndarray]] | None


def shadow_copy(model: keras.Model) -> keras.Model | None:
    """An independent copy of ``model`` with the same layers, names and weights, or None.

    None when Keras cannot clone the model (subclassed models, unregistered layers).
    """
    try:
        shadow = keras.models.clone_model(model)
        weights = model.get_weights()
        if [w.shape for w in shadow.get_weights()] != [w.shape for w in weights]:
            return None
        shadow.set_weights(weights)
    except Exception:  # any failure means: measure on the live model instead
        return None
    return shadow


class Measurer:
    """Computes a snapshot's arrays and validation metrics on one model.

    Args:
        model: The model measured (the shadow copy, or the live model when inline).
        eval_x: The evaluation images, as the model takes them.
        eval_y: Their labels.
        probe_rows: Rows of the probe images within ``eval_x``.
        stats_x: The fixed batch of probe images for layer statistics.
        stats_y: Its labels.
    """

    def __init__(
        self,
        model: keras.Model,
        eval_x: np.ndarray,
        eval_y: np.ndarray,
        probe_rows: np.ndarray,
        stats_x: np.ndarray,
        stats_y: np.ndarray,
    ) -> None:
        self.model = model
        self.taps = ModelTaps(model)
        self.eval_x, self.eval_y = eval_x, eval_y
        self.probe_rows = probe_rows
        self.stats_x, self.stats_y = stats_x, stats_y
        self.projection = AlignedProjection()

    def __call__(
        self, capture: Capture, *, load_weights: bool
    ) -> tuple[dict[str, np.ndarray], dict[str, float | None]]:
        """Measure one captured snapshot.

        Args:
            capture: The snapshot.
            load_weights: Give the model the captured weights first (the shadow's case).

        Returns:
            The snapshot's arrays and its metrics (training ones from the capture).
        """
        if load_weights:
            self.model.set_weights(capture.weights)
        embedding, output = forward_in_batches(self.taps.head, self.eval_x)
        logits = self.taps.logits(output)
        predictions = logits.argmax(axis=1)
        rows = self.probe_rows
        probe_embedding = embedding[rows].reshape(len(rows), -1)
        arrays = {
            "logits": logits[rows].astype(np.float16),
            "embedding": probe_embedding.astype(np.float16),
            "positions": self.projection(probe_embedding),
            "confusion": confusion_matrix(self.eval_y, predictions, logits.shape[1]),
            **layer_statistics(self.taps, self.stats_x, self.stats_y, capture.weights_before),
        }
        metrics = {
            **capture.train_metrics,
            "val_loss": cross_entropy(logits, self.eval_y),
            "val_accuracy": float(np.mean(predictions == self.eval_y)),
        }
        return arrays, metrics


class SnapshotPipeline:
    """Processes captured snapshots in order: in one background thread, or inline.

    Args:
        process: Measures and writes one capture.
        background: Use a background thread; otherwise ``submit`` processes at once.
    """

    def __init__(self, process: Callable[[Capture], Any], *, background: bool) -> None:
        self.process = process
        self.background = background
        self._error: BaseException | None = None
        self._reported = False
        self._queue: queue.Queue[Capture | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._work, name="convscope-snapshots", daemon=True
            )
            self._thread.start()

    def submit(self, capture: Capture) -> None:
        """Hand over a snapshot; waits only when the background thread is far behind."""
        self.check()
        if self._thread is None:
            self.process(capture)
        else:
            self._queue.put(capture)

    def check(self) -> None:
        """Raise, once, the error that stopped the background thread."""
        if self._error is not None and not self._reported:
            self._reported = True
            raise self._error

    def close(self) -> None:
        """Wait until every submitted snapshot is written, then stop the thread.

        Raises:
            Exception: The error of a snapshot that failed, if not raised already.
        """
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.check()

    def _work(self) -> None:
        while True:
            capture = self._queue.get()
            if capture is None:
                return
            if self._error is not None:
                continue  # after a failure, later snapshots are dropped
            try:
                self.process(capture)
            except BaseException as error:  # raised on the training thread by check()
                self._error = error
