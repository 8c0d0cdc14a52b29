"""What the Recorder costs: bare ``model.fit`` against ``model.fit`` with the default Recorder.

small_cnn on 20,000 Fashion-MNIST training images (``shapes`` where Fashion-MNIST is not
installed), validation on 2,000 test images, 3 epochs. The two variants alternate, each
on the same model, several times in one run; the script prints images/s for
both, their ratio (goal: >= 0.95), and the GFLOP/s that bare training achieves.

    python bench/recorder_overhead.py [--rounds 3] [--epochs 3] [--train-size 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import keras
import numpy as np

import convscope  # noqa: F401  (selects the TensorFlow backend)
from convscope.datasets import Dataset, dataset_info
from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.recorder import Recorder
from convscope.training.runner import prepare


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
    model: keras.Model, dataset: Dataset, epochs: int, recorder: Recorder | None
) -> tuple[float, float]:
    """Wall and CPU seconds of one ``model.fit`` with validation, with or without Recorder."""
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(
        dataset.x_train,
        dataset.y_train,
        batch_size=RunConfig().batch_size,
        epochs=epochs,
        validation_data=(dataset.x_test, dataset.y_test),
        callbacks=[recorder] if recorder is not None else [],
        verbose=0,
    )
    return time.perf_counter() - start, time.process_time() - cpu_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=20_000)
    parser.add_argument("--test-size", type=int, default=2_000)
    args = parser.parse_args()

    name = "fashion_mnist" if dataset_info("fashion_mnist").available else "shapes"
    train_size = args.train_size if name == "fashion_mnist" else None
    config = RunConfig(
        dataset=name,
        arch="small_cnn",
        train_size=train_size,
        test_size=args.test_size if name == "fashion_mnist" else None,
        epochs=args.epochs,
        probe_size=1000,
    )
    dataset, model = prepare(config)
    images = len(dataset.x_train) * config.epochs
    flops = forward_flops(model)
    print(
        f"dataset {name}: {len(dataset.x_train)} training images, {config.epochs} epochs, "
        f"{len(dataset.x_test)} validation images, small_cnn {model.count_params()} parameters, "
        f"batch size {config.batch_size}"
    )

    # One model throughout: its training function is compiled once, so each round times
    # training alone; every recorded round pays the Recorder's own set-up, as a user's fit
    # call does. The weights keep training, which changes no cost.
    timed_fit(model, dataset, 1, None)
    bare_times, recorded_times, bare_cpu, recorded_cpu = [], [], [], []
    with tempfile.TemporaryDirectory() as directory:
        store = Store(directory)
        for round_number in range(args.rounds):
            wall, cpu = timed_fit(model, dataset, config.epochs, None)
            bare_times.append(wall)
            bare_cpu.append(cpu)
            recorder = Recorder(
                store, (dataset.x_test, dataset.y_test), class_names=dataset.class_names
            )
            wall, cpu = timed_fit(model, dataset, config.epochs, recorder)
            recorded_times.append(wall)
            recorded_cpu.append(cpu)
            print(
                f"round {round_number + 1}: bare {images / bare_times[-1]:,.0f} images/s, "
                f"with Recorder {images / recorded_times[-1]:,.0f} images/s"
            )
        snapshots = recorder.snapshot_count
        store.close()
    ratios = sorted(b / r for b, r in zip(bare_times, recorded_times, strict=True))
    cpu_ratio = statistics.median(bare_cpu) / statistics.median(recorded_cpu)
    bare = images / statistics.median(bare_times)
    recorded = images / statistics.median(recorded_times)
    print(
        f"median: bare fit {bare:,.0f} images/s; fit with Recorder ({snapshots} snapshots) "
        f"{recorded:,.0f} images/s"
    )
    print(
        f"ratio recorded/bare: {recorded / bare:.3f} of the medians, "
        f"{ratios[len(ratios) // 2]:.3f} median of the rounds (goal >= 0.95)"
    )
    # CPU seconds count the work done, whatever else the machine's cores are doing.
    print(f"ratio of CPU time bare/recorded: {cpu_ratio:.3f}")
    # Training costs about three forward passes per image (forward, and backward twice).
    print(
        f"bare training achieves {3 * flops * bare / 1e9:.2f} GFLOP/s "
        f"({flops / 1e6:.2f} MFLOP per image forward)"
    )


if __name__ == "__main__":
    main()
