"""Screenshots of every view for the documentation, taken on real Fashion-MNIST runs.

Starts ``convscope serve`` with a temporary store, trains the default experiment
(small_cnn) and an ``mlp`` beside it, and a learning-rate sweep on ``digits``, and saves
PNGs of the playground, the training view, the runs list, the comparison and the sweep in
``docs/screenshots/``; then trains small_cnn on ``shapes`` and saves the Explain view on
both datasets; then the playground and the four views of a run in French (``*-fr.png``).
Needs Fashion-MNIST installed (Debian's ``dataset-fashion-mnist``) and the built web app.

    python scripts/take_screenshots.py [--only explain|depth|ablation|learners|french]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from browser import running_server  # noqa: E402
from chromium import launch  # noqa: E402

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


def wait_sweep(base: str, sweep_id: str) -> None:
    """Wait until every run of the sweep has finished (the median rule may stop some)."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sweeps/{sweep_id}", timeout=10) as response:
            sweep = json.load(response)
        if sweep["finished_runs"] == sweep["num_runs"]:
            return
        time.sleep(1)
    raise RuntimeError(f"sweep {sweep_id} did not finish")


def card(page: Page, title: str):
    return page.locator("section.card", has=page.get_by_role("heading", name=title)).first


def explain_screenshots(page: Page, base: str, cnn: str, shapes: str) -> None:
    """The Explain view: the lenses side by side, the sanity check, the training strip and,
    on shapes, the pointing game with its ranking."""
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{base}/#/runs/{cnn}/explain?image=probe:11")
    for name in ("occlusion", "integrated_gradients"):
        page.get_by_test_id(f"lens-figures-{name}").locator("table").wait_for(timeout=120_000)
    page.get_by_test_id("sanity-row-edge_detector").wait_for(timeout=120_000)
    page.get_by_test_id("strip-map").first.wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    page.screenshot(path=OUT / "explain.png", full_page=True)
    page.get_by_test_id("sanity-panel").screenshot(path=OUT / "explain-sanity-check.png")
    page.get_by_test_id("training-strip").screenshot(path=OUT / "explain-training-strip.png")

    page.goto(f"{base}/#/runs/{shapes}/explain?image=probe:12")
    page.get_by_test_id("lens-figures-occlusion").locator("table").wait_for(timeout=120_000)
    page.get_by_test_id("lens-cards").screenshot(path=OUT / "explain-shapes-lenses.png")
    panel = page.get_by_test_id("pointing-panel")
    panel.get_by_test_id("pointing-curve").locator("circle").first.wait_for(timeout=120_000)
    panel.get_by_test_id("rank-lenses").click()
    panel.get_by_test_id("pointing-row").first.wait_for(timeout=180_000)
    panel.screenshot(path=OUT / "explain-pointing-game.png")


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


def ablation_screenshots(page: Page, base: str, run_id: str) -> None:
    """The Depth view's ablation panel: channel importance, three channels switched off,
    and the count of important channels across training."""
    page.goto(f"{base}/#/runs/{run_id}/depth?layer=conv2")
    panel = page.get_by_test_id("ablation-panel")
    panel.wait_for(timeout=300_000)
    page.add_style_tag(content=".sticky, .topnav { position: static !important; }")
    panel.scroll_into_view_if_needed()
    page.get_by_test_id("channel-feature").wait_for(timeout=300_000)
    page.wait_for_timeout(1000)
    panel.screenshot(path=OUT / "ablation.png")
    ranking = post(
        base, f"/api/runs/{run_id}/lenses/channel_importance", {"params": {"layer": "conv2"}}
    )["meta"]["ranking"]
    for channel in ranking[:3]:
        page.get_by_test_id(f"importance-bar-{channel}").click()
        page.get_by_test_id("toggle-channel").click()
        page.get_by_test_id("ablation-busy").wait_for(state="detached", timeout=120_000)
    page.wait_for_timeout(1000)
    panel.screenshot(path=OUT / "ablation-switched-off.png")
    page.get_by_test_id("measure-across").click()
    across = page.get_by_test_id("importance-across")
    across.get_by_test_id("importance-curve").wait_for(timeout=300_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=across-running]')", timeout=600_000
    )
    page.wait_for_timeout(500)
    across.screenshot(path=OUT / "ablation-across-training.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=["explain", "depth", "ablation", "learners", "french"],
        help="take only these screenshots",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as store, running_server(store) as base:
        common = {"dataset": "fashion_mnist", "train_size": 10_000, "epochs": 3}
        cnn = post_run(
            base, {**common, "arch": "small_cnn", "name": "small_cnn", "record_depth": True}
        )
        only = args.only
        mlp = "" if only else post_run(base, {**common, "arch": "mlp", "name": "mlp"})
        shapes = (
            ""
            if only in {"depth", "ablation", "learners", "french"}
            else post_run(base, {"dataset": "shapes", "epochs": 5, "name": "shapes"})
        )
        sweep = ""
        if not only:
            sweep = post(
                base,
                "/api/sweeps",
                {
                    "name": "learning rates",
                    "base": {"dataset": "digits", "arch": "mlp", "epochs": 3},
                    "parameters": {"learning_rate": [0.0003, 0.001, 0.003, 0.01, 0.03]},
                },
            )["id"]
        for run_id in (cnn, mlp, shapes):
            if run_id:
                wait_done(base, run_id)
        if sweep:
            wait_sweep(base, sweep)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            # The app speaks the browser's language: English here, French below.
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            if only == "explain":
                explain_screenshots(page, base, cnn, shapes)
            if only == "depth":
                depth_screenshots(page, base, cnn)
            if only == "learners":
                learner_screenshots(page, base, cnn)
            if only == "ablation":
                ablation_screenshots(page, base, cnn)
            if only == "french":
                french_screenshots(browser, base, cnn)
            if only:
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

            page.goto(f"{base}/#/sweeps/{sweep}")
            page.get_by_test_id("parallel-coords").locator("path").first.wait_for(state="attached")
            page.screenshot(path=OUT / "sweep.png", full_page=True)
            explain_screenshots(page, base, cnn, shapes)
            depth_screenshots(page, base, cnn)
            ablation_screenshots(page, base, cnn)
            shoot_layers(
                browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US"), base, cnn
            )
            learner_screenshots(
                browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US"), base, cnn
            )
            french_screenshots(browser, base, cnn)
            browser.close()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


def french_screenshots(browser: Browser, base: str, run_id: str) -> None:
    """The playground and the four views of a run in a French browser, as `<view>-fr.png`."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page.goto(f"{base}/#/")
    page.get_by_test_id("train-button").wait_for()
    page.screenshot(path=OUT / "playground-fr.png")
    page.goto(f"{base}/#/runs/{run_id}")
    page.wait_for_function("() => window.__convscopeFrames > 0")
    page.wait_for_timeout(1500)
    page.screenshot(path=OUT / "training-fr.png")
    page.goto(f"{base}/#/runs/{run_id}/layers?image=probe:11")
    page.get_by_test_id("prediction").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=OUT / "layers-fr.png")
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{base}/#/runs/{run_id}/explain?image=probe:11")
    page.get_by_test_id("lens-figures-occlusion").locator("table").wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    page.screenshot(path=OUT / "explain-fr.png")
    page.goto(f"{base}/#/runs/{run_id}/depth?layer=conv2")
    page.get_by_test_id("depth-map").wait_for(timeout=300_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=OUT / "depth-fr.png")
    page.close()


def shoot_layers(page: Page, base: str, run_id: str) -> None:
    """The Layers view of a run: the top, the activations, one layer opened, layer health."""
    page.goto(f"{base}/#/runs/{run_id}/layers?image=probe:11")
    page.get_by_test_id("prediction").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=OUT / "layers.png")
    page.get_by_test_id("activations-panel").screenshot(path=OUT / "layers-activations.png")
    page.get_by_test_id("diagram-layer-conv2").click()
    detail = page.get_by_test_id("layer-detail")
    detail.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=feature-image]').length >= 8",
        timeout=120_000,
    )
    page.wait_for_timeout(500)
    detail.screenshot(path=OUT / "layers-features.png")
    health = page.get_by_test_id("layer-health")
    health.scroll_into_view_if_needed()
    health.get_by_test_id("health-grad_norm").wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    health.screenshot(path=OUT / "layers-health.png")
    # A drawing: the prediction and the activations follow the pen.
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_test_id("picker-mode-draw").click()
    box = page.get_by_test_id("draw-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    for fx, fy in [(0.35, 0.85), (0.65, 0.85), (0.65, 0.15)]:
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=10)
    page.mouse.up()
    page.wait_for_timeout(1500)
    page.screenshot(path=OUT / "layers-drawing.png")


def learner_screenshots(page: Page, base: str, run_id: str) -> None:
    """The Questions tab with every card computed, and a convolution's pixel explained."""
    page.goto(f"{base}/#/runs/{run_id}/questions")
    look = page.get_by_test_id("question-look")
    look.get_by_test_id("fact-compute").click()
    look.locator("[data-key='look.where']").wait_for(timeout=120_000)
    decide = page.get_by_test_id("question-decide")
    if decide.get_by_test_id("fact-compute").count():
        decide.get_by_test_id("fact-compute").click()
        decide.locator("[data-key='decide.missing']").wait_for(state="detached", timeout=300_000)
    page.wait_for_timeout(800)
    page.screenshot(path=OUT / "questions.png", full_page=True)

    page.goto(f"{base}/#/runs/{run_id}/layers?image=probe:11")
    page.get_by_test_id("prediction").wait_for(timeout=120_000)
    page.get_by_test_id("diagram-layer-conv2").click()
    panel = page.get_by_test_id("explainer-panel")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=explainer-panel]').dataset.layer === 'conv2'"
    )
    # It opens on the strongest pixel of the most active channel.
    panel.get_by_test_id("explainer-products").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.add_style_tag(content=".sticky, .topnav { position: static !important; }")
    panel.screenshot(path=OUT / "conv-explainer.png")


if __name__ == "__main__":
    main()
