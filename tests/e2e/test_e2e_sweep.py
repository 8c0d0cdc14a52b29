"""Start a sweep from the playground ("vary this field"), watch its runs train and compare
them in the sweep view, then click into one run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_helpers import Api
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# A small, quick experiment: three learning rates of an MLP on 300 digits.
PLAYGROUND = "/#/?dataset=digits&train=300&epochs=3&arch=mlp&probe=60&batch=16"
RATES = [0.0003, 0.003, 0.03]


def test_vary_a_field_then_compare_the_runs(page: Page, api: Api) -> None:
    page.goto(PLAYGROUND)
    launcher = page.get_by_test_id("sweep-launcher")
    expect(launcher).to_be_visible()
    launcher.get_by_test_id("sweep-field").select_option("batch_size")
    values = launcher.get_by_test_id("sweep-values")
    expect(values).to_have_value("16, 32, 64, 128")
    # A bad value is named, and nothing can start.
    values.fill("16, big")
    expect(launcher.get_by_test_id("sweep-values-error")).to_have_text("big is not a number")
    expect(launcher.get_by_test_id("sweep-start")).to_be_disabled()

    launcher.get_by_test_id("sweep-field").select_option("learning_rate")
    values.fill(", ".join(str(rate) for rate in RATES))
    launcher.get_by_test_id("sweep-early-stop").uncheck()
    start = launcher.get_by_test_id("sweep-start")
    expect(start).to_have_text("Start sweep (3 runs)")
    ARTIFACTS.mkdir(exist_ok=True)
    # Centred, so that the sticky Train bar does not cover it.
    launcher.evaluate("element => element.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(ARTIFACTS / "sweep-launcher.png"))
    start.click()

    # Every address carries the page's language (`?lang=en`), so a link opens in it.
    expect(page).to_have_url(re.compile(r"#/sweeps/[0-9a-f]{12}\?lang=en$"))
    sweep_id = re.findall(r"#/sweeps/([0-9a-f]{12})", page.url)[0]
    view = page.get_by_test_id("sweep-view")
    expect(view.get_by_test_id("sweep-counts")).to_contain_text("of 3")
    sweep = api.request("GET", f"/api/sweeps/{sweep_id}")
    assert [row["values"]["learning_rate"] for row in sweep["runs"]] == RATES
    for row in sweep["runs"]:
        # Every run is the playground's config with its own learning rate.
        assert row["run"]["config"]["arch"] == "mlp" and row["run"]["config"]["train_size"] == 300

    # The runs train one after another on the server's worker; the view fills in live.
    expect(view.get_by_test_id("sweep-counts")).to_contain_text(
        "3 of 3 runs finished", timeout=240_000
    )
    expect(view.get_by_test_id("field-scatter").locator("circle")).to_have_count(3)
    expect(view.get_by_test_id("parallel-coords").locator("path")).to_have_count(3)
    expect(view.get_by_test_id("best-run")).to_have_count(3)

    # The accuracies shown are those the Recorder measured on the model at the end.
    sweep = api.request("GET", f"/api/sweeps/{sweep_id}")
    rows = view.get_by_test_id("sweep-runs").locator("tbody tr")
    expect(rows).to_have_count(3)
    for row in sweep["runs"]:
        run = api.run(row["run"]["id"])
        final = run["final_metrics"]["val_accuracy"]
        assert row["final_accuracy"] == pytest.approx(final)
        cells = rows.filter(has=page.locator(f'a[href="#/runs/{run["id"]}"]'))
        expect(cells.locator("td.num")).to_have_text(f"{final * 100:.1f}%")
    best = sweep["best"][0]
    expect(rows.first).not_to_be_empty()
    assert (
        view.get_by_test_id("best-run").first.locator("a").get_attribute("href") == f"#/runs/{best}"
    )

    page.screenshot(path=str(ARTIFACTS / "sweep.png"), full_page=True)

    # One click on a point opens that run's training view.
    point = view.get_by_test_id("field-scatter").locator(f'circle[data-run="{best}"]')
    point.click()
    expect(page).to_have_url(re.compile(rf"#/runs/{best}\?lang=en$"))
    expect(page.get_by_test_id("nav-runs")).to_have_class(re.compile("active"))

    page.goto("/#/sweeps")
    expect(page.get_by_test_id("sweeps-list")).to_contain_text("learning rate sweep")
    page.get_by_role("link", name="learning rate sweep").first.click()
    expect(page).to_have_url(re.compile(rf"#/sweeps/{sweep_id}\?lang=en$"))
