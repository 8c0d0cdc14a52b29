"""ArchSpec: a plain, JSON-serialisable description of a network as a list of blocks.

This module only describes networks; :mod:`convscope.models.build` turns a spec into a
``keras.Model``. It imports neither Keras nor TensorFlow, so validating a spec (in a
RunConfig, in an HTTP request) stays cheap.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from convscope.errors import InvalidInput

Activation = Literal["relu", "tanh", "sigmoid", "elu", "gelu", "linear"]

MAX_BLOCKS = 64
#: A network's name prefixes the names of its weights in TensorFlow, whose scope names
#: allow only these characters.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConvBlock(_Block):
    """A 2-D convolution with its activation."""

    type: Literal["conv"] = "conv"
    filters: int = Field(default=32, ge=1, le=1024, strict=True)
    kernel_size: int = Field(default=3, ge=1, le=11, strict=True)
    activation: Activation = "relu"
    padding: Literal["same", "valid"] = "same"
    strides: int = Field(default=1, ge=1, le=4, strict=True)


class PoolBlock(_Block):
    """Max or average pooling over ``size`` x ``size`` windows, with stride ``size``."""

    type: Literal["pool"] = "pool"
    kind: Literal["max", "avg"] = "max"
    size: int = Field(default=2, ge=1, le=8, strict=True)


class DenseBlock(_Block):
    """A fully connected layer with its activation (a Flatten is added before it if needed)."""

    type: Literal["dense"] = "dense"
    units: int = Field(default=128, ge=1, le=8192, strict=True)
    activation: Activation = "relu"


class DropoutBlock(_Block):
    """Dropout, active during training only."""

    type: Literal["dropout"] = "dropout"
    rate: float = Field(default=0.25, ge=0, lt=1, strict=True)


class BatchNormBlock(_Block):
    """Batch normalisation over the last (channel or unit) axis."""

    type: Literal["batchnorm"] = "batchnorm"


class ResidualBlock(_Block):
    """Two convolutions with batch normalisation, added to a skip connection.

    The skip connection is the identity when the shape is kept, and a 1x1 convolution
    (a projection) when ``strides`` or ``filters`` change it.
    """

    type: Literal["residual"] = "residual"
    filters: int = Field(default=32, ge=1, le=1024, strict=True)
    kernel_size: int = Field(default=3, ge=1, le=11, strict=True)
    strides: int = Field(default=1, ge=1, le=4, strict=True)
    activation: Activation = "relu"


class GlobalPoolBlock(_Block):
    """Average or maximum over all positions: one value per channel."""

    type: Literal["global_pool"] = "global_pool"
    kind: Literal["avg", "max"] = "avg"


class FlattenBlock(_Block):
    """Flattens an image-shaped tensor into a vector."""

    type: Literal["flatten"] = "flatten"


Block = Annotated[
    ConvBlock
    | PoolBlock
    | DenseBlock
    | DropoutBlock
    | BatchNormBlock
    | ResidualBlock
    | GlobalPoolBlock
    | FlattenBlock,
    Field(discriminator="type"),
]

# Blocks that need an image-shaped (4-D) tensor, and blocks after which it is a vector.
SPATIAL_BLOCKS = frozenset({"conv", "pool", "residual", "global_pool", "flatten"})
FLATTENING_BLOCKS = frozenset({"dense", "global_pool", "flatten"})
BLOCK_TYPES = frozenset(SPATIAL_BLOCKS | FLATTENING_BLOCKS | {"dropout", "batchnorm"})


class ArchSpec(BaseModel):
    """A network as a list of blocks; the builder adds the input scaling and the logits.

    The blocks are checked in order: once a block has made the tensor a vector
    (``flatten``, ``global_pool``, ``dense``), blocks that need an image (``conv``,
    ``pool``, ``residual``, ``global_pool``, ``flatten``) are refused.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        default="custom",
        min_length=1,
        max_length=100,
        description="Letters, digits, '_', '.' and '-', starting with a letter or digit.",
    )
    blocks: list[Block] = Field(min_length=1, max_length=MAX_BLOCKS)

    @field_validator("name")
    @classmethod
    def _name_fits_tensorflow(cls, value: str) -> str:
        if NAME_PATTERN.fullmatch(value) is None:
            raise ValueError(
                "use only letters, digits, '_', '.' and '-', starting with a letter or digit "
                "(the name prefixes the network's weights in TensorFlow)"
            )
        return value

    @model_validator(mode="after")
    def _blocks_in_a_buildable_order(self) -> ArchSpec:
        flattened_by: int | None = None
        for index, block in enumerate(self.blocks):
            if block.type in SPATIAL_BLOCKS and flattened_by is not None:
                previous = self.blocks[flattened_by].type
                raise ValueError(
                    f"blocks[{index}] ({block.type}) needs an image-shaped tensor, but "
                    f"blocks[{flattened_by}] ({previous}) has already made it a vector"
                )
            if block.type in FLATTENING_BLOCKS and flattened_by is None:
                flattened_by = index
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """A plain JSON-serialisable dict of the spec, every field written out.

        Returns:
            A dict that :meth:`from_json_dict` turns back into an equal spec.
        """
        return self.model_dump(mode="json")

    @classmethod
    def from_json_dict(cls, data: Any) -> ArchSpec:
        """Validate a dict (parsed JSON) into a spec.

        Args:
            data: A dict as written by :meth:`to_json_dict` or typed by a user.

        Returns:
            The validated spec.

        Raises:
            InvalidInput: If the dict is not a valid spec; ``field`` is the path of the
                first offending value (``"arch.blocks.2.filters"``).
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()

            def path(error: Any) -> str:
                # Pydantic puts the block's tag in the location ("blocks.0.conv.filters");
                # the index alone names the block.
                loc = error["loc"]
                parts = [
                    part
                    for i, part in enumerate(loc)
                    if not (i > 0 and isinstance(loc[i - 1], int) and part in BLOCK_TYPES)
                ]
                return ".".join(str(part) for part in ("arch", *parts))

            reason = errors[0]["msg"]
            if len(errors) > 1:
                reason += "; also invalid: " + ", ".join(path(e) for e in errors[1:])
            raise InvalidInput(path(errors[0]), reason) from None
