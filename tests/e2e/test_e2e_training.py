"""Train in the browser and watch: live curves and map, scrubbing, play, confusion, timeline."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

SNAPSHOT_LABEL = re.compile(r"snapshot (\d+) / (\d+)")


def snapshot_count(page: Page) -> int:
    label = page.get_by_test_id("scrubber-label")
    if label.count() == 0:
        return 0
    match = SNAPSHOT_LABEL.search(label.inner_text())
    return int(match.group(2)) if match else 0


def find_tile(page: Page, canvas: Locator) -> tuple[float, float]:
    """Moves the mouse over the canvas until a thumbnail's hover card shows; returns where."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    card = page.get_by_test_id("hover-card")
    for y in range(12, int(box["height"]) - 6, 9):
        for x in range(12, int(box["width"]) - 6, 9):
            page.mouse.move(box["x"] + x, box["y"] + y)
            if card.count():
                return box["x"] + x, box["y"] + y
    raise AssertionError("no thumbnail found on the canvas")


#: 1/8 and 1/4 of the first epoch, then every half of each of the 3 epochs.
FILM = 8


def test_train_and_watch_a_digits_run(page: Page) -> None:
    # Nothing in the console and no failed request, from Train to the end of the run:
    # the page asks for the probe images only once a snapshot or the probe event says
    # they exist.
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(f"{m.type}: {m.text}") if m.type in {"error", "warning"} else None,
    )
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto("/#/")
    page.get_by_test_id("dataset-digits").click()
    page.get_by_test_id("arch-preset").select_option("small_cnn")
    page.get_by_test_id("field-epochs-input").fill("3")
    page.get_by_test_id("field-probe_size-input").fill("200")
    page.get_by_test_id("field-train_size-input").fill("")
    page.get_by_test_id("train-button").click()

    expect(page.get_by_test_id("training-view")).to_be_visible()
    assert re.search(r"#/runs/\w+", page.url)
    # A second tab opened on the run while it trains follows the same live run.
    second = page.context.new_page()
    second.goto(page.url)

    # Watch the snapshot count grow without reloading, until the run is done.
    seen = {snapshot_count(page)}
    badge = page.get_by_test_id("status-badge")
    deadline = time.monotonic() + 90
    while (status := badge.get_attribute("data-status")) != "done":
        assert status in {"queued", "running"}, f"the run is {status}"
        assert time.monotonic() < deadline, "the run did not finish in time"
        seen.add(snapshot_count(page))
        page.wait_for_timeout(60)
    expect(page.get_by_test_id("scrubber-label")).to_contain_text(f"snapshot {FILM} / {FILM}")
    seen.add(snapshot_count(page))
    assert len(seen) >= 2, f"the snapshot count never changed live: {seen}"
    expect(page.get_by_test_id("progress-text")).to_contain_text("finished")
    expect(second.get_by_test_id("status-badge")).to_have_attribute("data-status", "done")
    expect(second.get_by_test_id("scrubber-label")).to_contain_text(f"snapshot {FILM} / {FILM}")
    second.close()
    assert not console, console
    assert not failed, failed

    # Curves: per-batch lines, one validation dot per snapshot and one training dot per epoch.
    loss = page.get_by_test_id("loss-chart")
    expect(loss.locator("path[fill=none]").first).to_have_attribute("d", re.compile(r"^M.+L"))
    expect(loss.locator("circle")).to_have_count(FILM + 3)
    expect(page.get_by_test_id("metric-val-accuracy")).to_have_text(re.compile(r"\d+\.\d%"))

    # The map shows the last snapshot; scrub back to the first one.
    map_canvas = page.get_by_test_id("class-map-canvas")
    expect(map_canvas).to_have_attribute("data-snapshot", str(FILM - 1))
    page.get_by_test_id("scrubber-range").fill("0")
    label = page.get_by_test_id("scrubber-label")
    expect(label).to_contain_text(f"snapshot 1 / {FILM}")
    # Early snapshots read as fractions of an epoch: 1/8 of 45 batches is after batch 6.
    expect(label).to_contain_text("epoch ⅛ · step 6")
    page.get_by_test_id("scrubber-range").fill("4")
    expect(label).to_contain_text("epoch 1\u2009½")
    page.get_by_test_id("scrubber-range").fill("0")
    expect(map_canvas).to_have_attribute("data-snapshot", "0")

    # Play animates through the snapshots to the last one.
    frames_before = page.evaluate("window.__convscopeFrames")
    page.get_by_test_id("scrubber-play").click()
    expect(page.get_by_test_id("scrubber-label")).to_contain_text(
        f"snapshot {FILM} / {FILM}", timeout=30_000
    )
    expect(map_canvas).to_have_attribute("data-snapshot", str(FILM - 1))
    # The map moves the whole time it plays: many frames for every snapshot.
    assert page.evaluate("window.__convscopeFrames") - frames_before > 4 * FILM

    # Hovering a thumbnail shows it large with its probabilities; clicking chooses it.
    x, y = find_tile(page, map_canvas)
    expect(
        page.get_by_test_id("hover-card").get_by_test_id("prob-bars").locator("li")
    ).to_have_count(10)
    page.mouse.click(x, y)
    chosen = page.get_by_test_id("selected-image")
    expect(chosen.get_by_test_id("timeline")).to_be_visible()

    # A diagonal cell of the confusion matrix lists its probe images.
    page.get_by_test_id("cm-cell-1-1").click()
    cell_images = page.get_by_test_id("cell-image-grid").get_by_test_id("grid-image")
    expect(cell_images.first).to_be_visible()
    assert cell_images.count() >= 5
    index = cell_images.nth(2).get_attribute("data-index")
    cell_images.nth(2).click()
    expect(chosen).to_contain_text(f"#{index}")
    timeline = chosen.get_by_test_id("timeline")
    expect(timeline.locator("circle")).to_have_count(FILM)
    # Chosen from the confusion matrix, below: "Follow one image" was brought into view.
    page.wait_for_function(
        """() => {
          const top = document.querySelector('[data-testid="follow-section"]')
            .getBoundingClientRect().top;
          return top >= 0 && top < 300;
        }"""
    )

    # The hardest images are listed, and choosing one follows it too.
    hardest = page.get_by_test_id("hardest-list").get_by_test_id("grid-image")
    expect(hardest.first).to_be_visible()
    hard_index = hardest.first.get_attribute("data-index")
    hardest.first.click()
    expect(chosen).to_contain_text(f"#{hard_index}")

    # Filters: one true class only, then mistakes only.
    page.get_by_test_id("legend-class-3").click()
    expect(page.get_by_test_id("legend-class-3")).to_have_class(re.compile(r"\bon\b"))
    page.get_by_test_id("misclassified-only").check()
    expect(page.get_by_test_id("class-columns-canvas")).to_be_visible()

    # The map's own page of documentation opens in the app.
    page.get_by_test_id("map-doc-link").click()
    expect(page.get_by_test_id("doc-page").get_by_role("heading", level=1)).to_have_text(
        "The classification map"
    )
