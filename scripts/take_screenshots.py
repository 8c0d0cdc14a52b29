"""Screenshots of every view for the documentation, taken on real Fashion-MNIST runs.

Starts ``convscope serve`` with a temporary store, trains the default experiment
(small_cnn) and an ``mlp`` beside it, and saves PNGs of the playground, the training view,
the runs list and the comparison in ``docs/screenshots/``. Needs Fashion-MNIST installed
(Debian's ``dataset-fashion-mnist``) and the built web app.

    python scripts/take_screenshots.py            # every view
    python scripts/take_screenshots.py depth      # the Depth view alone
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from browser import CHROMIUM, CHROMIUM_ARGS, running_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def post_run(base: str, config: dict) -> str:
    return post(base, "/api/runs", config)["id"]


def telling_query(base: str, run_id: str, candidates: int = 60) -> int:
    """A probe image whose neighbours change most with depth: pixels find few of its
    class, the last hidden layer many."""
    from convscope.server.encoding import decode_array

    best, gain = 0, -1.0
    for query in range(candidates):
        body = {"snapshot": "last", "params": {"query": query, "k": 10}}
        result = post(base, f"/api/runs/{run_id}/lenses/similar_images", body)
        scores = decode_array(result["arrays"]["score"])
        if scores[-2] - scores[0] > gain:
            best, gain = query, float(scores[-2] - scores[0])
    return best


def wait_done(base: str, run_id: str) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/runs/{run_id}", timeout=10) as response:
            status = json.load(response)["status"]
        if status == "done":
            return
        if status in {"failed", "cancelled", "interrupted"}:
            raise RuntimeError(f"run {run_id} ended {status}")
        time.sleep(1)
    raise RuntimeError(f"run {run_id} did not finish")


def card(page: Page, title: str):
    return page.locator("section.card", has=page.get_by_role("heading", name=title)).first


def depth_screenshots(page: Page, base: str, run_id: str) -> None:
    """The Depth view: its heat maps and a layer's maps, then an image's neighbours."""
    page.goto(f"{base}/#/runs/{run_id}/depth?layer=conv2")
    page.get_by_test_id("depth-grid-probe").wait_for()
    page.get_by_test_id("depth-map").wait_for(timeout=300_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=maps-pending]')", timeout=300_000
    )
    page.add_style_tag(content=".sticky, .topnav { position: static !important; }")
    page.wait_for_timeout(1000)
    page.screenshot(path=OUT / "depth.png", full_page=True)
    query = telling_query(base, run_id)
    page.goto(f"{base}/#/runs/{run_id}/depth?layer=conv2&image=probe:{query}")
    page.get_by_test_id("neighbours-row-0").wait_for(timeout=120_000)
    page.wait_for_timeout(800)
    card(page, "Its nearest neighbours at every layer").screenshot(
        path=OUT / "depth-neighbours.png"
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    only_depth = sys.argv[1:] == ["depth"]
    with tempfile.TemporaryDirectory() as store, running_server(store) as base:
        common = {"dataset": "fashion_mnist", "train_size": 10_000, "epochs": 3}
        cnn = post_run(
            base, {**common, "arch": "small_cnn", "name": "small_cnn", "record_depth": True}
        )
        mlp = None if only_depth else post_run(base, {**common, "arch": "mlp", "name": "mlp"})
        wait_done(base, cnn)
        if mlp is not None:
            wait_done(base, mlp)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            if only_depth:
                depth_screenshots(page, base, cnn)
                browser.close()
                return

            page.goto(f"{base}/#/")
            page.get_by_test_id("train-button").wait_for()
            page.screenshot(path=OUT / "playground.png")

            page.goto(f"{base}/#/runs/{cnn}")
            page.wait_for_function("() => window.__convscopeFrames > 0")
            page.wait_for_timeout(1500)
            page.screenshot(path=OUT / "training.png")
            # Sections alone: the sticky header and snapshot bar would cover their tops.
            page.add_style_tag(content=".sticky, .topnav { position: static !important; }")
            card(page, "Classification map").screenshot(path=OUT / "classification-map.png")
            canvas = page.get_by_test_id("class-map-canvas")
            box = canvas.bounding_box()
            assert box is not None
            # Hover and choose the first image found near the centre of the map.
            for dx in range(0, 200, 6):
                page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2)
                if page.get_by_test_id("hover-card").count():
                    break
            card(page, "Classification map").screenshot(path=OUT / "hover.png")
            page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2)
            page.wait_for_timeout(800)
            card(page, "Follow one image").screenshot(path=OUT / "image-timeline.png")
            matrix = page.get_by_test_id("confusion-matrix")
            matrix.locator("[data-testid^='cm-cell-6-0']").click()
            page.wait_for_timeout(500)
            card(page, "Confusion matrix").screenshot(path=OUT / "confusion-matrix.png")

            page.goto(f"{base}/#/runs")
            page.get_by_test_id("run-row").first.wait_for()
            page.screenshot(path=OUT / "runs.png")

            page.goto(f"{base}/#/compare?ids={cnn},{mlp}")
            page.wait_for_function("() => window.__convscopeFrames > 0")
            page.wait_for_timeout(1500)
            page.screenshot(path=OUT / "compare.png", full_page=True)
            depth_screenshots(page, base, cnn)
            browser.close()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
