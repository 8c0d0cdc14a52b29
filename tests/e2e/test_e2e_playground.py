"""The playground: validation as you type, and the whole configuration in the URL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

#: conv, pool, conv, pool, flatten, dropout, dense
SMALL_CNN_BLOCKS = 7


def hash_query(url: str) -> dict[str, str]:
    fragment = urlsplit(url).fragment
    query = fragment.split("?", 1)[1] if "?" in fragment else ""
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}


def test_invalid_learning_rate_disables_training(page: Page) -> None:
    page.goto("/#/")
    train = page.get_by_test_id("train-button")
    expect(train).to_be_enabled()

    page.get_by_test_id("field-learning_rate-input").fill("0")
    expect(page.get_by_test_id("field-learning_rate-error")).to_have_text("must be greater than 0")
    expect(train).to_be_disabled()

    page.get_by_test_id("field-learning_rate-input").fill("abc")
    expect(page.get_by_test_id("field-learning_rate-error")).to_have_text("must be a number")

    page.get_by_test_id("field-batch_size-input").fill("2.5")
    expect(page.get_by_test_id("field-batch_size-error")).to_have_text("must be a whole number")

    page.get_by_test_id("field-learning_rate-input").fill("0.01")
    page.get_by_test_id("field-batch_size-input").fill("64")
    expect(page.get_by_test_id("field-learning_rate-error")).to_have_count(0)
    expect(train).to_be_enabled()


def test_url_configures_the_controls(page: Page) -> None:
    page.goto(
        "/#/?dataset=digits&arch=lenet5&optimizer=sgd&lr=0.05&batch=16&epochs=2"
        "&seed=7&probe=150&shift=0.1&flip=true&name=from-a-link"
    )
    expect(page.get_by_test_id("dataset-digits").locator("input")).to_be_checked()
    expect(page.get_by_test_id("arch-preset")).to_have_value("lenet5")
    expect(page.get_by_test_id("field-optimizer-input")).to_have_value("sgd")
    expect(page.get_by_test_id("field-learning_rate-input")).to_have_value("0.05")
    expect(page.get_by_test_id("field-batch_size-input")).to_have_value("16")
    expect(page.get_by_test_id("field-epochs-input")).to_have_value("2")
    expect(page.get_by_test_id("field-seed-input")).to_have_value("7")
    expect(page.get_by_test_id("field-probe_size-input")).to_have_value("150")
    expect(page.get_by_test_id("field-augment_shift-input")).to_have_value("0.1")
    expect(page.get_by_test_id("field-augment_flip-input")).to_be_checked()
    expect(page.get_by_test_id("field-name-input")).to_have_value("from-a-link")
    expect(
        page.get_by_test_id("arch-editor").locator("[data-testid^=block-][data-type]")
    ).to_have_count(7)

    page.get_by_test_id("field-epochs-input").fill("5")
    expect(page).to_have_url(re.compile(r"epochs=5"))
    query = hash_query(page.url)
    assert query["dataset"] == "digits"
    assert query["arch"] == "lenet5"
    assert query["lr"] == "0.05"


def test_edited_architecture_travels_in_the_link(page: Page) -> None:
    page.goto("/#/?dataset=digits&arch=small_cnn")
    blocks = page.get_by_test_id("arch-editor").locator("li[data-type]")
    expect(blocks.last).to_have_attribute("data-type", "dense")
    count = blocks.count()
    assert count == SMALL_CNN_BLOCKS
    page.get_by_test_id("add-batchnorm").click()
    page.get_by_test_id("block-0-filters-input").fill("24")
    expect(page.get_by_test_id("arch-preset")).to_have_value("custom")
    expect(blocks).to_have_count(count + 1)
    query = hash_query(page.url)
    assert "spec" in query and "arch" not in query
    link = page.url

    other = page.context.new_page()
    other.goto(link)
    expect(other.get_by_test_id("arch-preset")).to_have_value("custom")
    other_blocks = other.get_by_test_id("arch-editor").locator("li[data-type]")
    expect(other_blocks).to_have_count(count + 1)
    expect(other_blocks.last).to_have_attribute("data-type", "batchnorm")
    expect(other.get_by_test_id("block-0-filters-input")).to_have_value("24")

    other.get_by_test_id("block-0-filters-input").fill("0")
    expect(other.get_by_test_id("block-0-filters-error")).to_have_text("must be at least 1")
    expect(other.get_by_test_id("train-button")).to_be_disabled()
    other.close()


def test_unavailable_dataset_is_disabled_with_its_reason(page: Page) -> None:
    page.goto("/#/")
    datasets = page.request.get("/api/datasets").json()
    missing = [d for d in datasets if not d["available"] and d["name"] != "folder"]
    assert missing, "the test machine has no MNIST or CIFAR-10 files"
    name = missing[0]["name"]
    expect(page.get_by_test_id(f"dataset-{name}").locator("input")).to_be_disabled()
    reason = page.get_by_test_id(f"dataset-{name}-reason")
    expect(reason).to_contain_text("files not found")
    # The folder source needs a path on the server: in the browser, images are uploaded.
    expect(page.get_by_test_id("dataset-folder")).to_have_count(0)
    expect(page.get_by_test_id("dataset-upload")).to_contain_text("one folder of PNG or JPEG")


def test_server_422_is_shown_at_its_field(page: Page) -> None:
    page.goto("/#/?dataset=digits&arch=small_cnn&epochs=1&probe=50")
    blocks = page.get_by_test_id("arch-editor").locator("li[data-type]")
    expect(blocks).to_have_count(SMALL_CNN_BLOCKS)
    page.get_by_test_id("add-conv").click()
    page.get_by_test_id("train-button").click()
    expect(page.get_by_test_id(f"block-{SMALL_CNN_BLOCKS}-error")).to_contain_text("image-shaped")
    expect(page).to_have_url(re.compile(r"#/\?"))
