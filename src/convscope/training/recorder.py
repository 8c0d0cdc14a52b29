"""The Recorder: a Keras callback that records snapshots of a training run into a store.

Use it like ``keras.callbacks.TensorBoard``::

    rec = convscope.Recorder(store="~/.convscope", probe=(x_test, y_test), class_names=names)
    model.fit(x_train, y_train, epochs=5, callbacks=[rec])

The run then sits in the store beside the runs trained by the CLI or the web app.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from convscope.datasets.probe import sample_probe
from convscope.depth.recording import SnapshotDepth
from convscope.errors import InvalidInput
from convscope.store import Store
from convscope.training.batch_curve import BatchCurve, accuracy_from_logs
from convscope.training.config import DEFAULT_SNAPSHOT_FRACTIONS
from convscope.training.projection import AlignedProjection
from convscope.training.snapshot import (
    STATS_BATCH,
    ModelTaps,
    confusion_matrix,
    cross_entropy,
    forward_in_batches,
    layer_statistics,
    trainable_weights_by_layer,
)
from convscope.training.versions import library_versions

EventListener = Callable[[str, dict[str, Any]], None]
#: Called with the model and the snapshot's index after each snapshot is stored; a hook
#: with a ``close()`` method has it called when training ends.
SnapshotHook = Callable[[keras.Model, int], None]


def display_images(images: np.ndarray) -> np.ndarray:
    """Images as uint8 NHWC for display, whatever range the model is fed."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype == np.uint8:
        return images
    values = images.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        values = values * 255
    elif high > 255 or low < 0:
        values = (values - low) / max(high - low, 1e-12) * 255
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def snapshot_batches(steps: int | None, fractions: Sequence[float]) -> dict[int, float]:
    """First-epoch batch indices after which a snapshot is taken, with their epoch value."""
    if not steps:
        return {}
    schedule: dict[int, float] = {}
    for fraction in fractions:
        batch = max(0, round(fraction * steps) - 1)
        if batch < steps - 1:  # the last batch is the epoch-end snapshot
            schedule[batch] = (batch + 1) / steps
    return schedule


class Recorder(keras.callbacks.Callback):
    """Records snapshots of a model during ``fit``: after every epoch and early in the first.

    A snapshot holds the train and validation metrics, the probe set's logits, predictions
    and penultimate-layer embeddings (float16) with their aligned 2-D map positions, the
    confusion matrix on the whole validation set, per-layer statistics and the weights.

    Args:
        store: A :class:`~convscope.store.Store`, or the directory of one (default
            ``$CONVSCOPE_STORE`` or ``~/.convscope``).
        probe: ``(x_val, y_val)``: the validation set. The probe set is a fixed,
            class-stratified sample of it followed through the run; the confusion matrix and
            validation metrics use all of it.
        class_names: One name per class (default ``"0"``, ``"1"``...).
        probe_size: Size of the probe set (default 1,000, or the whole validation set when
            it is smaller).
        snapshot_fractions: Extra snapshots inside the first epoch, as fractions of it.
        seed: Seed of the probe-set sample.
        run_id: Record into this existing run (the runner's case); by default a new run is
            created, with ``source="notebook"``, and finished when ``fit`` ends.
        name: Name of a new run.
        config: JSON-serialisable description stored with a new run.
        save_weights: Save the weights at every snapshot (needed to re-run lenses later).
        should_stop: Called after every batch; when it returns True training stops.
        on_event: Called with ``("progress", {...})`` and ``("snapshot", {...})``.
        progress_interval: Seconds between two flushes of the per-batch curve to the store.
        record_depth: After each snapshot, measure the linear-probe and k-NN accuracy of
            every layer on the probe set (:mod:`convscope.depth.recording`); without it,
            the web app computes them when they are first looked at.
    """

    def __init__(
        self,
        store: Store | str | os.PathLike[str] | None = None,
        probe: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        class_names: Sequence[str] | None = None,
        probe_size: int | None = None,
        snapshot_fractions: Sequence[float] = DEFAULT_SNAPSHOT_FRACTIONS,
        seed: int = 0,
        run_id: str | None = None,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        save_weights: bool = True,
        should_stop: Callable[[], bool] | None = None,
        on_event: EventListener | None = None,
        progress_interval: float = 0.5,
        record_depth: bool = False,
    ) -> None:
        super().__init__()
        if probe is None:
            raise InvalidInput("probe", "give the validation set as probe=(x_val, y_val)")
        self.store = store if isinstance(store, Store) else Store(store)
        self.val_x = np.asarray(probe[0])
        self.val_y = np.asarray(probe[1]).reshape(-1).astype(np.int64)
        if len(self.val_x) != len(self.val_y) or len(self.val_y) == 0:
            raise InvalidInput("probe", "x and y must be non-empty and of the same length")
        if probe_size is not None and probe_size > len(self.val_y):
            raise InvalidInput(
                "probe_size",
                f"{probe_size} is larger than the validation set ({len(self.val_y)} images)",
            )
        self.class_names = list(class_names) if class_names is not None else None
        self.probe_size = probe_size or min(1000, len(self.val_y))
        self.snapshot_fractions = tuple(snapshot_fractions)
        self.seed = seed
        self.run_id = run_id
        self.owns_run = run_id is None
        self.name = name
        self.config = config
        self.save_weights = save_weights
        self.should_stop = should_stop
        self.on_event = on_event
        self.progress_interval = progress_interval
        self.record_depth = record_depth
        self.stop_requested = False
        self.snapshot_count = 0
        self.last_metrics: dict[str, float | None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        model = self.model
        self.taps = ModelTaps(model)
        num_classes = int(model.outputs[0].shape[-1])
        if self.class_names is None:
            self.class_names = [str(i) for i in range(num_classes)]
        if self.owns_run:
            self.run_id = self._create_run(model)
        self.store.update_run(
            self._active_run, class_names=self.class_names, versions=library_versions()
        )
        self.probe_indices = sample_probe(self.val_y, self.probe_size, self.seed)
        self._write_probe(model)
        self.stats_x = self.val_x[self.probe_indices[:STATS_BATCH]]
        self.stats_y = self.val_y[self.probe_indices[:STATS_BATCH]]
        self.steps = self.params.get("steps")
        self.epochs = int(self.params.get("epochs") or 1)
        self.early_batches = snapshot_batches(self.steps, self.snapshot_fractions)
        self.projection = AlignedProjection()
        self.curve = BatchCurve()
        self.epoch = 0
        self.global_step = 0
        self.weights_before: dict[str, list[np.ndarray]] | None = None
        self.last_flush = time.monotonic()
        self.after_snapshot: list[SnapshotHook] = []
        if self.record_depth:
            probe = (self.val_x[self.probe_indices], self.val_y[self.probe_indices])
            self.after_snapshot.append(SnapshotDepth(self.store, self._active_run, *probe))

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        self.curve.start_epoch()

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Copy the weights only before a batch that ends in a snapshot: the update-to-weight
        # ratio needs one step's change, and copying every batch would cost too much.
        if self._snapshot_after(batch) is not None:
            self.weights_before = trainable_weights_by_layer(self.model)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        fraction = (batch + 1) / self.steps if self.steps else 0.0
        self.curve.add(self.global_step, self.epoch + fraction, logs or {})
        early = self._early_snapshot(batch)
        if early is not None or time.monotonic() - self.last_flush >= self.progress_interval:
            self._flush(batch + 1)
        if early is not None:
            self._snapshot(early, logs or {})
        if self.should_stop is not None and self.should_stop():
            self.stop_requested = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._flush(self.steps or 0)
        self._snapshot(float(epoch + 1), logs or {})

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._flush(self.steps or 0)
        self._run_hooks(None)
        if self.owns_run and self.run_id is not None:
            self.store.update_run(self.run_id, final_metrics=self.last_metrics)
            self.store.set_status(self.run_id, "cancelled" if self.stop_requested else "done")

    # -- work ------------------------------------------------------------------------------

    @property
    def _active_run(self) -> str:
        if self.run_id is None:
            raise RuntimeError("the Recorder records only inside model.fit")
        return self.run_id

    def _early_snapshot(self, batch: int) -> float | None:
        return self.early_batches.get(batch) if self.epoch == 0 else None

    def _snapshot_after(self, batch: int) -> float | None:
        early = self._early_snapshot(batch)
        if early is not None:
            return early
        if self.steps and batch == self.steps - 1:
            return float(self.epoch + 1)
        return None

    def _create_run(self, model: keras.Model) -> str:
        optimizer = getattr(model, "optimizer", None)
        config = self.config or {
            "model": model.name,
            "optimizer": type(optimizer).__name__.lower() if optimizer is not None else None,
            "learning_rate": _learning_rate(optimizer),
            "epochs": self.params.get("epochs"),
            "probe_size": self.probe_size,
            "snapshot_fractions": list(self.snapshot_fractions),
            "seed": self.seed,
            "record_depth": self.record_depth,
        }
        run = self.store.create_run(config, source="notebook", name=self.name)
        self.store.set_status(run.id, "running")
        self.store.update_run(run.id, worker_pid=os.getpid())
        return run.id

    def _write_probe(self, model: keras.Model) -> None:
        arrays = {
            "indices": self.probe_indices.astype(np.int64),
            "images": display_images(self.val_x[self.probe_indices]),
            "labels": self.val_y[self.probe_indices],
        }
        if self.val_x.dtype != np.uint8:
            arrays["inputs"] = self.val_x[self.probe_indices].astype(np.float32)
        self.store.write_run_arrays(self._active_run, "probe", arrays)
        self._save_architecture(model)

    def _save_architecture(self, model: keras.Model) -> None:
        from convscope.models.io import save_model

        try:
            save_model(model, self.store.run_dir(self._active_run) / "model.keras")
        except Exception as error:  # a user model with custom layers cannot be re-opened
            self._emit("warning", {"message": f"model not saved: {error}"})

    def _flush(self, batch_in_epoch: int) -> None:
        self.last_flush = time.monotonic()
        rows = self.curve.take()
        progress = {
            "epoch": self.epoch,
            "step": batch_in_epoch,
            "steps_per_epoch": self.steps,
            "epochs": self.epochs,
        }
        run_id = self._active_run
        self.store.update_run(run_id, progress=progress)
        if not rows:
            return
        self.store.add_batches(run_id, rows)
        payload = {**progress, "batches": [list(row) for row in rows]}
        self.store.add_event(run_id, "progress", payload)
        self._emit("progress", payload)

    def _snapshot(self, epoch_value: float, logs: dict[str, Any]) -> None:
        embedding, output = forward_in_batches(self.taps.head, self.val_x)
        logits = self.taps.logits(output)
        predictions = logits.argmax(axis=1)
        num_classes = logits.shape[1]
        probe_embedding = embedding[self.probe_indices].reshape(len(self.probe_indices), -1)
        arrays = {
            "logits": logits[self.probe_indices].astype(np.float16),
            "embedding": probe_embedding.astype(np.float16),
            "positions": self.projection(probe_embedding),
            "confusion": confusion_matrix(self.val_y, predictions, num_classes),
            **layer_statistics(self.taps, self.stats_x, self.stats_y, self.weights_before),
        }
        metrics = {
            "train_loss": _number(logs.get("loss")),
            "train_accuracy": _number(accuracy_from_logs(logs)),
            "val_loss": cross_entropy(logits, self.val_y),
            "val_accuracy": float(np.mean(predictions == self.val_y)),
        }
        weights_file = self._write_weights()
        record = self.store.add_snapshot(
            self._active_run,
            self.snapshot_count,
            epoch=epoch_value,
            step=self.global_step,
            metrics=metrics,
            arrays=arrays,
            weights_file=weights_file,
        )
        self.snapshot_count += 1
        self.last_metrics = metrics
        self.weights_before = None
        self._emit(
            "snapshot",
            {"index": record.index, "epoch": epoch_value, "step": record.step, "metrics": metrics},
        )
        self._run_hooks(record.index)

    def _run_hooks(self, index: int | None) -> None:
        """Call every hook after snapshot ``index``, or close them (None) when training ends."""
        for hook in list(self.after_snapshot):
            try:
                if index is not None:
                    hook(self.model, index)
                elif hasattr(hook, "close"):
                    hook.close()
            except Exception as error:  # a measure that fails must not stop training
                self.after_snapshot.remove(hook)
                self._emit("warning", {"message": f"{type(hook).__name__} stopped: {error}"})

    def _write_weights(self) -> Path | None:
        if not self.save_weights:
            return None
        # model.get_weights() and np.savez cost a tenth of Keras' HDF5 weights file; the store
        # fsyncs the file and moves it into place.
        path = self.store.temp_path(self._active_run, ".weights.npz")
        np.savez(path, *self.model.get_weights())
        return path

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, payload)


def _learning_rate(optimizer: Any) -> float | None:
    """The optimizer's learning rate now, or None (no optimizer, or a schedule object)."""
    try:
        # Stored as float32 by Keras: six significant digits give back the 1e-3 typed.
        return float(f"{float(keras.ops.convert_to_numpy(optimizer.learning_rate)):.6g}")
    except (AttributeError, TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None
