"""The web app's message catalogues: every language has every key, with the same arguments.

The catalogues are read by `web/scripts/catalogues.mjs` with the ICU MessageFormat parser
that the app formats them with, so a message that would not format in the browser fails here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
LOCALES = WEB / "src" / "locales"
SOURCE = "en"

# Messages that read the same in French: names, and words French shares with English.
SAME_IN_FRENCH = {
    "ablation.col.intact",
    "activations.title",
    "card.insertion",
    "configDiff.label.arch",
    "configDiff.label.dropout",
    "configDiff.short.dropout",
    "configDiff.short.weight_init",
    "curves.val",
    "dataset.cifar10.title",
    "dataset.fashion_mnist.title",
    "dataset.mnist.title",
    "explainer.activation",
    "datasets.classes",
    "field.activation",
    "field.dropout",
    "field.type",
    "format.minutes",
    "format.seconds",
    "image.image",
    "import.probeOption",
    "language.en",
    "language.fr",
    "lens.grad_cam.title",
    "lens.smoothgrad.title",
    "playground.arch",
    "questions.image",
    "runs.col.arch",
    "runs.source.notebook",
    "runs.source.web",
    "scrubber.pause",
    "sweepField.arch",
    "sweepField.dropout",
    "tabs.questions",
}


def read_catalogues(folder: Path) -> dict[str, dict[str, Any]]:
    """Each catalogue of `folder` as the ICU parser reads it: per locale, per key, the
    message's arguments, or the reason it does not parse."""
    node = shutil.which("node")
    assert node, "Node.js is needed to read the catalogues with the app's ICU parser"
    result = subprocess.run(
        [node, str(WEB / "scripts" / "catalogues.mjs"), str(folder)],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def problems(catalogues: dict[str, dict[str, Any]], texts: dict[str, dict[str, str]]) -> list[str]:
    """What is wrong with a set of catalogues, one line per problem; empty when all is well.

    Args:
        catalogues: the parser's reading of each catalogue (see `read_catalogues`).
        texts: the raw messages, per locale and key.

    Returns:
        Lines naming the locale, the key and the problem: a key missing or extra, a message
        that does not parse (a plural without its `other` branch, a brace left open),
        arguments that differ from the source language's, an untranslated message.
    """
    found: list[str] = []
    source = catalogues[SOURCE]
    for locale, messages in sorted(catalogues.items()):
        for key in sorted(set(source) - set(messages)):
            found.append(f"{locale}: missing {key}")
        for key in sorted(set(messages) - set(source)):
            found.append(f"{locale}: {key} is not in the {SOURCE} catalogue")
        for key, parsed in sorted(messages.items()):
            if "error" in parsed:
                found.append(f"{locale}: {key} does not parse: {parsed['error']}")
                continue
            expected = source.get(key, {}).get("args")
            if expected is not None and parsed["args"] != expected:
                found.append(f"{locale}: {key} takes {parsed['args']}, {SOURCE} takes {expected}")
            text = texts[locale][key]
            if re.search(r"'[{}]", text):
                found.append(f"{locale}: {key}: an apostrophe before a brace starts an ICU quote")
            untranslated = locale != SOURCE and text == texts[SOURCE].get(key)
            if untranslated and key not in SAME_IN_FRENCH:
                found.append(f"{locale}: {key} is not translated: {text!r}")
    return found


def load_texts(folder: Path) -> dict[str, dict[str, str]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def test_english_and_french_are_complete_and_agree() -> None:
    texts = load_texts(LOCALES)
    assert set(texts) == {"en", "fr"}
    assert len(texts["en"]) > 500
    assert problems(read_catalogues(LOCALES), texts) == []


def test_same_in_french_names_only_keys_that_exist() -> None:
    texts = load_texts(LOCALES)
    assert set(texts["en"]) >= SAME_IN_FRENCH
    assert all(texts["en"][key] == texts["fr"][key] for key in SAME_IN_FRENCH)


def test_every_message_is_used() -> None:
    """Each key is named in the web app's code, whole or by the prefix of a key built from data
    (`status.${status}`): a message nothing shows is one to remove."""
    code = "\n".join(
        path.read_text() for path in (WEB / "src").rglob("*") if path.suffix in {".ts", ".svelte"}
    )
    prefixes = set(re.findall(r"`([\w.]+)\.\$\{", code))
    unused = [
        key
        for key in json.loads((LOCALES / f"{SOURCE}.json").read_text())
        if f'"{key}"' not in code and not any(key.startswith(f"{prefix}.") for prefix in prefixes)
    ]
    assert unused == []


@pytest.mark.parametrize(
    ("french", "expected"),
    [
        ({"a": "Bonjour", "b": "x"}, "fr: missing c"),
        ({"a": "Bonjour", "b": "x", "c": "{n} c", "d": "d"}, "fr: d is not in the en catalogue"),
        ({"a": "Bonjour {nom}", "b": "x", "c": "{n} c"}, "fr: a takes {'nom': 'argument'}"),
        ({"a": "Bonjour {name", "b": "x", "c": "{n} c"}, "fr: a does not parse"),
        ({"a": "Bonjour", "b": "x", "c": "{n, plural, one {# c}}"}, "MISSING_OTHER_CLAUSE"),
        ({"a": "Bonjour", "b": "x", "c": "l'{n} c"}, "an apostrophe before a brace"),
        ({"a": "Hello {name}", "b": "x", "c": "{n} c"}, "fr: a is not translated"),
    ],
)
def test_each_problem_is_reported(tmp_path: Path, french: dict[str, str], expected: str) -> None:
    english = {"a": "Hello {name}", "b": "y", "c": "{n} c"}
    (tmp_path / "en.json").write_text(json.dumps(english))
    (tmp_path / "fr.json").write_text(json.dumps(french))
    found = problems(read_catalogues(tmp_path), load_texts(tmp_path))
    assert any(expected in line for line in found), found
