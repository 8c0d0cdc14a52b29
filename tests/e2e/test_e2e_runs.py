"""Cancelling a run, the runs list, and comparing runs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from e2e_helpers import Api
from playwright.sync_api import Page, expect

from convscope.server.encoding import decode_array
from convscope.training.projection import procrustes_rotation

pytestmark = pytest.mark.e2e

QUICK = {"dataset": "digits", "arch": "small_cnn", "epochs": 1, "probe_size": 100}


def test_cancel_a_run(page: Page, api: Api) -> None:
    run = api.create_run(dataset="digits", arch="small_cnn", epochs=200, probe_size=50)
    page.goto(f"/#/runs/{run['id']}")
    badge = page.get_by_test_id("status-badge")
    expect(badge).to_have_attribute("data-status", re.compile("queued|running"))
    page.get_by_test_id("cancel-button").click()
    expect(badge).to_have_attribute("data-status", "cancelled", timeout=30_000)
    expect(page.get_by_test_id("cancel-button")).to_have_count(0)
    assert api.run(run["id"])["status"] == "cancelled"


def test_compare_names_runs_by_what_differs_and_aligns_their_maps(page: Page, api: Api) -> None:
    first = api.create_run(**QUICK)
    second = api.create_run(**{**QUICK, "learning_rate": 0.01})
    # Another seed draws other probe images: that map cannot be aligned.
    third = api.create_run(**{**QUICK, "learning_rate": 0.01, "seed": 5})
    for run in (first, second, third):
        api.wait_until(run["id"], {"done"})

    page.goto("/#/runs")
    for run in (first, second, third):
        page.locator(f"[data-run-id='{run['id']}']").get_by_test_id("run-select").check()
    page.get_by_test_id("compare-button").click()
    expect(page).to_have_url(re.compile(r"#/compare\?ids="))
    # The list is newest first; the first run of the comparison is the one others turn to.
    page.goto(f"/#/compare?ids={first['id']},{second['id']},{third['id']}")

    # Runs are named by the settings that differ, listed in a table.
    labels = page.get_by_test_id("compare-run-label")
    expect(labels).to_have_text(["lr 0.003 · seed 0", "lr 0.01 · seed 0", "lr 0.01 · seed 5"])
    rows = page.get_by_test_id("config-diff-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-key", "learning_rate")
    chart = page.get_by_test_id("compare-val-accuracy")
    expect(chart.get_by_test_id("legend-entry")).to_have_count(3)
    expect(page.get_by_test_id("class-legend")).to_be_visible()
    # Smoothed batch losses by default, raw ones on demand.
    loss = page.get_by_test_id("compare-train-loss")
    expect(loss.locator("path[stroke-opacity='0.45']")).to_have_count(0)
    page.get_by_test_id("show-raw").check()
    expect(loss.locator("path[stroke-opacity='0.45']")).to_have_count(3)

    maps = page.get_by_test_id("compare-map")
    expect(maps).to_have_count(3)
    expect(maps.nth(0)).to_have_attribute("data-aligned", "reference")
    expect(maps.nth(1)).to_have_attribute("data-aligned", "aligned")
    expect(maps.nth(2)).to_have_attribute("data-aligned", "different-images")
    expect(maps.nth(2).get_by_test_id("compare-map-note")).to_contain_text("not aligned")

    # The second map is turned by the Procrustes rotation of its positions onto the
    # first run's, at the snapshot shown (the last one).
    last = api.run(first["id"])["num_snapshots"] - 1
    positions = [
        decode_array(api.request("GET", f"/api/runs/{run['id']}/snapshots/{last}")["positions"])
        for run in (first, second)
    ]
    expected = procrustes_rotation(positions[1].astype(np.float64), positions[0].astype(np.float64))
    shown = [float(v) for v in (maps.nth(1).get_attribute("data-rotation") or "").split(",")]
    np.testing.assert_allclose(np.array(shown).reshape(2, 2), expected, atol=2e-4)

    scrubber = page.get_by_test_id("compare-scrubber-range")
    scrubber.fill("0")
    for i in range(3):
        expect(page.get_by_test_id(f"compare-map-{i}-canvas")).to_have_attribute(
            "data-snapshot", "0"
        )


def test_delete_a_run_from_the_list(page: Page, api: Api) -> None:
    run = api.create_run(**QUICK, name="to-delete")
    api.wait_until(run["id"], {"done"})
    page.goto("/#/runs")
    row = page.locator(f"[data-run-id='{run['id']}']")
    expect(row).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_test_id("run-delete").click()
    expect(row).to_have_count(0)
