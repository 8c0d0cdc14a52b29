"""The Depth view: accuracies per layer and snapshot, maps of a layer, neighbours of an image."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from convscope.server.encoding import decode_array

pytestmark = pytest.mark.e2e


def trained(api, **config) -> str:
    run = api.create_run(
        dataset="digits",
        arch="small_cnn",
        epochs=2,
        probe_size=200,
        snapshot_fractions=[0.5],
        snapshots_per_epoch=1,
        **config,
    )
    api.wait_until(run["id"], {"done"})
    return run["id"]


def settled_depth(api, run_id: str) -> dict:
    for _ in range(30):
        depth = api.request("GET", f"/api/runs/{run_id}/depth")
        if not depth["pending"]:
            return depth
    raise AssertionError("the depth measures are still pending")


def pick_an_image(page: Page) -> int:
    """Clicks across the big map until an image is chosen; returns its index."""
    canvas = page.get_by_test_id("depth-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    for step in range(0, 160, 4):
        page.mouse.click(box["x"] + box["width"] / 2 + step, box["y"] + box["height"] / 2)
        match = re.search(r"image=probe%3A(\d+)", page.url)
        if match:
            return int(match.group(1))
    raise AssertionError("no image found on the map")


def test_the_depth_view_of_a_run_recorded_with_its_measures(page: Page, api) -> None:
    run_id = trained(api, record_depth=True)
    depth = settled_depth(api, run_id)
    layers, snapshots = depth["layers"], depth["snapshots"]
    probe = decode_array(depth["probe"])
    assert layers[0] == "input" and len(snapshots) == 3

    page.goto(f"/#/runs/{run_id}/depth")
    expect(page.get_by_test_id("run-tab-depth")).to_have_attribute("aria-current", "page")
    grid = page.get_by_test_id("depth-grid-probe")
    expect(grid.locator("button.cell")).to_have_count(len(layers) * len(snapshots))
    expect(grid).to_contain_text("raw pixels")
    expect(page.get_by_test_id("depth-view")).to_contain_text("not what the network")
    # The numbers a learner reads are the measures the server computed.
    for row, column in [(0, 0), (len(layers) - 2, 2), (2, 1)]:
        expected = f"{probe[row, column] * 100:.0f}"
        expect(page.get_by_test_id(f"cell-probe-{row}-{column}")).to_have_text(expected)
    network = depth["network_knn"][2]
    expect(page.get_by_test_id("network-knn-2")).to_have_text(f"{network * 100:.0f}")

    # By default: the last hidden layer at the last snapshot.
    title = page.get_by_test_id("layer-title")
    expect(title).to_have_text(f"{layers[-2]} at epoch 2")
    conv1 = layers.index("conv1")
    page.get_by_test_id(f"cell-knn-{conv1}-0").click()
    expect(title).to_have_text(re.compile(r"^conv1 at epoch 0\.\d+$"))
    assert "layer=conv1" in page.url and "snapshot=0" in page.url

    # Small multiples: every layer at every snapshot; one click chooses a map.
    # Rows that repeat another (a flatten, a dropout) are not drawn twice.
    distinct = len(layers) - len(depth["same_as"])
    expect(page.locator("[data-testid^='multiple-']")).to_have_count(distinct * 3)
    page.get_by_test_id(f"multiple-{len(layers) - 1}-1").click()
    expect(title).to_have_text("logits at epoch 1")
    expect(page.get_by_test_id("depth-map-title")).to_have_text("logits, epoch 1")

    # An image of the map: its neighbours at every layer, with the search scores.
    query = pick_an_image(page)
    expect(page.get_by_test_id("neighbours-row-0")).to_be_visible()
    similar = api.request(
        "POST",
        f"/api/runs/{run_id}/lenses/similar_images",
        {"snapshot": 1, "params": {"query": query, "k": 10}},
    )
    scores = decode_array(similar["arrays"]["score"])
    for row in (0, len(layers) - 1):
        expect(page.get_by_test_id(f"score-{row}")).to_have_text(f"{scores[row] * 100:.0f}%")
    neighbours = page.get_by_test_id("neighbours-row-0").locator("button.tile")
    expect(neighbours).to_have_count(10)
    first = int(decode_array(similar["arrays"]["indices"])[0, 1])
    neighbours.first.click()
    expect(page).to_have_url(re.compile(rf"image=probe%3A{first}\b"))
    page.get_by_test_id("neighbours-close").click()
    expect(page.get_by_test_id("neighbours")).to_have_count(0)


def test_a_run_recorded_without_them_is_measured_when_looked_at(page: Page, api) -> None:
    run_id = trained(api, record_depth=False)
    page.goto(f"/#/runs/{run_id}/depth?layer=pool2&snapshot=1")
    expect(page.get_by_test_id("layer-title")).to_have_text("pool2 at epoch 1")
    grid = page.get_by_test_id("depth-grid-probe")
    # The columns fill in as the server measures them; then nothing is pending.
    expect(page.get_by_test_id("depth-pending")).to_have_count(0, timeout=90_000)
    for column in range(3):
        expect(grid.get_by_test_id(f"cell-probe-0-{column}")).to_have_text(re.compile(r"^\d+$"))
    depth = api.request("GET", f"/api/runs/{run_id}/depth")
    assert depth["pending"] == [] and np.all(np.isfinite(decode_array(depth["knn"])))
