"""The Questions tab in a browser: three cards whose numbers are the API's, whose buttons
compute what is missing, and whose links open the view, image, layer and snapshot."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import Api
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run_id(api: Api) -> str:
    """A finished small_cnn run on digits, recorded without the per-layer measures."""
    run = api.create_run(
        dataset="digits",
        arch="small_cnn",
        epochs=2,
        probe_size=60,
        snapshot_fractions=[0.5],
        snapshots_per_epoch=1,
    )
    api.wait_until(run["id"], {"done"})
    return run["id"]


def facts(api: Api, run_id: str, image: int | None = None) -> dict[str, list[dict]]:
    query = "" if image is None else f"?image={image}"
    body = api.request("GET", f"/api/runs/{run_id}/questions{query}")
    return {answer["question"]: answer["facts"] for answer in body["answers"]}


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def card_fact(page: Page, question: str, key: str):
    return page.get_by_test_id(f"question-{question}").locator(f"[data-key='{key}']")


def test_the_cards_show_the_apis_numbers_and_link_to_the_views(
    page: Page, api: Api, run_id: str
) -> None:
    page.goto(f"/#/runs/{run_id}/questions")
    expect(page.get_by_test_id("run-tab-questions")).to_have_attribute("aria-current", "page")
    tabs = page.get_by_test_id("run-tabs").locator("a")
    expect(tabs.first).to_have_attribute("data-testid", "run-tab-questions")
    answers = facts(api, run_id)

    learn = page.get_by_test_id("question-learn").get_by_test_id("fact")
    expect(learn).to_have_count(len(answers["learn"]))
    for shown, fact in zip(learn.all(), answers["learn"], strict=True):
        expect(shown).to_have_attribute("data-key", fact["key"])
        values = fact["values"]
        if fact["key"] == "learn.milestone":
            expect(shown).to_contain_text(percent(values["accuracy"]))
            expect(shown).to_contain_text(f"step {values['step']}")
        elif fact["key"] == "learn.milestone_missed":
            expect(shown).to_contain_text(percent(values["best"]))
        elif fact["key"] == "learn.most_forgotten":
            expect(shown).to_contain_text(f"Image {values['image']}")
            expect(shown).to_contain_text(f"{values['forgotten_images']} of the {values['images']}")
        elif fact["key"] == "learn.confused_pair":
            expect(shown).to_contain_text(percent(values["share"]))
            expect(shown).to_contain_text(percent(values["peak_share"]))

    # The first milestone's link opens the training view at that snapshot.
    first = answers["learn"][0]
    snapshot = first["link"]["snapshot"]
    learn.first.get_by_test_id("fact-link").click()
    # The address keeps the page's language (`lang`) after the view's own query.
    expect(page).to_have_url(re.compile(rf"#/runs/{run_id}\?snapshot={snapshot}&lang=en$"))
    expect(page.get_by_test_id("scrubber-label")).to_contain_text(f"snapshot {snapshot + 1} /")

    # The image forgotten most: its link follows it in the training view.
    page.goto(f"/#/runs/{run_id}/questions")
    forgotten = [f for f in answers["learn"] if f["key"] == "learn.most_forgotten"]
    if forgotten:
        image = forgotten[0]["values"]["image"]
        card_fact(page, "learn", "learn.most_forgotten").get_by_test_id("fact-link").click()
        expect(page.get_by_test_id("selected-image")).to_contain_text(f"#{image}")


def test_grad_cam_is_computed_on_request_then_opens_in_explain(
    page: Page, api: Api, run_id: str
) -> None:
    page.goto(f"/#/runs/{run_id}/questions?image=probe:4")
    look = page.get_by_test_id("question-look")
    expect(look.locator("[data-key='look.missing']")).to_contain_text("image 4")
    look.get_by_test_id("fact-compute").click()
    where = look.locator("[data-key='look.where']")
    expect(where).to_be_visible(timeout=60_000)
    answers = facts(api, run_id, image=4)
    fact = answers["look"][0]
    assert fact["key"] == "look.where"
    expect(where).to_contain_text(percent(fact["values"]["share"]))
    expect(where).to_contain_text(fact["values"]["side"])
    faithful = answers["look"][1]
    shown = look.locator(f"[data-key='{faithful['key']}']")
    expect(shown).to_contain_text(f"deletion area {faithful['values']['auc']:.2g} against")

    where.get_by_test_id("fact-link").click()
    snapshot = fact["link"]["snapshot"]
    expect(page).to_have_url(
        re.compile(rf"/explain\?snapshot={snapshot}&image=probe(%3A|:)4&lang=en$")
    )
    expect(page.get_by_test_id("explain-scrubber-label")).to_contain_text(
        f"snapshot {snapshot + 1} /"
    )
    # The Explain view opens on that image (the address keeps it once the view has loaded).
    expect(page.get_by_test_id("lens-cards")).to_be_visible()
    expect(page).to_have_url(re.compile(r"image=probe(%3A|:)4"))


def test_the_decision_layer_is_measured_on_request_then_opens_in_depth(
    page: Page, api: Api, run_id: str
) -> None:
    page.goto(f"/#/runs/{run_id}/questions")
    decide = page.get_by_test_id("question-decide")
    expect(decide.locator("[data-key='decide.missing']")).to_be_visible()
    decide.get_by_test_id("fact-compute").click()
    shown = decide.locator("[data-key^='decide.']").first
    expect(shown).not_to_have_attribute("data-key", "decide.missing", timeout=120_000)
    (fact,) = facts(api, run_id)["decide"]
    expect(shown).to_have_attribute("data-key", fact["key"])
    expect(shown).to_contain_text(percent(fact["values"]["network"]))
    layer = fact["link"]["layer"]
    if "accuracy" in fact["values"]:
        expect(shown).to_contain_text(percent(fact["values"]["accuracy"]))
    shown.get_by_test_id("fact-link").click()
    expect(page).to_have_url(
        re.compile(rf"/depth\?snapshot={fact['link']['snapshot']}&layer={layer}")
    )
    expect(page.get_by_test_id("layer-title")).to_contain_text(layer)
