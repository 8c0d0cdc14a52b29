"""The named presets: names, descriptions, and that each one builds and runs anywhere."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.errors import InvalidInput
from convscope.models.build import build_model, embedding_layer_name
from convscope.models.presets import get_preset, preset_descriptions, preset_names
from convscope.models.spec import ArchSpec


def test_names_in_order() -> None:
    assert preset_names() == ["mlp", "lenet5", "small_cnn", "vgg_mini", "resnet_mini"]


def test_every_preset_has_a_one_line_description() -> None:
    descriptions = preset_descriptions()
    assert list(descriptions) == preset_names()
    for text in descriptions.values():
        assert text and "\n" not in text


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_preset("alexnet")
    assert caught.value.field == "arch"
    assert caught.value.choices == preset_names()


def test_get_preset_returns_a_fresh_spec() -> None:
    spec = get_preset("small_cnn")
    spec.blocks.clear()
    assert get_preset("small_cnn").blocks


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("shape", [(8, 8, 1), (32, 32, 3)])
def test_preset_builds_and_runs(name: str, shape: tuple[int, int, int]) -> None:
    spec = get_preset(name)
    assert isinstance(spec, ArchSpec)
    assert spec.name == name
    model = build_model(spec, shape, 10, seed=0)
    images = np.random.default_rng(1).integers(0, 256, size=(2, *shape)).astype(np.float32)
    logits = np.asarray(model(images, training=False))
    assert logits.shape == (2, 10)
    assert np.isfinite(logits).all()
    assert model.layers[-1].name == "logits"
    assert embedding_layer_name(model) != "logits"
    # Small enough to train in seconds on two CPU cores.
    assert model.count_params() < 500_000
