"""The Explain view in a real browser: every attribution lens with its figures, the class
to explain, drawings, the sanity check, the training strip and, on shapes, the pointing game.
Numbers on the page are checked against the API, whose lenses are checked against the
model in the server tests."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

LENSES = [
    "saliency",
    "gradient_x_input",
    "smoothgrad",
    "integrated_gradients",
    "grad_cam",
    "occlusion",
    "edge_detector",
]
SLOW = {"timeout": 90_000}


def train(api, **config) -> dict:
    run = api.create_run(**config)
    return api.wait_until(run["id"], {"done"}, timeout=180)


@pytest.fixture(scope="module")
def digits_run(api) -> dict:
    return train(api, dataset="digits", arch="small_cnn", epochs=2, probe_size=60)


@pytest.fixture(scope="module")
def shapes_run(api) -> dict:
    return train(
        api,
        dataset="shapes",
        arch="small_cnn",
        train_size=600,
        test_size=120,
        probe_size=60,
        epochs=2,
    )


def lens(api, run: dict, name: str, body: dict) -> dict:
    return api.request("POST", f"/api/runs/{run['id']}/lenses/{name}", body)


def wait_for_every_card(page: Page, names: list[str] = LENSES) -> None:
    for name in names:
        expect(page.get_by_test_id(f"lens-map-{name}")).to_be_visible(**SLOW)
        expect(page.get_by_test_id(f"lens-figures-{name}").locator("table")).to_be_visible(**SLOW)


def test_every_lens_shows_its_map_and_faithfulness(page: Page, api, digits_run) -> None:
    page.goto(f"/#/runs/{digits_run['id']}/explain?image=probe:3")
    expect(page.get_by_test_id("explain-view")).to_be_visible()
    wait_for_every_card(page)

    last = digits_run["num_snapshots"] - 1
    activations = lens(api, digits_run, "activations", {"snapshot": last, "image": {"probe": 3}})
    predicted = activations["meta"]["predicted"][0]
    probability = activations["meta"]["probabilities"][0][predicted]
    name = digits_run["class_names"][predicted]
    expect(page.get_by_test_id("prediction")).to_contain_text(
        f"The network says {name} ({100 * probability:.1f}%)"
    )
    for each in ("saliency", "grad_cam"):
        body = {
            "snapshot": last,
            "image": {"probe": 3},
            "target": predicted,
            "params": {"lens": each, "deletion_baseline": "black"},
        }
        meta = lens(api, digits_run, "faithfulness", body)["meta"]
        figures = page.get_by_test_id(f"lens-figures-{each}")
        expect(figures).to_contain_text(f"{meta['deletion_auc'][0]:.2f}")
        expect(figures).to_contain_text(f"{meta['insertion_random_auc'][0]:.2f}")
    # Digits have no object masks: no pointing game on the cards, nor its panel.
    expect(page.get_by_test_id("pointing-saliency")).to_have_count(0)
    expect(page.get_by_test_id("pointing-panel")).to_have_count(0)

    # The curves of another lens, drawn below.
    page.get_by_test_id("show-curves-saliency").click()
    curves = page.get_by_test_id("faithfulness-curves")
    expect(curves.get_by_test_id("deletion-chart")).to_contain_text("Saliency")
    expect(curves.locator("path[stroke='#b91c1c']").first).to_be_visible()


def test_another_class_is_explained_and_kept_in_the_address(page: Page, digits_run) -> None:
    page.goto(f"/#/runs/{digits_run['id']}/explain?image=probe:5")
    expect(page.get_by_test_id("prediction")).to_contain_text("The network says", **SLOW)
    page.get_by_test_id("target-class").select_option("7")
    expect(page).to_have_url(re.compile(r"target=7"))
    seven = digits_run["class_names"][7]
    expect(page.get_by_test_id("training-strip")).to_contain_text(f"class ({seven})")
    wait_for_every_card(page)
    expect(page.get_by_test_id("faithfulness-curves")).to_contain_text(f"Probability of {seven}")
    # A reload opens the same class.
    page.reload()
    expect(page.get_by_test_id("target-class")).to_have_value("7")


def test_a_drawing_is_explained(page: Page, digits_run) -> None:
    page.goto(f"/#/runs/{digits_run['id']}/explain?image=probe:0")
    wait_for_every_card(page, ["saliency"])
    page.get_by_test_id("picker-mode-draw").click()
    canvas = page.get_by_test_id("draw-canvas")
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.85, steps=12)
    page.mouse.up()
    expect(page.get_by_test_id("image-picker")).to_contain_text("Your drawing")
    wait_for_every_card(page, ["saliency", "grad_cam"])
    expect(page.get_by_test_id("prediction")).to_contain_text("The network says")
    assert "image=" not in page.url  # drawings are not kept in addresses


def test_the_sanity_check_flags_the_edge_detector(page: Page, digits_run) -> None:
    page.goto(f"/#/runs/{digits_run['id']}/explain?image=probe:2")
    panel = page.get_by_test_id("sanity-panel")
    control = panel.get_by_test_id("sanity-row-edge_detector")
    expect(control).to_be_visible(**SLOW)
    expect(control.get_by_test_id("sanity-flag-edge_detector")).to_have_text(
        "does not depend on the model"
    )
    values = control.get_by_test_id("sanity-correlation").all_inner_texts()
    assert values and all(value == "1.00" for value in values)
    panel.get_by_test_id("sanity-lens").select_option("grad_cam")
    row = panel.get_by_test_id("sanity-row-grad_cam")
    expect(row).to_be_visible(**SLOW)
    # The original, then one map per layer with weights: conv1, conv2, dense1, logits.
    expect(row.get_by_test_id("sanity-map")).to_have_count(5)
    expect(row).to_contain_text("+ logits")
    expect(row.get_by_test_id("sanity-correlation").first).to_have_text("1.00")


def test_the_training_strip_shows_every_snapshot(page: Page, digits_run) -> None:
    page.goto(f"/#/runs/{digits_run['id']}/explain?image=probe:1")
    strip = page.get_by_test_id("training-strip")
    expect(strip.get_by_test_id("strip-map")).to_have_count(digits_run["num_snapshots"], **SLOW)
    strip.get_by_test_id("strip-frame").first.click()
    expect(page.get_by_test_id("explain-scrubber-label")).to_contain_text(
        f"snapshot 1 / {digits_run['num_snapshots']}"
    )
    expect(page).to_have_url(re.compile(r"snapshot=0"))
    strip.get_by_test_id("strip-lens").select_option("saliency")
    expect(strip.get_by_test_id("strip-map")).to_have_count(digits_run["num_snapshots"], **SLOW)


def test_shapes_runs_play_the_pointing_game(page: Page, api, shapes_run) -> None:
    page.set_viewport_size({"width": 1280, "height": 1100})
    page.goto(f"/#/runs/{shapes_run['id']}/explain?image=probe:4")
    expect(page.get_by_test_id("pointing-saliency")).to_have_text(re.compile("yes|no"), **SLOW)
    panel = page.get_by_test_id("pointing-panel")
    expect(panel.get_by_test_id("pointing-curve").locator("circle").first).to_be_visible(**SLOW)
    panel.get_by_test_id("rank-lenses").click()
    rows = panel.get_by_test_id("pointing-row")
    expect(rows).to_have_count(len(LENSES) + 2, timeout=120_000)

    last = shapes_run["num_snapshots"] - 1
    meta = lens(api, shapes_run, "pointing_game", {"snapshot": last})["meta"]
    best = max(meta["pointing"])
    leaders = [t for t, p in zip(meta["titles"], meta["pointing"], strict=True) if p == best]
    expect(rows.first).to_contain_text(f"{100 * best:.0f}%")
    assert any(title in rows.first.inner_text() for title in leaders)
    shown = [float(text.rstrip("%")) for text in rows.locator("td:nth-child(2)").all_inner_texts()]
    assert shown == sorted(shown, reverse=True)
