"""The web app in a real browser: time to the first map, and frames per second when scrubbing.

Starts ``convscope serve`` on a free port with a temporary store, opens the playground in
headless Chromium (Debian's ``/usr/bin/chromium``), and measures:

1. from clicking **Train** on the default experiment (Fashion-MNIST, or ``shapes``) to the
   first classification map drawn (goal: at most 15 s on a 2-core machine);
2. frames per second while the map and the class columns of 1,000 thumbnails animate from
   one snapshot to the next (goal: 30 or more).

    python bench/browser.py
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator

from playwright.sync_api import Page, sync_playwright

from convscope.server.launch import free_port, get_json, start_server, wait_until_healthy

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Steps through every snapshot, one 600 ms transition each, counting drawn frames.
MEASURE_SCRUBBING = """
async () => {
  const range = document.querySelector('[data-testid="scrubber-range"]');
  const last = Number(range.max);
  const forth = Array.from({ length: last }, (_, i) => i + 1);
  const back = Array.from({ length: last }, (_, i) => last - 1 - i);
  const samples = [];
  for (const target of [...forth, ...back]) {
    const frames = window.__convscopeFrames;
    const start = performance.now();
    range.value = String(target);
    range.dispatchEvent(new Event("input", { bubbles: true }));
    await new Promise((resolve) => setTimeout(resolve, 600));
    samples.push((window.__convscopeFrames - frames) / ((performance.now() - start) / 1000));
  }
  return samples;
}
"""


@contextlib.contextmanager
def running_server(store: str) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(store, port=port)
    try:
        # Ready when a worker process has Keras loaded and waits for runs.
        wait_until_healthy(
            base,
            timeout=120,
            alive=lambda: server.poll() is None,
            ready=lambda health: health.get("workers", 0) >= 1,
        )
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_status(page: Page, statuses: str, timeout_s: float) -> str:
    selector = '[data-testid="status-badge"]'
    wanted = json.dumps(statuses.split(","))
    page.wait_for_function(
        f"s => {wanted}.includes(document.querySelector(s)?.dataset.status)",
        arg=selector,
        timeout=timeout_s * 1000,
    )
    return page.get_attribute(selector, "data-status") or ""


def main() -> None:
    with tempfile.TemporaryDirectory() as store, running_server(store) as base:
        datasets = {d["name"]: d for d in get_json(f"{base}/api/datasets")}
        dataset = "fashion_mnist" if datasets["fashion_mnist"]["available"] else "shapes"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/#/")
            train = page.get_by_test_id("train-button")
            train.wait_for()
            page.wait_for_function("b => !b.disabled", arg=train.element_handle())
            start = time.perf_counter()
            train.click()
            page.wait_for_function("() => window.__convscopeFrames > 0", timeout=120_000)
            first_map = time.perf_counter() - start
            print(
                f"default experiment ({dataset}): Train clicked -> first map drawn in "
                f"{first_map:.1f} s (goal <= 15 s)"
            )
            status = wait_for_status(page, "done,failed", 600)
            trained = time.perf_counter() - start
            print(f"run {status} {trained:.0f} s after the click")
            page.reload()
            page.wait_for_function("() => window.__convscopeFrames > 0", timeout=60_000)
            count = page.evaluate(
                "() => document.querySelector('[data-testid=\"scrubber-range\"]').max"
            )
            samples = page.evaluate(MEASURE_SCRUBBING)
            browser.close()
    samples.sort()
    median = samples[len(samples) // 2]
    print(
        f"scrubbing {int(count) + 1} snapshots of 1,000 thumbnails (map and class columns): "
        f"median {median:.0f} frames/s, slowest transition {samples[0]:.0f} frames/s "
        f"(goal >= 30)"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
