"""GET /api/architectures: presets, block types and the RunConfig form."""

from __future__ import annotations

from functools import cache
from typing import Any, get_args

from fastapi import APIRouter

from convscope.models import spec
from convscope.models.presets import get_preset, preset_descriptions, preset_names
from convscope.server.schemas import Architectures, BlockOrder, ConfigInfo, PresetOut
from convscope.training.config import RunConfig

router = APIRouter(tags=["architectures"])


def block_types() -> dict[str, dict[str, Any]]:
    """The JSON schema of each block type, keyed by its ``type`` tag."""
    union = get_args(spec.Block)[0]
    return {cls.model_fields["type"].default: cls.model_json_schema() for cls in get_args(union)}


@cache
def _architectures() -> Architectures:
    # Everything here is static for the life of the process.
    descriptions = preset_descriptions()
    return Architectures(
        presets=[
            PresetOut(
                name=name, description=descriptions[name], spec=get_preset(name).to_json_dict()
            )
            for name in preset_names()
        ],
        block_types=block_types(),
        block_order=BlockOrder(
            needs_image=sorted(spec.SPATIAL_BLOCKS), makes_vector=sorted(spec.FLATTENING_BLOCKS)
        ),
        config=ConfigInfo.model_validate(
            {"default": RunConfig().to_json_dict(), "schema": RunConfig.model_json_schema()}
        ),
    )


@router.get("/architectures", response_model=Architectures)
def architectures() -> Architectures:
    """Preset specs, a JSON schema per block type, the default RunConfig and its schema."""
    return _architectures()
