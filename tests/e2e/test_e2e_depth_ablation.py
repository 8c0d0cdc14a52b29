"""The Depth view's ablation panel: channel importance, and switching channels off."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from convscope.server.encoding import decode_array

pytestmark = pytest.mark.e2e

MAP = "[data-testid=ablation-map] canvas"


def lens(api, run_id: str, name: str, snapshot: int, **params) -> dict:
    body = {"snapshot": snapshot, "params": params}
    return api.request("POST", f"/api/runs/{run_id}/lenses/{name}", body)


def map_pixels(page: Page) -> str:
    """The classification map as drawn, once its animation has settled."""
    previous = None
    for _ in range(40):
        current = page.eval_on_selector(MAP, "canvas => canvas.toDataURL()")
        if current == previous:
            return current
        previous = current
        page.wait_for_timeout(150)
    raise AssertionError("the map never settled")


def confusion_text(page: Page) -> str:
    return page.get_by_test_id("ablation-effect").get_by_test_id("confusion-matrix").inner_text()


def settled(page: Page) -> None:
    expect(page.get_by_test_id("ablation-busy")).to_have_count(0)


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def test_switching_channels_off_redraws_the_map_and_the_confusion_matrix(page: Page, api) -> None:
    # Two snapshots: the panel needs the Depth view's measures of each.
    run = api.create_run(
        dataset="digits",
        arch="small_cnn",
        epochs=2,
        probe_size=120,
        snapshot_fractions=[],
        snapshots_per_epoch=1,
        record_depth=True,
    )
    run_id = run["id"]
    api.wait_until(run_id, {"done"})
    last = api.request("GET", f"/api/runs/{run_id}/snapshots")[-1]["index"]
    importance = lens(api, run_id, "channel_importance", last, layer="conv2")
    drop = decode_array(importance["arrays"]["drop"])
    intact = decode_array(importance["arrays"]["intact"])
    whole = lens(api, run_id, "ablation", last, layer="conv2", channels="all")
    whole_accuracy = decode_array(whole["arrays"]["accuracy"])

    page.goto(f"/#/runs/{run_id}/depth?layer=conv2&snapshot={last}")
    panel = page.get_by_test_id("ablation-panel")
    panel.scroll_into_view_if_needed()
    # The numbers a learner reads are the lenses' own.
    important = int(np.sum(drop[:, 0] > 0.01))
    expect(page.get_by_test_id("importance-facts")).to_contain_text(
        f"{important} of {drop.shape[0]} channels"
    )
    bars = page.get_by_test_id("importance-bars")
    expect(bars.locator("[data-testid^=importance-bar-]")).to_have_count(drop.shape[0])
    first = importance["meta"]["ranking"][0]
    expect(page.get_by_test_id("channel-accuracy")).to_contain_text(
        percent(intact[0] - drop[first, 0])
    )
    expect(page.get_by_test_id("channel-top-images").locator("canvas")).to_have_count(6)
    expect(page.get_by_test_id("ablated-accuracy")).to_have_text(percent(intact[0]))
    settled(page)
    before_map, before_matrix = map_pixels(page), confusion_text(page)

    # The whole layer off: a constant guess, or nearly; the map and the matrix change.
    page.get_by_test_id("toggle-layer").click()
    expect(page.get_by_test_id("ablated-accuracy")).to_have_text(percent(whole_accuracy[0, 0]))
    settled(page)
    expect(page.get_by_test_id("ablation-state")).to_contain_text("all of conv2")
    assert confusion_text(page) != before_matrix
    assert map_pixels(page) != before_map
    # And back on: as before.
    page.get_by_test_id("toggle-layer").click()
    expect(page.get_by_test_id("ablated-accuracy")).to_have_text(percent(intact[0]))
    settled(page)
    assert confusion_text(page) == before_matrix
    assert map_pixels(page) == before_map

    # One channel off, from its card; the accuracy is the lens's.
    page.get_by_test_id(f"importance-bar-{first}").click()
    page.get_by_test_id("toggle-channel").click()
    expect(page.get_by_test_id("ablation-state")).to_contain_text(f"channel {first} of conv2")
    expect(page.get_by_test_id("ablated-accuracy")).to_have_text(
        percent(intact[0] - drop[first, 0])
    )
    settled(page)
    page.get_by_test_id("toggle-channel").click()
    expect(page.get_by_test_id("ablated-accuracy")).to_have_text(percent(intact[0]))
    settled(page)
    assert confusion_text(page) == before_matrix
