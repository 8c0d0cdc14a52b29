"""Contract tests run over every registered lens: what any lens must guarantee.

Each lens runs with its ``example_params`` on a convscope model and on a hand-written
softmax model (which a lens may refuse, naming the model as the reason).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses.base import LENS_KINDS, get_lens

ROOT = Path(__file__).resolve().parents[2]
NAMES = lenses.available()


def run(name: str, model: keras.Model, images: np.ndarray, labels: np.ndarray, masks: np.ndarray):
    lens = get_lens(name)
    return lenses.compute(name, model, images, labels=labels, masks=masks, **lens.example_params)


def check_result(result: lenses.LensResult) -> None:
    assert result.arrays, "a lens returns at least one array"
    for key, array in result.arrays.items():
        assert isinstance(array, np.ndarray), key
        assert array.dtype.kind in "biuf", (key, array.dtype)
        if array.dtype.kind == "f":
            assert np.all(np.isfinite(array)), key
    json.dumps(result.meta, allow_nan=False)


def test_the_registry_holds_lenses() -> None:
    assert "activations" in NAMES
    assert len(NAMES) == len(set(NAMES))


@pytest.mark.parametrize("name", NAMES)
def test_lens_describes_itself(name: str) -> None:
    lens = get_lens(name)
    info = lenses.describe(name)[0]
    assert info.kind in LENS_KINDS
    assert info.title and len(info.description) > 40
    assert info.params_schema["type"] == "object"
    assert lens.references, "every lens cites where its method comes from"
    lens.Params.model_validate(lens.example_params)


@pytest.mark.parametrize("name", NAMES)
def test_lens_has_a_doc_page_and_a_test_file(name: str) -> None:
    page = ROOT / "docs" / "lenses" / f"{name}.md"
    assert page.is_file(), f"docs/lenses/{name}.md is missing"
    text = page.read_text()
    assert f"`{name}`" in text and "## How to read it" in text and "## Caveats" in text
    assert (ROOT / "tests" / "lenses" / f"test_{name}.py").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_lens_result_is_finite_and_deterministic(name, conv_model, images, labels, masks) -> None:
    first = run(name, conv_model, images, labels, masks)
    check_result(first)
    second = run(name, conv_model, images, labels, masks)
    assert first.arrays.keys() == second.arrays.keys()
    for key in first.arrays:
        np.testing.assert_array_equal(first.arrays[key], second.arrays[key], err_msg=key)
    assert first.meta == second.meta


@pytest.mark.parametrize("name", NAMES)
def test_a_batch_of_one_equals_its_row_of_the_batch(
    name, conv_model, images, labels, masks
) -> None:
    if get_lens(name).scope != "images":
        # Results describe the whole probe set, or the model alone.
        assert get_lens(name).scope in ("probe_set", "model")
        return
    batch = run(name, conv_model, images, labels, masks)
    for row in (0, 4):
        one = slice(row, row + 1)
        single = run(name, conv_model, images[one], labels[one], masks[one])
        for key, array in batch.arrays.items():
            assert array.shape[0] == len(images), f"{key} is not batch first"
            np.testing.assert_allclose(
                single.arrays[key][0], array[row], rtol=1e-4, atol=1e-5, err_msg=key
            )


@pytest.mark.parametrize("name", NAMES)
def test_lens_works_on_a_hand_written_softmax_model(
    name, softmax_model, images, labels, masks
) -> None:
    try:
        result = run(name, softmax_model, images, labels, masks)
    except InvalidInput as error:
        # A lens may not apply to a model (no convolution...), and must then say why.
        assert error.field == "model" and error.reason
        return
    check_result(result)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameters_are_refused_by_name(name, conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute(name, conv_model, images, no_such_parameter=1)
    assert caught.value.field == "no_such_parameter"
