"""The Recorder: a Keras callback that records snapshots of a training run into a store.

Use it like ``keras.callbacks.TensorBoard``::

    rec = convscope.Recorder(store="~/.convscope", probe=(x_test, y_test), class_names=names)
    model.fit(x_train, y_train, epochs=5, callbacks=[rec])

The run then sits in the store beside the runs trained by the CLI or the web app.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from convscope.datasets.probe import sample_evaluation, sample_probe
from convscope.depth.recording import SnapshotDepth
from convscope.errors import InvalidInput
from convscope.store import Store
from convscope.training.batch_curve import BatchCurve, accuracy_from_logs
from convscope.training.config import (
    DEFAULT_EVAL_SIZE,
    DEFAULT_PROBE_SIZE,
    DEFAULT_SNAPSHOT_FRACTIONS,
    DEFAULT_SNAPSHOTS_PER_EPOCH,
)
from convscope.training.measure import Capture, Measurer, SnapshotPipeline, shadow_copy
from convscope.training.schedule import snapshot_batches
from convscope.training.snapshot import STATS_BATCH, trainable_weights_by_layer
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


class Recorder(keras.callbacks.Callback):
    """Records snapshots of a model during ``fit``: evenly through every epoch, denser early.

    A snapshot holds the train and validation metrics, the probe set's logits, predictions
    and penultimate-layer embeddings (float16) with their aligned 2-D map positions, the
    confusion matrix on the evaluation set, per-layer statistics and the weights. Snapshots
    are measured in a background thread on a copy of the model (see
    :mod:`convscope.training.measure`), so training goes on while they are recorded.

    One Recorder can serve several ``fit`` calls: each records a new run (or continues the
    numbering of the run it was given).

    Args:
        store: A :class:`~convscope.store.Store`, or the directory of one (default
            ``$CONVSCOPE_STORE`` or ``~/.convscope``).
        probe: ``(x_val, y_val)``: the validation set. The probe set is a fixed,
            class-stratified sample of it followed through the run.
        class_names: One name per class (default ``"0"``, ``"1"``...).
        probe_size: Size of the probe set (default 1,000, or the whole validation set when
            it is smaller).
        eval_size: Validation images measured at every snapshot for the validation metrics
            and the confusion matrix: the probe set plus a class-stratified sample of the
            rest (default 2,000, or all when fewer), so the cost of a snapshot does not grow
            with the validation set.
        snapshots_per_epoch: Snapshots spread evenly over every epoch, its end included.
        snapshot_fractions: Extra snapshots inside the first epoch, as fractions of it.
        seed: Seed of the probe-set and evaluation-set samples.
        probe_masks: Optional bool ``(N, H, W)`` true object masks of the validation images
            (the ``shapes`` dataset has them): the probe set's masks are recorded with its
            images, so attribution maps can be scored against them.
        run_id: Record into this existing run (the runner's case); by default a new run is
            created, with ``source="notebook"``, and finished when ``fit`` ends.
        name: Name of a new run.
        config: JSON-serialisable description stored with a new run.
        save_weights: Save the weights at every snapshot (needed to re-run lenses later).
        should_stop: Called after every batch; when it returns True training stops.
        on_event: Called with ``("progress", {...})``, ``("probe", {...})`` and
            ``("snapshot", {...})``; snapshot events come from the background thread.
        progress_interval: Seconds between two flushes of the per-batch curve to the store.
        background: Measure snapshots beside training; False measures them inline.
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
        eval_size: int | None = None,
        snapshots_per_epoch: int = DEFAULT_SNAPSHOTS_PER_EPOCH,
        snapshot_fractions: Sequence[float] = DEFAULT_SNAPSHOT_FRACTIONS,
        seed: int = 0,
        probe_masks: np.ndarray | None = None,
        run_id: str | None = None,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        save_weights: bool = True,
        should_stop: Callable[[], bool] | None = None,
        on_event: EventListener | None = None,
        progress_interval: float = 0.5,
        background: bool = True,
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
        if probe_masks is not None and np.shape(probe_masks) != self.val_x.shape[:3]:
            raise InvalidInput("probe_masks", "expected one (H, W) mask per validation image")
        self.val_masks = None if probe_masks is None else np.asarray(probe_masks, dtype=bool)
        if isinstance(snapshots_per_epoch, bool) or not isinstance(snapshots_per_epoch, int):
            raise InvalidInput("snapshots_per_epoch", "must be a whole number")
        if snapshots_per_epoch < 1:
            raise InvalidInput("snapshots_per_epoch", "must be at least 1")
        self.given_class_names = list(class_names) if class_names is not None else None
        self.class_names = self.given_class_names
        self.probe_size = probe_size or min(DEFAULT_PROBE_SIZE, len(self.val_y))
        # The probe set is always measured: the default evaluation set grows to hold it.
        default_eval = max(DEFAULT_EVAL_SIZE, self.probe_size)
        self.eval_size = min(eval_size if eval_size is not None else default_eval, len(self.val_y))
        if self.eval_size < self.probe_size:
            raise InvalidInput(
                "eval_size",
                f"{eval_size} is smaller than the probe set ({self.probe_size} images), "
                "which is always measured",
            )
        self.snapshots_per_epoch = snapshots_per_epoch
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
        self.background = background
        self.record_depth = record_depth
        self.stop_requested = False
        self.snapshot_count = 0
        self.last_metrics: dict[str, float | None] | None = None
        self.measured_in_background = False

    # -- lifecycle -------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        model = self.model
        # Keras calls this at every fit: everything about the previous fit starts afresh,
        # after what an interrupted fit had captured is written.
        with contextlib.suppress(Exception):
            self.close()
        self.stop_requested = False
        self.last_metrics = None
        num_classes = int(model.outputs[0].shape[-1])
        self.class_names = self.given_class_names or [str(i) for i in range(num_classes)]
        if self.owns_run:
            self.run_id = self._create_run(model)
        run_id = self._active_run
        self.store.update_run(run_id, class_names=self.class_names, versions=library_versions())
        self.snapshot_count = len(self.store.list_snapshots(run_id))
        self.probe_indices = sample_probe(self.val_y, self.probe_size, self.seed)
        self.eval_indices = sample_evaluation(
            self.val_y, self.probe_indices, self.eval_size, self.seed
        )
        self._write_probe(model)
        self.steps = self.params.get("steps")
        self.epochs = int(self.params.get("epochs") or 1)
        self.curve = BatchCurve()
        self.epoch = 0
        self.batches_done = 0
        self.global_step = 0
        self.last_snapshot_step = -1
        self.schedule: dict[int, float] = {}
        self.weights_before: dict[str, list[np.ndarray]] | None = None
        self.last_flush = time.monotonic()
        self.after_snapshot: list[SnapshotHook] = []
        if self.record_depth:
            probe = (self.val_x[self.probe_indices], self.val_y[self.probe_indices])
            self.after_snapshot.append(SnapshotDepth(self.store, run_id, *probe))
        self.pipeline = self._start_pipeline(model)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        self.batches_done = 0
        self.curve.start_epoch()
        self.schedule = snapshot_batches(
            self.steps, epoch, self.snapshots_per_epoch, self.snapshot_fractions
        )

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Copy the weights only before a batch that ends in a snapshot: the update-to-weight
        # ratio needs one step's change, and copying every batch would cost too much.
        if batch in self.schedule or (self.steps and batch == self.steps - 1):
            self.weights_before = trainable_weights_by_layer(self.model)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        self.batches_done = batch + 1
        fraction = (batch + 1) / self.steps if self.steps else 0.0
        self.curve.add(self.global_step, self.epoch + fraction, logs or {})
        scheduled = self.schedule.get(batch)
        if scheduled is not None or time.monotonic() - self.last_flush >= self.progress_interval:
            self._flush(batch + 1)
        if scheduled is not None:
            self._capture(scheduled, logs or {})
        self.pipeline.check()
        if self.should_stop is not None and self.should_stop():
            self.stop_requested = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # A run stopped inside an epoch is labelled with where it stopped, not its end.
        done = self.batches_done
        complete = not self.steps or done >= self.steps
        self._flush(done if self.steps else 0)
        if self.global_step == self.last_snapshot_step:
            return  # stopped right after a scheduled snapshot: nothing new to record
        epoch_value = float(epoch + 1) if complete else epoch + done / self.steps
        self._capture(epoch_value, logs or {})

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.pipeline.close()
        self._run_hooks(None)
        self._flush(self.batches_done if self.steps else 0)
        if self.owns_run and self.run_id is not None:
            self.store.update_run(self.run_id, final_metrics=self.last_metrics)
            self.store.set_status(self.run_id, "cancelled" if self.stop_requested else "done")

    def close(self) -> None:
        """Stop recording after ``fit`` ended with an error: write what was captured."""
        pipeline = getattr(self, "pipeline", None)
        if pipeline is not None:
            pipeline.close()
        self._run_hooks(None)

    # -- work ------------------------------------------------------------------------------

    @property
    def _active_run(self) -> str:
        if self.run_id is None:
            raise RuntimeError("the Recorder records only inside model.fit")
        return self.run_id

    def _create_run(self, model: keras.Model) -> str:
        optimizer = getattr(model, "optimizer", None)
        config = self.config or {
            "model": model.name,
            "optimizer": type(optimizer).__name__.lower() if optimizer is not None else None,
            "learning_rate": _learning_rate(optimizer),
            "epochs": self.params.get("epochs"),
            "probe_size": self.probe_size,
            "eval_size": self.eval_size,
            "snapshots_per_epoch": self.snapshots_per_epoch,
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
            "eval_indices": self.eval_indices,
            "validation_size": np.array(len(self.val_y), dtype=np.int64),
        }
        if self.val_masks is not None:
            arrays["masks"] = self.val_masks[self.probe_indices]
        if self.val_x.dtype != np.uint8:
            arrays["inputs"] = self.val_x[self.probe_indices].astype(np.float32)
        run_id = self._active_run
        self.store.write_run_arrays(run_id, "probe", arrays)
        self._save_architecture(model)
        # The web app asks for the probe images once this event says they exist.
        payload = {
            "count": len(self.probe_indices),
            "evaluated": len(self.eval_indices),
            "validation_size": len(self.val_y),
        }
        self.store.add_event(run_id, "probe", payload)
        self._emit("probe", payload)

    def _save_architecture(self, model: keras.Model) -> None:
        from convscope.models.io import save_model

        try:
            save_model(model, self.store.run_dir(self._active_run) / "model.keras")
        except Exception as error:  # a user model with custom layers cannot be re-opened
            self._emit("warning", {"message": f"model not saved: {error}"})

    def _start_pipeline(self, model: keras.Model) -> SnapshotPipeline:
        shadow = shadow_copy(model) if self.background else None
        self.measured_in_background = shadow is not None
        stats_rows = self.probe_indices[:STATS_BATCH]
        self.measurer = Measurer(
            shadow if shadow is not None else model,
            self.val_x[self.eval_indices],
            self.val_y[self.eval_indices],
            np.searchsorted(self.eval_indices, self.probe_indices),
            self.val_x[stats_rows],
            self.val_y[stats_rows],
        )
        return SnapshotPipeline(self._record, background=shadow is not None)

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

    def _capture(self, epoch_value: float, logs: dict[str, Any]) -> None:
        capture = Capture(
            index=self.snapshot_count,
            epoch=epoch_value,
            step=self.global_step,
            train_metrics={
                "train_loss": _number(logs.get("loss")),
                "train_accuracy": _number(accuracy_from_logs(logs)),
            },
            weights=self.model.get_weights(),
            weights_before=self.weights_before,
        )
        self.snapshot_count += 1
        self.last_snapshot_step = self.global_step
        self.weights_before = None
        self.pipeline.submit(capture)

    def _record(self, capture: Capture) -> None:
        """Measure and write one snapshot (in the background thread, or inline)."""
        arrays, metrics = self.measurer(capture, load_weights=self.measured_in_background)
        weights_file = self._write_weights(capture.weights)
        record = self.store.add_snapshot(
            self._active_run,
            capture.index,
            epoch=capture.epoch,
            step=capture.step,
            metrics=metrics,
            arrays=arrays,
            weights_file=weights_file,
        )
        self.last_metrics = metrics
        self._emit(
            "snapshot",
            {"index": record.index, "epoch": record.epoch, "step": record.step, "metrics": metrics},
        )
        self._run_hooks(record.index)

    def _run_hooks(self, index: int | None) -> None:
        """Call every hook after snapshot ``index``, or close them (None) when training ends."""
        for hook in list(getattr(self, "after_snapshot", [])):
            try:
                if index is not None:
                    # The model as it was at the snapshot: the measurer's own copy when
                    # snapshots are measured beside training.
                    hook(self.measurer.model, index)
                elif hasattr(hook, "close"):
                    hook.close()
            except Exception as error:  # a measure that fails must not stop training
                self.after_snapshot.remove(hook)
                self._emit("warning", {"message": f"{type(hook).__name__} stopped: {error}"})

    def _write_weights(self, weights: list[np.ndarray]) -> Path | None:
        if not self.save_weights:
            return None
        # np.savez costs a tenth of Keras' HDF5 weights file; the store fsyncs the file and
        # moves it into place.
        path = self.store.temp_path(self._active_run, ".weights.npz")
        np.savez(path, *weights)
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
