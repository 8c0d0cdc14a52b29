"""The lens registry and the Python entry point: registering, validating, resolving targets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pydantic import Field

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses.base import (
    Lens,
    LensInputs,
    LensParams,
    LensResult,
    register_lens,
    unregister_lens,
)


class EchoParams(LensParams):
    scale: float = Field(default=1.0, gt=0)


def make_echo(name: str):
    """A lens that returns its inputs, to see what compute() hands a lens."""

    @register_lens(name, title="Echo", kind="bars", description="Returns what it is given.")
    class Echo(Lens):
        Params = EchoParams
        uses_target = True
        references = ("none",)

        def compute(self, model, inputs: LensInputs, params: EchoParams) -> LensResult:
            return LensResult(
                {"images": inputs.images * params.scale, "targets": inputs.targets},
                {"labels": None if inputs.labels is None else inputs.labels.tolist()},
            )

    return Echo


@pytest.fixture
def echo():
    make_echo("echo_test")
    yield "echo_test"
    unregister_lens("echo_test")


def test_a_new_lens_is_one_registration_away(echo, conv_model, images) -> None:
    assert echo in lenses.available()
    info = lenses.describe(echo)[0]
    assert info.kind == "bars" and info.uses_target
    assert info.params_schema["properties"]["scale"]["default"] == 1.0
    result = lenses.compute(echo, conv_model, images.astype(np.uint8), target=2, scale=2.0)
    assert result.arrays["images"].dtype == np.float32
    np.testing.assert_array_equal(result.arrays["images"], images * 2)
    assert result.meta["targets"] == [2] * len(images)


def test_a_duplicate_name_or_an_unknown_kind_is_refused(echo) -> None:
    with pytest.raises(ValueError, match="already registered"):
        make_echo(echo)
    with pytest.raises(ValueError, match="unknown lens kind"):
        register_lens("other", title="x", kind="pie", description="x")  # type: ignore[arg-type]


def test_predicted_target_is_each_images_argmax(echo, conv_model, images) -> None:
    from convscope.models.inspect import logits

    result = lenses.compute(echo, conv_model, images)
    np.testing.assert_array_equal(result.arrays["targets"], logits(conv_model, images).argmax(1))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": 3}, "target"),
        ({"target": -1}, "target"),
        ({"target": "best"}, "target"),
        ({"target": [0, 1]}, "target"),
        ({"target": 1.5}, "target"),
        ({"scale": 0}, "scale"),
        ({"scale": "big"}, "scale"),
        ({"labels": [0, 1]}, "labels"),
        ({"labels": [0, 1, 2, 3, 0, 1]}, "labels"),
    ],
)
def test_bad_arguments_name_their_field(echo, conv_model, images, kwargs, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute(echo, conv_model, images, **kwargs)
    assert caught.value.field == field
    assert caught.value.reason


@pytest.mark.parametrize(
    ("images", "reason"),
    [
        (np.zeros((0, 8, 8, 1)), "non-empty"),
        (np.zeros((2, 9, 8, 1)), "shape"),
        (np.full((1, 8, 8, 1), np.nan), "NaN"),
        ([["a"]], "numeric"),
    ],
)
def test_bad_images_are_refused(echo, conv_model, images, reason) -> None:
    with pytest.raises(InvalidInput, match=reason) as caught:
        lenses.compute(echo, conv_model, images)
    assert caught.value.field == "images"


def test_one_channel_images_may_leave_out_the_channel_axis(echo, conv_model, images) -> None:
    result = lenses.compute(echo, conv_model, images[..., 0], target=0)
    np.testing.assert_array_equal(result.arrays["images"], images)


def test_an_unknown_lens_lists_the_lenses(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("no_such_lens", conv_model, images)
    assert caught.value.field == "lens"
    assert "activations" in (caught.value.choices or [])


def test_listing_lenses_loads_neither_keras_nor_tensorflow() -> None:
    script = (
        "import sys, convscope.lenses as l; "
        "assert l.available() and l.describe(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
