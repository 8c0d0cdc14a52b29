"""What the depth measures cost: lenses on 1,000 probe images, and recording them in training.

1. small_cnn trained one epoch on 5,000 Fashion-MNIST images (``shapes`` where
   Fashion-MNIST is not installed), one snapshot, every layer, 1,000 class-stratified test
   images: the time of ``layer_features``, ``knn_accuracy`` (goal <= 2 s),
   ``linear_probes`` (goal <= 5 s) and one ``similar_images`` query, first and warm (goal
   <= 100 ms warm). The lenses share the features of a snapshot: "cold" times include
   computing them, "warm" ones find them computed.
2. The web app's default experiment (small_cnn on 10,000 Fashion-MNIST images, 3 epochs,
   the whole test set for validation, 1,000 probe images) trained with the Recorder,
   without and with ``record_depth``, alternating on one model: images/s of both and their
   ratio (goal >= 0.85). The Recorder measures a class-stratified sample of 500 probe
   images (``convscope.depth.recording.RECORDED``).

    python bench/depth.py [--rounds 3] [--skip-lenses] [--skip-recorder]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import keras
import numpy as np

import convscope  # noqa: F401  (selects the TensorFlow backend)
from convscope import lenses
from convscope.datasets import Dataset, dataset_info
from convscope.datasets.probe import sample_probe
from convscope.depth.features import clear_cache
from convscope.depth.recording import measure
from convscope.store import Store
from convscope.training.config import RunConfig
from convscope.training.recorder import Recorder
from convscope.training.runner import prepare

GOALS_S = {"knn_accuracy": 2.0, "linear_probes": 5.0, "similar_images (warm)": 0.1}


def dataset_name() -> str:
    return "fashion_mnist" if dataset_info("fashion_mnist").available else "shapes"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def lens_figures() -> None:
    name = dataset_name()
    sizes = {"train_size": 5000, "test_size": 2000} if name == "fashion_mnist" else {}
    dataset, model = prepare(RunConfig(dataset=name, epochs=1, **sizes))
    model.fit(dataset.x_train, dataset.y_train, batch_size=32, epochs=1, verbose=0)
    chosen = sample_probe(dataset.y_test, 1000, 0)
    images = dataset.x_test[chosen].astype(np.float32)
    labels = dataset.y_test[chosen]
    print(f"{name}: small_cnn, one snapshot, {len(images)} probe images, every layer")

    def run(lens: str, **params: object) -> lenses.LensResult:
        return lenses.compute(lens, model, images, labels=labels, **params)

    # A first call traces the feature model; "cold" times then start from no cached features.
    run("layer_features", max_features=16)
    figures: dict[str, float] = {}
    figures["layer_features"] = timed(lambda: run("layer_features"))
    for lens in ("knn_accuracy", "linear_probes", "similar_images"):
        clear_cache()
        figures[f"{lens} (cold)"] = timed(lambda lens=lens: run(lens))
        figures[lens] = timed(lambda lens=lens: run(lens))
    queries = [timed(lambda q=q: run("similar_images", query=q)) for q in range(1, 11)]
    figures["similar_images (warm)"] = statistics.median(queries)
    result = run("linear_probes")
    knn = run("knn_accuracy")
    for label, seconds in figures.items():
        goal = GOALS_S.get(label)
        verdict = (
            f"  (goal <= {goal:g} s: {'met' if seconds <= goal else 'MISSED'})" if goal else ""
        )
        print(f"  {label:<26} {seconds * 1000:8.0f} ms{verdict}")
    print("  rows: " + ", ".join(result.meta["layers"]))
    print(
        "  probe accuracy: "
        + " ".join(f"{value:.2f}" for value in result.arrays["accuracy"])
        + f" | network {result.meta['network_accuracy']:.2f}"
    )
    print(
        "  k-NN accuracy:  "
        + " ".join(f"{value:.2f}" for value in knn.arrays["accuracy"])
        + f" | network {knn.meta['network_accuracy']:.2f}"
    )
    print("  (warm: the snapshot's features already computed by an earlier lens)")


def timed_fit(
    model: keras.Model, dataset: Dataset, epochs: int, recorder: Recorder
) -> tuple[float, float]:
    """Wall and CPU seconds of one ``model.fit`` with the Recorder."""
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(
        dataset.x_train,
        dataset.y_train,
        batch_size=RunConfig().batch_size,
        epochs=epochs,
        validation_data=(dataset.x_test, dataset.y_test),
        callbacks=[recorder],
        verbose=0,
    )
    return time.perf_counter() - start, time.process_time() - cpu_start


def recorder_figures(rounds: int) -> None:
    name = dataset_name()
    sizes = {"train_size": 10_000} if name == "fashion_mnist" else {}
    config = RunConfig(dataset=name, epochs=3, **sizes)
    dataset, model = prepare(config)
    images = len(dataset.x_train) * config.epochs
    print(
        f"{name}: {len(dataset.x_train)} training images, {config.epochs} epochs, "
        f"{len(dataset.x_test)} validation images, 1,000 probe images"
    )
    # One model throughout, so that both variants train the same compiled function; the
    # variants alternate, so that whatever else the machine does falls on both.
    model.fit(dataset.x_train[:512], dataset.y_train[:512], epochs=1, verbose=0)
    plain: list[float] = []
    recorded: list[float] = []
    plain_cpu: list[float] = []
    recorded_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as directory, Store(directory) as store:
        for round_number in range(rounds):
            for depth, times, cpu in ((False, plain, plain_cpu), (True, recorded, recorded_cpu)):
                recorder = Recorder(
                    store,
                    (dataset.x_test, dataset.y_test),
                    class_names=dataset.class_names,
                    record_depth=depth,
                )
                wall, seconds = timed_fit(model, dataset, config.epochs, recorder)
                times.append(wall)
                cpu.append(seconds)
            print(
                f"round {round_number + 1}: Recorder {images / plain[-1]:,.0f} images/s, "
                f"with record_depth {images / recorded[-1]:,.0f} images/s "
                f"({recorder.snapshot_count} snapshots)"
            )
    # The hook's own cost, timed alone on the trained model: less noisy than the difference
    # of two fits on a busy machine.
    chosen = sample_probe(dataset.y_test, 1000, 0)
    images, labels = dataset.x_test[chosen].astype(np.float32), dataset.y_test[chosen]
    measure(model, images, labels)
    hook = statistics.median(timed(lambda: measure(model, images, labels)) for _ in range(6))
    fit = statistics.median(plain)
    count = recorder.snapshot_count
    print(
        f"measuring one snapshot: {hook * 1000:.0f} ms; {count} of them (one run) add "
        f"{count * hook / fit:.1%} to a fit of {fit:.1f} s: ratio "
        f"{fit / (fit + count * hook):.3f}"
    )
    ratios = sorted(p / r for p, r in zip(plain, recorded, strict=True))
    ratio = statistics.median(plain) / statistics.median(recorded)
    print(
        f"ratio with/without record_depth: {ratio:.3f} of the medians, "
        f"{ratios[len(ratios) // 2]:.3f} median of the rounds (goal >= 0.85)"
    )
    # CPU seconds count the work done, whatever else the machine's cores are doing.
    cpu_ratio = statistics.median(plain_cpu) / statistics.median(recorded_cpu)
    print(f"ratio of CPU time without/with record_depth: {cpu_ratio:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-recorder", action="store_true")
    parser.add_argument("--skip-lenses", action="store_true")
    args = parser.parse_args()
    if not args.skip_lenses:
        lens_figures()
    if not args.skip_recorder:
        recorder_figures(args.rounds)


if __name__ == "__main__":
    main()
