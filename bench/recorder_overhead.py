"""What the Recorder costs: bare ``model.fit`` against ``model.fit`` with the default Recorder.

Three experiments on Fashion-MNIST (``shapes`` where it is not installed), small_cnn,
batches of 32, 1,000 probe images, the Recorder's default snapshots (1/8 of the first
epoch, then every quarter epoch) and evaluation set (2,000 validation images):

- ``default``: the web app's default experiment, 10,000 training images, 3 epochs, the
  whole 10,000-image test set as validation set, as the web app trains it (no Keras
  validation pass);
- ``val2000`` and ``val10000``: 20,000 training images, 2 epochs, with
  ``validation_data`` of 2,000 or 10,000 test images passed to both fits, as a notebook
  user does: the Recorder's cost must not grow with the validation set.

The variants alternate, each on the same model, several times in one run; the script
prints images/s for each, their ratio to bare fit (goal: >= 0.95) and the ratio of CPU
seconds. ``--per-epoch 2,4`` records with each number of snapshots per epoch side by side
(the length of the film against its cost); ``--inline`` adds a variant whose snapshots
are measured on the training thread, to show what measuring them beside training saves.

    python bench/recorder_overhead.py [--experiments default,val2000,val10000] [--rounds 3]
                                      [--per-epoch 4] [--inline]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass

import keras
import numpy as np

import convscope  # noqa: F401  (selects the TensorFlow backend)
from convscope.datasets import Dataset, dataset_info
from convscope.store import Store
from convscope.training.config import DEFAULT_SNAPSHOTS_PER_EPOCH, RunConfig
from convscope.training.recorder import Recorder
from convscope.training.runner import prepare


@dataclass(frozen=True)
class Experiment:
    """One side-by-side comparison."""

    name: str
    train_size: int
    epochs: int
    test_size: int
    keras_validation: bool


EXPERIMENTS = {
    "default": Experiment("default", 10_000, 3, 10_000, keras_validation=False),
    "val2000": Experiment("val2000", 20_000, 2, 2_000, keras_validation=True),
    "val10000": Experiment("val10000", 20_000, 2, 10_000, keras_validation=True),
}


def forward_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of one image's forward pass through conv and dense layers."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, channels_out = layer.output.shape
            kernel = np.prod(layer.kernel.shape[:-1])  # kh * kw * channels_in
            flops += 2 * height * width * channels_out * int(kernel)
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * int(np.prod(layer.kernel.shape))
    return int(flops)


def timed_fit(
    model: keras.Model,
    dataset: Dataset,
    epochs: int,
    recorder: Recorder | None,
    *,
    keras_validation: bool,
) -> tuple[float, float]:
    """Wall and CPU seconds of one ``model.fit``, with or without the Recorder."""
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(
        dataset.x_train,
        dataset.y_train,
        batch_size=RunConfig().batch_size,
        epochs=epochs,
        validation_data=(dataset.x_test, dataset.y_test) if keras_validation else None,
        callbacks=[recorder] if recorder is not None else [],
        verbose=0,
    )
    return time.perf_counter() - start, time.process_time() - cpu_start


def compare(experiment: Experiment, rounds: int, *, per_epoch: list[int], inline: bool) -> None:
    """Alternate bare and recorded fits of one experiment; print their ratios."""
    name = "fashion_mnist" if dataset_info("fashion_mnist").available else "shapes"
    fashion = name == "fashion_mnist"
    config = RunConfig(
        dataset=name,
        arch="small_cnn",
        train_size=experiment.train_size if fashion else None,
        test_size=experiment.test_size if fashion else None,
        epochs=experiment.epochs,
    )
    dataset, model = prepare(config)
    images = len(dataset.x_train) * config.epochs
    flops = forward_flops(model)
    validation = "Keras validation pass" if experiment.keras_validation else "no Keras validation"
    print(
        f"[{experiment.name}] {name}: {len(dataset.x_train)} training images, "
        f"{config.epochs} epochs, {len(dataset.x_test)} validation images ({validation}), "
        f"small_cnn {model.count_params()} parameters, batch size {config.batch_size}"
    )
    fit_kwargs = {"keras_validation": experiment.keras_validation}
    # Each variant: None for bare fit, else (snapshots per epoch, measured in background).
    variants: dict[str, tuple[int, bool] | None] = {"bare": None}
    for count in per_epoch:
        variants[f"{count}/epoch"] = (count, True)
    if inline:
        variants[f"{per_epoch[-1]}/epoch inline"] = (per_epoch[-1], False)
    walls: dict[str, list[float]] = {key: [] for key in variants}
    cpus: dict[str, list[float]] = {key: [] for key in variants}
    # One model throughout: its training function is compiled once, so each round times
    # training alone; every recorded round pays the Recorder's own set-up, as a user's fit
    # call does. The weights keep training, which changes no cost.
    timed_fit(model, dataset, 1, None, **fit_kwargs)
    snapshots: dict[str, int] = {}
    evaluated = 0
    with tempfile.TemporaryDirectory() as directory:
        store = Store(directory)
        for round_number in range(rounds):
            for key, variant in variants.items():
                recorder = None
                if variant is not None:
                    recorder = Recorder(
                        store,
                        (dataset.x_test, dataset.y_test),
                        class_names=dataset.class_names,
                        snapshots_per_epoch=variant[0],
                        background=variant[1],
                    )
                wall, cpu = timed_fit(model, dataset, config.epochs, recorder, **fit_kwargs)
                walls[key].append(wall)
                cpus[key].append(cpu)
                if recorder is not None:
                    snapshots[key], evaluated = recorder.snapshot_count, recorder.eval_size
            print(
                f"  round {round_number + 1}: "
                + ", ".join(f"{key} {images / walls[key][-1]:,.0f} images/s" for key in variants)
            )
        store.close()
    bare = images / statistics.median(walls["bare"])
    print(
        f"  median: bare fit {bare:,.0f} images/s; every snapshot measures {evaluated} "
        "validation images"
    )
    for key, variant in variants.items():
        if variant is None:
            continue
        ratios = sorted(b / r for b, r in zip(walls["bare"], walls[key], strict=True))
        recorded = images / statistics.median(walls[key])
        cpu_ratio = statistics.median(cpus["bare"]) / statistics.median(cpus[key])
        where = "beside training" if variant[1] else "on the training thread"
        print(
            f"  [{experiment.name}] {key}, {snapshots[key]} snapshots measured {where}: "
            f"{recorded:,.0f} images/s, ratio to bare {recorded / bare:.3f} of the medians, "
            f"{ratios[len(ratios) // 2]:.3f} median of the rounds (goal >= 0.95); "
            f"ratio of CPU time bare/recorded {cpu_ratio:.3f}"
        )
    # Training costs about three forward passes per image (forward, and backward twice).
    print(
        f"  bare training achieves {3 * flops * bare / 1e9:.2f} GFLOP/s "
        f"({flops / 1e6:.2f} MFLOP per image forward)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", default="default,val2000,val10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--per-epoch",
        default=str(DEFAULT_SNAPSHOTS_PER_EPOCH),
        help="snapshots per epoch to compare, e.g. 2,4",
    )
    parser.add_argument("--inline", action="store_true", help="also measure inline snapshots")
    args = parser.parse_args()
    per_epoch = [int(value) for value in args.per_epoch.split(",")]
    for key in args.experiments.split(","):
        compare(EXPERIMENTS[key.strip()], args.rounds, per_epoch=per_epoch, inline=args.inline)


if __name__ == "__main__":
    main()
