"""Inside the layers: how fast the Layers view answers, measured side by side in one run.

Trains small_cnn for one epoch on 2,000 28x28 grey images (Fashion-MNIST, or the generated
shapes turned grey where Fashion-MNIST is not installed) into a temporary store, then
measures, against the goals:

1. all activations of one image, warm, in the inspection worker (the request and the
   answer through its pipe included);
2. the same over HTTP, a drawing posted to ``POST /api/runs/{id}/lenses/activations``;
3. in headless Chromium, from a stroke on the drawing canvas to the activations redrawn;
4. feature visualisation of one channel (128 steps), in the worker;
5. the slowest refusal of a hostile upload (decompression bomb, zip bomb, Lambda layer...).

    python bench/layers.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "server"))

from upload_files import (  # noqa: E402
    LAMBDA_CONFIG,
    bomb_png,
    config_with_layer,
    keras_bytes,
    zip_bomb,
)

import convscope  # noqa: E402
from browser import running_server  # noqa: E402
from chromium import launch  # noqa: E402
from convscope.config import Settings  # noqa: E402

REPEATS = 20

#: Strokes on the canvas, each timed from its last move to the activations on screen.
MEASURE_DRAWING = """
async (strokes) => {
  const canvas = document.querySelector('[data-testid="draw-canvas"]');
  const panel = document.querySelector('[data-testid="activations-panel"]');
  const box = canvas.getBoundingClientRect();
  const samples = [];
  for (let s = 0; s < strokes; s++) {
    const before = Number(panel.dataset.rendered);
    const at = (fx, fy) => ({
      clientX: box.left + fx * box.width, clientY: box.top + fy * box.height,
      pointerId: 1, bubbles: true,
    });
    const x = 0.2 + 0.6 * (s / strokes);
    canvas.dispatchEvent(new PointerEvent("pointerdown", at(x, 0.2)));
    canvas.dispatchEvent(new PointerEvent("pointermove", at(x, 0.5)));
    const start = performance.now();
    canvas.dispatchEvent(new PointerEvent("pointermove", at(x + 0.05, 0.8)));
    canvas.dispatchEvent(new PointerEvent("pointerup", at(x + 0.05, 0.8)));
    while (Number(panel.dataset.rendered) === before) {
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    samples.push(performance.now() - start);
    // Let the answer to the stroke's last change arrive before the next stroke.
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  return samples;
}
"""


def grey_images() -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """2,400 grey 28x28 images with labels: Fashion-MNIST, or generated shapes."""
    from convscope.datasets import dataset_info, load_dataset

    if dataset_info("fashion_mnist").available:
        data = load_dataset("fashion_mnist", train_size=2000, test_size=400)
        name = "fashion_mnist"
    else:
        data = load_dataset("shapes", image_size=28, train_count=2000, test_count=400)
        name = "shapes (grey)"

    def grey(x: np.ndarray) -> np.ndarray:
        return x.mean(axis=-1, keepdims=True).astype(np.uint8) if x.shape[-1] == 3 else x

    x = np.concatenate([grey(data.x_train), grey(data.x_test)])
    y = np.concatenate([data.y_train, data.y_test])
    return x, y, list(data.class_names), name


def train(store_dir: Path) -> tuple[str, str]:
    """A small_cnn run of one epoch in ``store_dir``; returns its id and the dataset."""
    import keras

    from convscope.models.build import build_model
    from convscope.models.presets import get_preset

    x, y, names, dataset = grey_images()
    model = build_model(get_preset("small_cnn"), (28, 28, 1), len(names), seed=0)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    recorder = convscope.Recorder(
        store_dir, probe=(x[2000:], y[2000:]), class_names=names, probe_size=200, name="bench"
    )
    model.fit(x[:2000], y[:2000], epochs=1, batch_size=64, callbacks=[recorder], verbose=0)
    return str(recorder.run_id), dataset


def in_the_worker(store_dir: Path, run_id: str) -> tuple[list[float], float, list[float]]:
    """Warm activations and feature visualisation, timed through a real inspection worker."""
    from convscope.inspection.pool import InspectionPool
    from convscope.inspection.requests import LensRequest

    pool = InspectionPool(Settings(store_dir=store_dir, workers=0), 1)
    pool.start()
    try:
        assert pool.wait_ready(300), "the inspection worker did not start"
        image = np.zeros((1, 28, 28, 1), np.float32)
        image[0, 4:24, 13:15] = 255
        request = LensRequest(run_id, "activations", (0,), image)
        pool.run(request)  # builds the model and traces its functions
        activations = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            pool.run(request)
            activations.append(time.perf_counter() - start)
        visualisations = []
        for channel in range(5):
            params = {"layer": "conv2", "channel": channel}
            start = time.perf_counter()
            pool.run(LensRequest(run_id, "feature_visualisation", (0,), None, params=params))
            visualisations.append(time.perf_counter() - start)
    finally:
        pool.stop()
    return activations, visualisations[0], visualisations[1:]


def post(url: str, body: bytes, content_type: str) -> tuple[int, float]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        error.read()
        status = error.code
    return status, time.perf_counter() - start


def multipart(name: str, data: bytes, fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    boundary = "convscope-bench-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in (fields or {}).items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def over_http(base: str, run_id: str) -> tuple[list[float], float]:
    """Warm activations of a drawing, and the slowest refusal of a hostile upload."""
    pixels = np.zeros((28, 28))
    pixels[4:24, 13:15] = 255
    body = json.dumps({"snapshot": 0, "image": {"pixels": pixels.tolist()}}).encode()
    url = f"{base}/api/runs/{run_id}/lenses/activations"
    post(url, body, "application/json")
    samples = []
    for _ in range(REPEATS):
        status, seconds = post(url, body, "application/json")
        assert status == 200, status
        samples.append(seconds)
    outside = config_with_layer({"module": "os", "class_name": "system", "config": "true"})
    hostile = [
        ("/api/uploads/images", "bomb.png", bomb_png(30_000), {}),
        ("/api/uploads/images", "notes.png", b"not an image", {}),
        ("/api/datasets", "bomb.zip", zip_bomb(), {"name": "bomb"}),
        ("/api/models", "lambda.keras", keras_bytes(LAMBDA_CONFIG), {}),
        ("/api/models", "outside.keras", keras_bytes(outside), {}),
    ]
    slowest = 0.0
    for path, name, data, fields in hostile:
        form, content_type = multipart(name, data, fields)
        status, seconds = post(base + path, form, content_type)
        assert 400 <= status < 500, (name, status)
        slowest = max(slowest, seconds)
    return samples, slowest


def in_the_browser(base: str, run_id: str) -> list[float]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/#/runs/{run_id}/layers")
        page.get_by_test_id("prediction").wait_for(timeout=120_000)
        page.get_by_test_id("picker-mode-draw").click()
        samples = page.evaluate(MEASURE_DRAWING, REPEATS)
        browser.close()
    return [s / 1000 for s in samples]


def line(what: str, seconds: list[float], goal: float) -> str:
    median = statistics.median(seconds)
    verdict = "ok" if median <= goal else "over"
    return (
        f"  {what:<52} median {median * 1000:7.1f} ms   slowest {max(seconds) * 1000:7.1f} ms"
        f"   goal <= {goal * 1000:5.0f} ms  {verdict}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        store_dir = Path(directory) / "store"
        run_id, dataset = train(store_dir)
        activations, cold, visualisations = in_the_worker(store_dir, run_id)
        with running_server(str(store_dir)) as base:
            http, slowest = over_http(base, run_id)
            drawing = in_the_browser(base, run_id)
    print(f"small_cnn on 28x28 {dataset}, one epoch; {REPEATS} requests each, warm:")
    print(line("all activations of one image, in the inspection worker", activations, 0.050))
    print(line("all activations of one drawing, over HTTP", http, 0.100))
    print(line("a stroke drawn -> activations redrawn, headless Chromium", drawing, 0.150))
    print(line("feature visualisation of one channel (128 steps)", visualisations, 2.0))
    print(f"  (the first feature visualisation, tracing included: {cold:.2f} s)")
    print(line("slowest refusal of a hostile upload", [slowest], 1.0))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
