"""Train one run from its RunConfig: the code path shared by the CLI and the web worker."""

from __future__ import annotations

import math
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from convscope.datasets import Dataset, load_dataset
from convscope.datasets.uploaded import use_directory
from convscope.errors import ConvscopeError
from convscope.models.build import build_model
from convscope.store import RunRecord, Store
from convscope.training.config import RunConfig
from convscope.training.recorder import EventListener, Recorder

_OPTIMIZERS: dict[str, Callable[[float], keras.optimizers.Optimizer]] = {
    "adam": lambda lr: keras.optimizers.Adam(learning_rate=lr),
    "adamw": lambda lr: keras.optimizers.AdamW(learning_rate=lr),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(learning_rate=lr),
    "sgd": lambda lr: keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
}


def create_run(store: Store, config: RunConfig, *, source: str) -> RunRecord:
    """Queue a new run of ``config`` in ``store``."""
    return store.create_run(config.to_json_dict(), source=source, name=config.name)


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled training batches with random shifts and horizontal flips, in numpy.

    Augmentation stays out of the model, so the recorded model is the plain network that
    every lens looks at.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, config: RunConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size = config.batch_size
        self.shift = config.augment_shift
        self.flip = config.augment_flip
        self.rng = np.random.default_rng(config.seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.x[rows].copy()
        if self.flip:
            flipped = self.rng.random(len(rows)) < 0.5
            images[flipped] = images[flipped, :, ::-1]
        if self.shift > 0:
            images = self._shift(images)
        return images, self.y[rows]

    def _shift(self, images: np.ndarray) -> np.ndarray:
        height, width = images.shape[1:3]
        max_dy, max_dx = round(self.shift * height), round(self.shift * width)
        padded = np.pad(images, ((0, 0), (max_dy, max_dy), (max_dx, max_dx), (0, 0)))
        offsets_y = self.rng.integers(0, 2 * max_dy + 1, len(images))
        offsets_x = self.rng.integers(0, 2 * max_dx + 1, len(images))
        return np.stack(
            [
                padded[i, y : y + height, x : x + width]
                for i, (y, x) in enumerate(zip(offsets_y, offsets_x, strict=True))
            ]
        )

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.x))


def build_config_model(
    config: RunConfig, image_shape: tuple[int, int, int], num_classes: int
) -> keras.Model:
    """The (uncompiled) network of ``config`` for images of this shape and these classes."""
    return build_model(
        config.arch_spec(),
        image_shape,
        num_classes,
        weight_init=config.weight_init,
        dropout=config.dropout,
        seed=config.seed,
    )


def prepare(config: RunConfig, *, data_dir: str | None = None) -> tuple[Dataset, keras.Model]:
    """Load the dataset and build the compiled model of ``config``.

    Raises:
        InvalidInput: A size or option the dataset cannot satisfy.
        DataUnavailable: The dataset's files are not here.
    """
    dataset = load_dataset(
        config.dataset,
        data_dir=data_dir,
        train_size=config.train_size,
        test_size=config.test_size,
        seed=config.seed,
        **config.dataset_options,
    )
    keras.utils.set_random_seed(config.seed)
    model = build_config_model(config, dataset.image_shape, dataset.num_classes)
    model.compile(
        optimizer=_OPTIMIZERS[config.optimizer](config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return dataset, model


def fit(
    model: keras.Model, dataset: Dataset, config: RunConfig, recorder: keras.callbacks.Callback
) -> None:
    """Train ``model`` on ``dataset`` as ``config`` says, with ``recorder`` attached."""
    if config.augment_shift > 0 or config.augment_flip:
        batches = AugmentedBatches(dataset.x_train, dataset.y_train, config)
        model.fit(batches, epochs=config.epochs, callbacks=[recorder], verbose=0)
    else:
        model.fit(
            dataset.x_train,
            dataset.y_train,
            batch_size=config.batch_size,
            epochs=config.epochs,
            shuffle=True,
            callbacks=[recorder],
            verbose=0,
        )


def train_run(
    store: Store,
    run_id: str,
    *,
    should_stop: Callable[[], bool] | None = None,
    data_dir: str | None = None,
    on_event: EventListener | None = None,
) -> RunRecord:
    """Train the stored run ``run_id`` to the end, recording its snapshots.

    The run goes to ``running`` (if still queued), then to ``done``; to ``cancelled`` when
    ``should_stop`` returns True (checked after every batch); to ``interrupted`` on Ctrl-C;
    to ``failed``, with the reason, on any error. Snapshots already recorded stay.

    Args:
        store: The store holding the run.
        run_id: The run to train.
        should_stop: Polled after every batch; True stops training after that batch.
        data_dir: Extra directory searched first for dataset files.
        on_event: Receives progress and snapshot events (for progress bars).

    Returns:
        The run's final record.
    """
    run = store.get_run(run_id)
    if run.status == "queued":
        store.set_status(run_id, "running")
    store.update_run(run_id, worker_pid=os.getpid())
    recorder: Recorder | None = None
    try:
        use_directory(store.datasets_dir)  # a dataset uploaded since this process started
        config = RunConfig.model_validate(run.config)
        dataset, model = prepare(config, data_dir=data_dir)
        recorder = Recorder(
            store,
            (dataset.x_test, dataset.y_test),
            class_names=dataset.class_names,
            probe_size=config.probe_size,
            eval_size=config.eval_size,
            snapshots_per_epoch=config.snapshots_per_epoch,
            snapshot_fractions=config.snapshot_fractions,
            seed=config.seed,
            probe_masks=dataset.masks_test,
            run_id=run_id,
            should_stop=should_stop,
            on_event=on_event,
            record_depth=config.record_depth,
        )
        fit(model, dataset, config, recorder)
    except KeyboardInterrupt:
        _close_quietly(recorder)
        # An executor delivers a cancel this way too (ray.cancel): the store tells which.
        if store.is_cancel_requested(run_id):
            store.set_status(run_id, "cancelled")
        else:
            store.set_status(run_id, "interrupted", error="interrupted by the user")
        return store.get_run(run_id)
    except ConvscopeError as error:
        _close_quietly(recorder)
        store.set_status(run_id, "failed", error=str(error))
        return store.get_run(run_id)
    except Exception as error:  # the run fails, the caller (a worker) goes on
        _close_quietly(recorder)
        traceback.print_exc(file=sys.stderr)
        store.set_status(run_id, "failed", error=f"{type(error).__name__}: {error}")
        return store.get_run(run_id)
    store.update_run(run_id, final_metrics=recorder.last_metrics)
    store.set_status(run_id, "cancelled" if recorder.stop_requested else "done")
    return store.get_run(run_id)


def _close_quietly(recorder: Recorder | None) -> None:
    """Write the snapshots a failed or interrupted fit had captured; ignore their errors."""
    if recorder is None:
        return
    try:
        recorder.close()
    except Exception:  # the run's own error is the one to report
        traceback.print_exc(file=sys.stderr)
