"""The Layers view in a browser: pick, scrub, draw, upload an image, import a model."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from e2e_helpers import Api
from PIL import Image
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SERVER_TESTS = str(Path(__file__).resolve().parents[1] / "server")
if SERVER_TESTS not in sys.path:
    sys.path.insert(0, SERVER_TESTS)

from upload_files import class_folders_zip  # noqa: E402 - needs the path above

from convscope.server.encoding import decode_array  # noqa: E402


@pytest.fixture(scope="module")
def digits_run(api: Api) -> str:
    """A finished small_cnn run on 8x8 digits, with four snapshots."""
    run = api.create_run(
        dataset="digits",
        arch="small_cnn",
        epochs=3,
        probe_size=100,
        snapshot_fractions=[0.5],
        snapshots_per_epoch=1,
    )
    api.wait_until(run["id"], {"done"})
    return run["id"]


def rendered(page: Page) -> int:
    return int(page.get_by_test_id("activations-panel").get_attribute("data-rendered") or 0)


def wait_for_new_activations(page: Page, before: int) -> None:
    page.wait_for_function(
        "([n]) => Number(document.querySelector('[data-testid=activations-panel]')"
        ".dataset.rendered) > n",
        arg=[before],
    )


def probabilities(page: Page) -> list[str]:
    return page.get_by_test_id("prob-bars").locator(".value").all_inner_texts()


def draw(page: Page, points: list[tuple[float, float]]) -> None:
    """One stroke through ``points`` (fractions of the canvas), with the mouse."""
    box = page.get_by_test_id("draw-canvas").bounding_box()
    assert box is not None
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def test_pick_a_probe_image_and_scrub(page: Page, digits_run: str) -> None:
    page.goto(f"/#/runs/{digits_run}/layers")
    expect(page.get_by_test_id("run-tab-layers")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("diagram-layer-conv1")).to_be_visible()
    maps = page.get_by_test_id("activation-layer-conv1").get_by_test_id("feature-maps")
    expect(maps).to_have_attribute("data-channels", "16")
    before = rendered(page)
    page.get_by_test_id("picker-grid").get_by_test_id("grid-image").nth(7).click()
    expect(page).to_have_url(re.compile(r"image=probe%3A7|image=probe:7"))
    wait_for_new_activations(page, before)
    expect(page.get_by_test_id("prediction")).to_be_visible()
    logits = page.get_by_test_id("activation-layer-logits").get_by_test_id("unit-readout")
    at_the_end = logits.inner_text()

    before = rendered(page)
    page.get_by_test_id("scrubber-range").fill("0")
    expect(page.get_by_test_id("scrubber-label")).to_contain_text("snapshot 1 / 4")
    wait_for_new_activations(page, before)
    expect(page).to_have_url(re.compile(r"snapshot=0"))
    # The same image, earlier in training: its logits are another story.
    expect(logits).not_to_have_text(at_the_end)

    # A click on a layer of the diagram opens it: its channels' feature visualisations.
    page.get_by_test_id("diagram-layer-conv2").click()
    expect(page.get_by_test_id("layer-detail")).to_contain_text("Inside conv2")
    page.get_by_test_id("layer-detail").scroll_into_view_if_needed()
    expect(page.get_by_test_id("feature-image").first).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("top-images").first).to_be_visible()
    page.get_by_test_id("detail-filters").click()
    expect(page.get_by_test_id("kernel-grid")).to_be_visible()
    page.get_by_test_id("layer-health").scroll_into_view_if_needed()
    expect(page.get_by_test_id("health-grad_norm")).to_be_visible(timeout=30_000)


def test_draw_a_digit_and_see_the_prediction_change(page: Page, digits_run: str) -> None:
    page.goto(f"/#/runs/{digits_run}/layers")
    expect(page.get_by_test_id("prediction")).to_be_visible()
    page.get_by_test_id("picker-mode-draw").click()
    before = rendered(page)
    draw(page, [(0.5, 0.1), (0.5, 0.5), (0.5, 0.9)])  # a one
    wait_for_new_activations(page, before)
    one = probabilities(page)
    expect(page).not_to_have_url(re.compile("image="))  # drawings stay out of addresses

    page.get_by_test_id("draw-clear").click()
    ring = [(0.5 + 0.32 * np.sin(t), 0.5 - 0.4 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 24)]
    before = rendered(page)
    draw(page, ring)  # a zero
    wait_for_new_activations(page, before)
    page.wait_for_function(
        "([old]) => [...document.querySelectorAll('[data-testid=prob-bars] .value')]"
        ".map((e) => e.textContent).join() !== old.join()",
        arg=[one],
    )
    assert probabilities(page) != one


def shown_number(locator) -> float:
    return float(locator.inner_text().replace("\u2212", "-"))


def hover_cell(page: Page, canvas, row: int, col: int, rows: int, cols: int) -> None:
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x = box["x"] + (col + 0.5) / cols * box["width"]
    y = box["y"] + (row + 0.5) / rows * box["height"]
    page.mouse.move(x, y)


def test_hover_a_pixel_and_see_how_the_network_computed_it(
    page: Page, api: Api, digits_run: str
) -> None:
    page.goto(f"/#/runs/{digits_run}/layers?snapshot=2&image=probe:7")
    body = {"snapshot": 2, "image": {"probe": 7}, "params": {"layers": ["conv2", "pool1"]}}
    activations = api.request("POST", f"/api/runs/{digits_run}/lenses/activations", body)
    conv2 = decode_array(activations["arrays"]["conv2"])[0]  # (4, 4, 32) on 8x8 digits
    pool1 = decode_array(activations["arrays"]["pool1"])[0]

    page.get_by_test_id("diagram-layer-conv2").click()
    panel = page.get_by_test_id("explainer-panel")
    expect(panel).to_have_attribute("data-layer", "conv2")
    panel.scroll_into_view_if_needed()
    pixel = panel.get_by_test_id("explainer-pixel")
    # The most active channel there, and one the ReLU silenced (or the least active).
    strongest, weakest = int(np.argmax(conv2[2, 1])), int(np.argmin(conv2[2, 1]))
    assert conv2[2, 1, strongest] > 0
    for channel in (strongest, weakest):
        panel.get_by_test_id("explainer-channel").select_option(str(channel))
        hover_cell(page, panel.get_by_test_id("explainer-output"), 2, 1, 4, 4)
        expect(pixel).to_have_attribute("data-row", "2")
        expect(pixel).to_have_attribute("data-col", "1")
        expect(pixel).to_have_attribute("data-channel", str(channel))
        expected = float(conv2[2, 1, channel])
        # The multiply-add redone in the page, then the ReLU, is the network's activation.
        value = shown_number(panel.get_by_test_id("explainer-value"))
        assert value == pytest.approx(expected, rel=5e-3, abs=5e-3)
        total = shown_number(panel.get_by_test_id("explainer-total"))
        assert max(total, 0.0) == pytest.approx(expected, rel=5e-3, abs=5e-3)
        if channel == strongest:
            assert total == pytest.approx(expected, rel=5e-3)
        own = shown_number(panel.get_by_test_id("explainer-model-value"))
        assert own == pytest.approx(expected, rel=5e-3, abs=5e-3)
    expect(panel.get_by_test_id("explainer-products").locator("td")).to_have_count(9)

    page.get_by_test_id("diagram-layer-pool1").click()
    expect(panel).to_have_attribute("data-layer", "pool1")
    panel.get_by_test_id("explainer-channel").select_option("3")
    hover_cell(page, panel.get_by_test_id("explainer-output"), 1, 2, 4, 4)
    expect(pixel).to_have_attribute("data-row", "1")
    expect(pixel).to_have_attribute("data-col", "2")
    expect(pixel).to_have_attribute("data-channel", "3")
    own = shown_number(panel.get_by_test_id("explainer-model-value"))
    assert own == pytest.approx(float(pool1[1, 2, 3]), rel=5e-3, abs=5e-3)
    value = shown_number(panel.get_by_test_id("explainer-value"))
    assert value == pytest.approx(float(pool1[1, 2, 3]), rel=5e-3, abs=5e-3)

    page.get_by_test_id("diagram-layer-logits").click()
    expect(panel).to_have_attribute("data-layer", "logits")
    probabilities = activations["meta"]["probabilities"][0]
    rows = panel.get_by_test_id("softmax-row")
    expect(rows).to_have_count(len(probabilities))
    for row, probability in zip(rows.all(), probabilities, strict=True):
        expect(row.locator("td").nth(3)).to_have_text(f"{probability * 100:.1f}%")


def test_upload_an_image(page: Page, digits_run: str, tmp_path: Path) -> None:
    picture = np.zeros((40, 30, 3), np.uint8)
    picture[5:35, 12:18] = 255
    path = tmp_path / "mine.png"
    Image.fromarray(picture).save(path)
    page.goto(f"/#/runs/{digits_run}/layers")
    expect(page.get_by_test_id("prediction")).to_be_visible()
    page.get_by_test_id("picker-mode-upload").click()
    before = rendered(page)
    page.get_by_test_id("picker-upload-input").set_input_files(str(path))
    wait_for_new_activations(page, before)
    conversion = page.get_by_test_id("conversion")
    expect(conversion).to_contain_text("resized from 30x40 to 8x8")
    expect(conversion).to_contain_text("stretched")
    expect(page).to_have_url(re.compile(r"image=upload"))
    # A file that is not an image is refused with the reason.
    page.get_by_test_id("picker-upload-input").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}]
    )
    expect(page.get_by_test_id("picker-upload-error")).to_contain_text("not a PNG or JPEG")


def test_import_a_keras_model_and_open_its_activations(page: Page, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Rescaling(1 / 255, name="scale"),
            keras.layers.Conv2D(6, 3, activation="relu", padding="same", name="my_conv"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, activation="softmax", name="scores"),
        ]
    )
    path = tmp_path / "tiny.keras"
    model.save(path)
    page.goto("/#/runs")
    page.get_by_test_id("import-model-open").click()
    page.get_by_test_id("import-model-file").set_input_files(str(path))
    page.get_by_test_id("import-model-classes").fill("circle, square, line")
    page.get_by_test_id("import-model-send").click()
    expect(page).to_have_url(re.compile(r"#/runs/\w+/layers"))
    expect(page.get_by_test_id("diagram-layer-my_conv")).to_be_visible()
    expect(page.get_by_test_id("picker-mode-probe")).to_have_count(0)  # no probe set
    draw(page, [(0.2, 0.2), (0.8, 0.8)])
    maps = page.get_by_test_id("activation-layer-my_conv").get_by_test_id("feature-maps")
    expect(maps).to_have_attribute("data-channels", "6")
    expect(page.get_by_test_id("prob-bars")).to_contain_text("square")


def test_upload_a_dataset_in_the_playground(page: Page) -> None:
    page.goto("/#/")
    upload = page.get_by_test_id("dataset-upload")
    upload.get_by_test_id("dataset-upload-file").set_input_files(
        files=[{"name": "shades.zip", "mimeType": "application/zip", "buffer": class_folders_zip()}]
    )
    upload.get_by_test_id("dataset-upload-name").fill("my_shades")
    upload.get_by_test_id("dataset-upload-send").click()
    card = page.get_by_test_id("dataset-my_shades")
    expect(card).to_contain_text("Uploaded: 12 images in 2 classes")
    expect(card.locator("input")).to_be_checked()
