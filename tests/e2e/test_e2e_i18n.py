"""The web app in French and English: every view, every string from the catalogues.

Two walks over every view read each piece of visible text (and the title, aria-label,
placeholder and alt attributes):
- in the pseudo-locale `en-XA`, where every message is the English one between ⟦ ⟧, any
  text outside brackets came from no catalogue, unless it is data: numbers, class, layer,
  run and dataset names, or marked as such (`translate="no"`, or `lang="en"` for what the
  server says in English);
- in French, no piece of an English message may be left.
Then the language switch: the header's choice survives a reload, is remembered by the
browser, and travels in links.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_helpers import Api
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "web" / "src" / "locales"
ARTIFACTS = ROOT / "test-artifacts"
QUICK = {"dataset": "digits", "train_size": 300, "probe_size": 60, "epochs": 1}
# Lenses run in the inspection worker, one request after another: on a busy machine a view
# may take a while to fill in.
WAIT = 60_000

# Every piece of text of the page, as the learner sees it, grouped by the block it sits in
# (a paragraph with bold words in it is one piece), and the attributes a reader meets. Left
# out: what is marked as not to translate or as in another language, and dates in <time>,
# which `Intl` writes in the page's language.
WALK = """
() => {
  const INLINE = new Set(["B", "I", "EM", "STRONG", "CODE", "A", "SPAN", "SMALL", "SUB", "SUP"]);
  const pageLang = document.documentElement.lang;
  const left = (el) =>
    el.getAttribute("translate") === "no" ||
    (el.hasAttribute("lang") && el.getAttribute("lang") !== pageLang) ||
    ["SCRIPT", "STYLE", "NOSCRIPT", "TIME"].includes(el.tagName);
  const skipped = (el) => {
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      if (left(e)) return true;
    }
    return false;
  };
  const textOf = (el) => {
    let out = "";
    for (const child of el.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) out += child.nodeValue;
      else if (child.nodeType === Node.ELEMENT_NODE && !left(child)) {
        out += INLINE.has(child.tagName) ? textOf(child) : ` ${textOf(child)} `;
      }
    }
    return out;
  };
  const blocks = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!/\\p{L}/u.test(node.nodeValue)) continue;
    let el = node.parentElement;
    if (!el || skipped(el)) continue;
    while (INLINE.has(el.tagName) && el.parentElement && el.parentElement !== document.body) {
      el = el.parentElement;
    }
    blocks.add(el);
  }
  const texts = [...blocks].map((el) => textOf(el).replace(/\\s+/g, " ").trim());
  const attributes = [];
  for (const el of document.body.querySelectorAll("[title], [aria-label], [placeholder], [alt]")) {
    if (skipped(el)) continue;
    for (const name of ["title", "aria-label", "placeholder", "alt"]) {
      const value = el.getAttribute(name);
      if (value && /\\p{L}/u.test(value)) attributes.push({ name, value });
    }
  }
  // SVG titles are tooltips too.
  for (const el of document.body.querySelectorAll("title")) {
    if (!skipped(el) && /\\p{L}/u.test(el.textContent)) {
      attributes.push({ name: "svg title", value: el.textContent });
    }
  }
  return { lang: pageLang, texts, attributes };
}
"""


@pytest.fixture(scope="module")
def subjects(api: Api) -> dict[str, str]:
    """A finished run with its depth measures, a second one to compare it with, and a
    finished sweep of two runs: enough for every view to show all it has."""
    run = api.create_run(**QUICK, arch="small_cnn", record_depth=True)
    other = api.create_run(**QUICK, arch="small_cnn", learning_rate=0.01)
    sweep = api.request(
        "POST",
        "/api/sweeps",
        {
            "name": "rates",
            "method": "grid",
            "base": {**QUICK, "arch": "mlp"},
            "parameters": {"learning_rate": [0.003, 0.03]},
            "early_stopping": {"rule": "none"},
        },
    )
    for run_id in [run["id"], other["id"], *(row["run"]["id"] for row in sweep["runs"])]:
        api.wait_until(run_id, {"done"}, timeout=240)
    return {"run": run["id"], "other": other["id"], "sweep": sweep["id"]}


@pytest.fixture
def open_context(browser: Browser, server: str) -> Iterator[Callable[[str], Page]]:
    """Pages in browsers of a given language; each fails the test on an error in the page."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_page(locale: str) -> Page:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=server, locale=locale
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def views(ids: dict[str, str]) -> list[tuple[str, str, list[str]]]:
    """Each view: its name, its address, and the test ids to wait for before reading it."""
    run = ids["run"]
    return [
        ("runs", "/#/runs", ["run-row"]),
        ("playground", "/#/", ["dataset-picker", "arch-editor"]),
        ("questions", f"/#/runs/{run}/questions", ["question-learn", "fact-link"]),
        ("training", f"/#/runs/{run}", ["snapshot-metrics", "hardest-list"]),
        ("layers", f"/#/runs/{run}/layers", ["activation-layer-conv1", "explainer-pixel"]),
        ("explain", f"/#/runs/{run}/explain", ["lens-figures-saliency", "sanity-row-saliency"]),
        ("depth", f"/#/runs/{run}/depth", ["depth-grid-probe", "depth-map"]),
        ("compare", f"/#/compare?ids={run},{ids['other']}", ["config-diff", "compare-map-note"]),
        ("sweeps", "/#/sweeps", ["sweeps-list", "sweep-link"]),
        ("sweep", f"/#/sweeps/{ids['sweep']}", ["field-scatter", "best-curve"]),
    ]


def visit(page: Page, name: str, address: str, ready: list[str], lang: str | None) -> dict:
    """Opens one view (in `lang`, or the page's own language), opens what it hides behind a
    click, and reads its text."""
    page.goto(address if lang is None else f"{address}{'&' if '?' in address else '?'}lang={lang}")
    for testid in ready:
        expect(page.get_by_test_id(testid).first).to_be_visible(timeout=WAIT)
    if name == "training":
        page.get_by_test_id("hardest-list").get_by_test_id("grid-image").first.click()
        expect(page.get_by_test_id("timeline-summary")).to_be_visible(timeout=WAIT)
        page.get_by_test_id("cm-cell-0-0").click()
        expect(page.get_by_test_id("cell-image-grid")).to_be_visible(timeout=WAIT)
    if name == "layers":
        page.get_by_test_id("layer-health").scroll_into_view_if_needed()
        expect(page.get_by_test_id("layer-health-charts")).to_be_visible(timeout=WAIT)
        page.get_by_test_id("unit-readout").first.scroll_into_view_if_needed()
    if name == "explain":
        expect(page.get_by_test_id("lens-figures-occlusion").locator("table")).to_be_visible(
            timeout=WAIT
        )
        expect(page.get_by_test_id("strip-map").first).to_be_visible(timeout=WAIT)
    if name == "layers":
        expect(page.get_by_test_id("feature-card").first).to_be_visible(timeout=WAIT)
    if name == "depth":
        page.get_by_test_id("multiple-1-0").click()
        page.get_by_test_id("depth-map").scroll_into_view_if_needed()
        page.get_by_test_id("ablation-panel").scroll_into_view_if_needed()
        expect(page.get_by_test_id("importance-facts")).to_be_visible(timeout=WAIT)
        expect(page.get_by_test_id("ablation-channel")).to_be_visible(timeout=WAIT)
    for details in page.locator("details").all():
        details.evaluate("element => { element.open = true; }")
    return page.evaluate(WALK)


def pieces_of(walked: dict) -> list[tuple[str, str]]:
    """The texts of a walk, each with where it was found ("" for text, "title: "...)."""
    return [("", text) for text in walked["texts"]] + [
        (f"{attribute['name']}: ", attribute["value"]) for attribute in walked["attributes"]
    ]


def strip_brackets(text: str) -> str:
    """The text with every ⟦message⟧ taken out, nested ones too."""
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    return text


# Words that are data, not prose: what the run, its model and its dataset are called.
IDENTIFIER = re.compile(r"^[\w.-]*(\d|_)[\w.-]*$")


def stray_words(text: str, names: set[str]) -> list[str]:
    """Words outside every catalogue message that are not data."""
    words = re.findall(r"[\w'’.-]*[^\W\d_][\w'’.-]*", strip_brackets(text))
    return [word for word in words if word not in names and not IDENTIFIER.match(word)]


def test_every_visible_string_comes_from_a_catalogue(
    open_context: Callable[[str], Page], api: Api, subjects: dict[str, str]
) -> None:
    run = api.run(subjects["run"])
    probe = api.request("GET", f"/api/runs/{subjects['run']}/probe")
    layers = api.request(
        "POST", f"/api/runs/{subjects['run']}/lenses/architecture", {"snapshot": "last"}
    )["meta"]["layers"]
    names = {"convscope", "digits", "small_cnn", "mlp", "rates", *probe["class_names"]}
    names |= {layer["name"] for layer in layers} | {str(run["config"]["optimizer"])}
    page = open_context("en-US")
    found: dict[str, list[str]] = {}
    for name, address, ready in views(subjects):
        walked = visit(page, name, address, ready, "en-XA")
        assert walked["lang"] == "en-XA"
        for where, text in pieces_of(walked):
            words = stray_words(text, names)
            if words:
                found.setdefault(name, []).append(f"{words} in {where}{text[:120]!r}")
    assert not found, "text from no catalogue:\n" + json.dumps(found, indent=1, ensure_ascii=False)


def english_fragments() -> tuple[set[str], set[str]]:
    """What an English message shows of itself, where French says something else: whole
    messages without arguments, and the runs of two words or more between the arguments."""
    english = json.loads((LOCALES / "en.json").read_text())
    french = json.loads((LOCALES / "fr.json").read_text())
    whole: set[str] = set()
    pieces: set[str] = set()
    for key, message in english.items():
        if french[key] == message:
            continue
        plain = re.sub(r"<[^>]+>", "", message)
        if "{" not in plain:
            whole.add(plain.strip())
        depth, literal = 0, ""
        for char in plain:
            depth += char == "{"
            literal += char if depth == 0 else "\n"
            depth -= char == "}"
        for piece in literal.split("\n"):
            piece = piece.strip(" .,:;()·")
            if len(piece.split()) >= 2:
                pieces.add(piece)
    return whole, pieces


def test_every_view_in_french_leaves_no_english(
    open_context: Callable[[str], Page], subjects: dict[str, str]
) -> None:
    whole, pieces = english_fragments()
    page = open_context("fr-FR")  # a French browser: no `lang` in the addresses below
    found: dict[str, list[str]] = {}
    for name, address, ready in views(subjects):
        walked = visit(page, name, address, ready, None)
        assert walked["lang"] == "fr", f"{name} opened in {walked['lang']}"
        for where, text in pieces_of(walked):
            left = [p for p in pieces if p in text] + ([text] if text in whole else [])
            if left:
                found.setdefault(name, []).append(f"{left} in {where}{text[:120]!r}")
        if name in {"training", "layers", "explain", "depth"}:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"i18n-{name}-fr.png"), full_page=True)
    assert not found, "English left:\n" + json.dumps(found, indent=1, ensure_ascii=False)


def test_the_language_switch_survives_a_reload_and_travels_in_links(
    open_context: Callable[[str], Page], subjects: dict[str, str]
) -> None:
    page = open_context("en-US")
    page.goto(f"/#/runs/{subjects['run']}")
    expect(page.get_by_test_id("nav-runs")).to_have_text("Runs")
    expect(page.get_by_test_id("progress-text")).to_contain_text("val accuracy")
    accuracy = page.get_by_test_id("progress-text").inner_text()
    assert re.search(r"\d+\.\d%", accuracy), accuracy

    page.get_by_test_id("language-switch").select_option("fr")
    expect(page.get_by_test_id("nav-runs")).to_have_text("Entraînements")
    expect(page).to_have_url(re.compile(rf"#/runs/{subjects['run']}\?lang=fr$"))
    assert page.evaluate("document.documentElement.lang") == "fr"
    # Numbers in French: a decimal comma, and a space before the percent sign.
    expect(page.get_by_test_id("progress-text")).to_contain_text("exactitude en validation")
    assert re.search(r"\d+,\d[\u00a0\u202f]%", page.get_by_test_id("progress-text").inner_text())

    page.reload()
    expect(page.get_by_test_id("nav-runs")).to_have_text("Entraînements")
    # A plain link keeps the language in the address it leads to.
    page.get_by_test_id("run-tab-layers").click()
    expect(page).to_have_url(re.compile(r"/layers\?(.*&)?lang=fr"))
    # The browser remembers the choice for addresses without a language.
    page.goto("/#/sweeps")
    expect(page.get_by_test_id("nav-sweeps")).to_have_text("Balayages")
    expect(page).to_have_url(re.compile(r"#/sweeps\?lang=fr$"))
    shared = page.url

    # Someone else's English browser opens the shared link in French, and can switch back.
    other = open_context("en-US")
    other.goto(shared)
    expect(other.get_by_test_id("sweeps-list").locator("h1")).to_have_text("Balayages")
    other.get_by_test_id("language-switch").select_option("en")
    expect(other.get_by_test_id("sweeps-list").locator("h1")).to_have_text("Sweeps")
    expect(other).to_have_url(re.compile(r"lang=en$"))
