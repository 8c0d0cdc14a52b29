"""ArchSpec validation and JSON round trips."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from convscope.errors import InvalidInput
from convscope.models.presets import get_preset, preset_names
from convscope.models.spec import (
    ArchSpec,
    ConvBlock,
    DenseBlock,
    FlattenBlock,
    ResidualBlock,
)


def test_defaults_follow_the_contract() -> None:
    conv = ConvBlock()
    assert (conv.filters, conv.kernel_size, conv.activation, conv.padding, conv.strides) == (
        32,
        3,
        "relu",
        "same",
        1,
    )
    assert DenseBlock().units == 128
    assert ResidualBlock().filters == 32
    assert ArchSpec(blocks=[FlattenBlock()]).name == "custom"


@pytest.mark.parametrize("name", preset_names())
def test_json_round_trip_keeps_every_field(name: str) -> None:
    spec = get_preset(name)
    text = json.dumps(spec.to_json_dict())
    again = ArchSpec.from_json_dict(json.loads(text))
    assert again == spec
    assert again.to_json_dict() == spec.to_json_dict()


def test_blocks_are_chosen_by_their_type() -> None:
    spec = ArchSpec.from_json_dict(
        {"blocks": [{"type": "conv", "filters": 8}, {"type": "pool", "kind": "avg"}]}
    )
    assert [block.type for block in spec.blocks] == ["conv", "pool"]
    assert spec.blocks[0].filters == 8


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"blocks": [{"type": "conv", "filtrs": 8}]}, "arch.blocks.0.filtrs"),
        ({"blocks": [{"type": "conv", "filters": 0}]}, "arch.blocks.0.filters"),
        ({"blocks": [{"type": "conv", "kernel_size": 12}]}, "arch.blocks.0.kernel_size"),
        ({"blocks": [{"type": "dense", "activation": "swish"}]}, "arch.blocks.0.activation"),
        ({"blocks": [{"type": "dropout", "rate": 1.0}]}, "arch.blocks.0.rate"),
        ({"blocks": [{"type": "pool", "size": 9}]}, "arch.blocks.0.size"),
        ({"blocks": [{"type": "teleport"}]}, "arch.blocks.0"),
        ({"blocks": [{"filters": 3}]}, "arch.blocks.0"),
        ({"blocks": []}, "arch.blocks"),
        ({"blocks": [{"type": "flatten"}], "colour": "red"}, "arch.colour"),
        ({"blocks": [{"type": "flatten"}] * 65}, "arch.blocks"),
    ],
)
def test_invalid_specs_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ArchSpec.from_json_dict(data)
    assert caught.value.field == field


def test_unknown_keys_are_refused_by_pydantic_too() -> None:
    with pytest.raises(ValidationError, match="filtrs"):
        ArchSpec.model_validate({"blocks": [{"type": "conv", "filtrs": 8}]})


@pytest.mark.parametrize("late", ["conv", "pool", "residual", "global_pool", "flatten"])
@pytest.mark.parametrize("early", ["flatten", "dense", "global_pool"])
def test_image_blocks_after_a_vector_are_refused(early: str, late: str) -> None:
    with pytest.raises(InvalidInput, match=rf"blocks\[1\] \({late}\)"):
        ArchSpec.from_json_dict({"blocks": [{"type": early}, {"type": late}]})


def test_vector_blocks_after_a_vector_are_fine() -> None:
    spec = ArchSpec.from_json_dict(
        {
            "blocks": [
                {"type": "global_pool"},
                {"type": "batchnorm"},
                {"type": "dropout"},
                {"type": "dense"},
            ]
        }
    )
    assert len(spec.blocks) == 4
