"""What the Recorder costs: bare ``model.fit`` against ``model.fit`` with the default Recorder.

small_cnn on 20,000 Fashion-MNIST training images (``shapes`` where Fashion-MNIST is not
installed), validation on 2,000 test images, 3 epochs. The two variants alternate, each
from the same initial weights, several times in one run; the script prints images/s for
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
from convscope.datasets import dataset_info
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


def timed_fit(config: RunConfig, store: Store | None, initial: list[np.ndarray]) -> float:
    dataset, model = prepare(config)
    model.set_weights(initial)
    callbacks = []
    if store is not None:
        callbacks.append(
            Recorder(store, (dataset.x_test, dataset.y_test), class_names=dataset.class_names)
        )
    start = time.perf_counter()
    model.fit(
        dataset.x_train,
        dataset.y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(dataset.x_test, dataset.y_test),
        callbacks=callbacks,
        verbose=0,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
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
    initial = model.get_weights()
    images = len(dataset.x_train) * config.epochs
    flops = forward_flops(model)
    print(
        f"dataset {name}: {len(dataset.x_train)} training images, {config.epochs} epochs, "
        f"{len(dataset.x_test)} validation images, small_cnn {model.count_params()} parameters"
    )

    timed_fit(config, None, initial)  # warm-up: library start-up costs land on neither side
    bare_times, recorded_times = [], []
    with tempfile.TemporaryDirectory() as directory:
        store = Store(directory)
        for round_number in range(args.rounds):
            bare_times.append(timed_fit(config, None, initial))
            recorded_times.append(timed_fit(config, store, initial))
            print(
                f"round {round_number + 1}: bare {images / bare_times[-1]:,.0f} images/s, "
                f"with Recorder {images / recorded_times[-1]:,.0f} images/s"
            )
        snapshots = len(store.list_snapshots(store.list_runs()[0].id))
        store.close()
    bare = images / statistics.median(bare_times)
    recorded = images / statistics.median(recorded_times)
    print(
        f"median: bare fit {bare:,.0f} images/s; fit with Recorder ({snapshots} snapshots) "
        f"{recorded:,.0f} images/s"
    )
    print(f"ratio recorded/bare: {recorded / bare:.3f} (goal >= 0.95)")
    # Training costs about three forward passes per image (forward, and backward twice).
    print(
        f"bare training achieves {3 * flops * bare / 1e9:.2f} GFLOP/s "
        f"({flops / 1e6:.2f} MFLOP per image forward)"
    )


if __name__ == "__main__":
    main()
