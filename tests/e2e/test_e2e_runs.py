"""Cancelling a run, the runs list, and comparing runs."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import Api
from playwright.sync_api import Page, expect

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


def test_compare_two_runs(page: Page, api: Api) -> None:
    first = api.create_run(**QUICK, name="compare-a")
    second = api.create_run(**{**QUICK, "learning_rate": 0.01}, name="compare-b")
    api.wait_until(first["id"], {"done"})
    api.wait_until(second["id"], {"done"})

    page.goto("/#/runs")
    for run in (first, second):
        page.locator(f"[data-run-id='{run['id']}']").get_by_test_id("run-select").check()
    page.get_by_test_id("compare-button").click()
    expect(page).to_have_url(re.compile(r"#/compare\?ids="))

    chart = page.get_by_test_id("compare-val-accuracy")
    expect(chart.get_by_test_id("legend-entry")).to_have_count(2)
    expect(chart.get_by_test_id("legend-entry").first).to_contain_text("compare-")
    maps = page.get_by_test_id("compare-map")
    expect(maps).to_have_count(2)
    for i in range(2):
        expect(page.get_by_test_id(f"compare-map-{i}-canvas")).to_have_attribute(
            "data-snapshot", re.compile(r"\d")
        )
    scrubber = page.get_by_test_id("compare-scrubber-range")
    scrubber.fill("0")
    for i in range(2):
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
