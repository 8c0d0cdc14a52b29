"""What switching channels off costs: channel importance on 1,000 images, and one toggle.

Trains small_cnn for one epoch on 5,000 Fashion-MNIST images (the generated ``shapes``
where Fashion-MNIST is not installed) into a temporary store, with a probe set of 1,000
test images, then measures against the goals:

1. ``channel_importance`` of small_cnn's last convolution (``conv2``, 32 channels) on the
   1,000 probe images, in the inspection worker (the request and the answer through its
   pipe included), first and warm (goal <= 3 s warm); and in-process, for ``conv2``, for
   ``dense1`` (64 units), and for a small_cnn whose last convolution has 64 filters;
2. one ``ablation`` (one channel off) in the worker, warm;
3. in headless Chromium, in the Depth view: a channel's "switch off" toggle clicked to the
   classification map redrawn with the ablated predictions (goal <= 500 ms), each toggle
   a channel not switched off before (so no answer comes from the server's file cache).

    python bench/ablation.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import convscope  # noqa: E402
from browser import running_server  # noqa: E402
from chromium import launch  # noqa: E402
from convscope.config import Settings  # noqa: E402

PROBE = 1000
TOGGLES = 8

#: One toggle, timed from the click to the first frame drawn after the answer arrived.
MEASURE_TOGGLE = """
async () => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const busy = () => document.querySelector('[data-testid="ablation-busy"]');
  const start = performance.now();
  document.querySelector('[data-testid="toggle-channel"]').click();
  while (!busy()) await frame();
  while (busy()) await frame();
  await frame();
  return performance.now() - start;
}
"""


def data() -> tuple[object, str]:
    from convscope.datasets import dataset_info, load_dataset

    if dataset_info("fashion_mnist").available:
        return load_dataset("fashion_mnist", train_size=5000, test_size=2000), "fashion_mnist"
    return load_dataset("shapes", train_count=5000, test_count=2000), "shapes"


def train(store_dir: Path) -> tuple[str, str]:
    """small_cnn, one epoch, recorded with 1,000 probe images; returns the run id and data."""
    import keras

    from convscope.models.build import build_model
    from convscope.models.presets import get_preset

    dataset, name = data()
    x, y = dataset.x_train, dataset.y_train  # type: ignore[attr-defined]
    model = build_model(get_preset("small_cnn"), x.shape[1:], len(dataset.class_names), seed=0)  # type: ignore[attr-defined]
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    probe = (dataset.x_test, dataset.y_test)  # type: ignore[attr-defined]
    recorder = convscope.Recorder(
        store_dir,
        probe=probe,
        class_names=list(dataset.class_names),  # type: ignore[attr-defined]
        probe_size=PROBE,
        snapshot_fractions=[],
        name="bench",
    )
    model.fit(x, y, epochs=1, batch_size=64, callbacks=[recorder], verbose=0)
    return str(recorder.run_id), name


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def in_the_worker(store_dir: Path, run_id: str) -> dict[str, list[float]]:
    """channel_importance and one ablation, through a real inspection worker."""
    from convscope.inspection.pool import InspectionPool
    from convscope.inspection.requests import LensRequest

    pool = InspectionPool(Settings(store_dir=store_dir, workers=0), 1)
    pool.start()
    figures: dict[str, list[float]] = {}
    try:
        assert pool.wait_ready(300), "the inspection worker did not start"

        def run(lens: str, **params: object) -> object:
            return pool.run(LensRequest(run_id, lens, (0,), None, params=params))

        figures["importance, first"] = [timed(lambda: run("channel_importance", layer="conv2"))]
        figures["importance"] = [
            timed(lambda: run("channel_importance", layer="conv2")) for _ in range(3)
        ]
        figures["importance, mean"] = [
            timed(lambda: run("channel_importance", layer="conv2", mode="mean")) for _ in range(2)
        ]
        figures["ablation"] = [
            timed(lambda c=c: run("ablation", layer="conv2", channels=[c])) for c in range(5)
        ]
    finally:
        pool.stop()
    return figures


def in_process(store_dir: Path, run_id: str) -> dict[str, tuple[float, float]]:
    """channel_importance on the same probe set, in this process, for three layers."""
    from convscope import lenses
    from convscope.models.build import build_model
    from convscope.models.spec import (
        ArchSpec,
        ConvBlock,
        DenseBlock,
        DropoutBlock,
        FlattenBlock,
        PoolBlock,
    )
    from convscope.store import Store

    with Store(store_dir) as store:
        model = convscope.load_model(store, run_id, snapshot=0)
        probe = store.read_run_arrays(run_id, "probe")
    images, labels = probe["images"].astype(np.float32), probe["labels"]
    wide = ArchSpec(
        name="small_cnn_64",
        blocks=[
            ConvBlock(filters=16),
            PoolBlock(),
            ConvBlock(filters=64),
            PoolBlock(),
            FlattenBlock(),
            DropoutBlock(rate=0.25),
            DenseBlock(units=64),
        ],
    )
    wide_model = build_model(wide, images.shape[1:], model.output.shape[-1], seed=0)
    figures = {}
    for label, each, layer in (
        ("conv2, 32 channels", model, "conv2"),
        ("dense1, 64 units", model, "dense1"),
        ("conv2 with 64 filters", wide_model, "conv2"),
    ):

        def importance(each=each, layer=layer) -> object:
            return lenses.compute("channel_importance", each, images, labels=labels, layer=layer)

        importance()  # traces the two halves of the cut model
        walls, cpus = [], []
        for _ in range(3):
            cpu = time.process_time()
            walls.append(timed(importance))
            cpus.append(time.process_time() - cpu)
        # CPU seconds count the work whatever else the machine's cores are doing.
        figures[label] = statistics.median(walls), statistics.median(cpus)
    return figures


def in_the_browser(base: str, run_id: str) -> list[float]:
    samples = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/#/runs/{run_id}/depth?layer=conv2&snapshot=0")
        page.get_by_test_id("importance-bars").wait_for(timeout=300_000)
        page.get_by_test_id("ablation-panel").scroll_into_view_if_needed()
        page.wait_for_load_state("networkidle")
        for channel in range(TOGGLES):
            # Choose the channel first: its pictures load before the toggle is timed.
            page.get_by_test_id(f"importance-bar-{channel}").click()
            page.wait_for_load_state("networkidle")
            page.get_by_test_id("channel-top-images").wait_for(timeout=120_000)
            page.wait_for_timeout(300)
            samples.append(page.evaluate(MEASURE_TOGGLE) / 1000)
            page.evaluate(MEASURE_TOGGLE)  # back on: the intact answer, already known
        browser.close()
    return samples


def line(what: str, seconds: list[float], goal: float | None = None) -> str:
    median = statistics.median(seconds)
    verdict = (
        ""
        if goal is None
        else f"   goal <= {goal * 1000:5.0f} ms  " + ("ok" if median <= goal else "over")
    )
    return (
        f"  {what:<58} median {median * 1000:7.0f} ms   slowest {max(seconds) * 1000:7.0f} ms"
        + verdict
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        store_dir = Path(directory) / "store"
        run_id, name = train(store_dir)
        worker = in_the_worker(store_dir, run_id)
        local = in_process(store_dir, run_id)
        with running_server(str(store_dir)) as base:
            toggles = in_the_browser(base, run_id)
    print(f"small_cnn on {name}, one epoch; {PROBE} probe images")
    print(line("channel_importance conv2 (32), worker, first call", worker["importance, first"]))
    print(line("channel_importance conv2 (32), worker, warm", worker["importance"], 3.0))
    print(
        line("channel_importance conv2 (32), worker, warm, mode=mean", worker["importance, mean"])
    )
    print(line("ablation of one conv2 channel, worker, warm", worker["ablation"]))
    for label, (seconds, cpu) in local.items():
        print(line(f"channel_importance in-process, {label}", [seconds], 3.0))
        print(f"    CPU time {cpu:.2f} s, over {os.cpu_count()} cores")
    print(f"  load average while measuring: {os.getloadavg()[0]:.1f}")
    print(line("a 'switch off' toggle -> map redrawn, headless Chromium", toggles, 0.5))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
