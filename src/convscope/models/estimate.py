"""How large a network is, counted before anything is built: parameters and activations.

Building a Keras model allocates every weight at once, so a request for eight 11x11
convolutions of 1,024 filters would take tens of gigabytes before any error could be
raised. This module counts, with plain arithmetic and without Keras, the parameters of an
:class:`ArchSpec` (exactly as :mod:`convscope.models.build` builds it) and the activations
of one image; :func:`check_size` refuses what goes past the limits of
:class:`convscope.config.Settings`. A ``.keras`` file's config is counted the same way by
:mod:`convscope.models.estimate_keras`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convscope.config import Settings
from convscope.errors import InvalidInput, LimitExceeded
from convscope.models.spec import (
    ArchSpec,
    BatchNormBlock,
    ConvBlock,
    DenseBlock,
    DropoutBlock,
    FlattenBlock,
    GlobalPoolBlock,
    PoolBlock,
    ResidualBlock,
)

#: Bytes of one float32 activation.
FLOAT_BYTES = 4


@dataclass(frozen=True)
class SizeEstimate:
    """The size of a network.

    Attributes:
        params: Weights, trainable or not (what ``model.count_params()`` says).
        activations: Values output by all layers together for one image.
    """

    params: int
    activations: int

    def activation_bytes(self, batch_size: int) -> int:
        """Memory of the float32 activations of one batch of ``batch_size`` images."""
        return self.activations * FLOAT_BYTES * batch_size


def conv_output_side(side: int, kernel: int, stride: int, padding: str, where: str) -> int:
    """Height or width after a convolution, as Keras computes it.

    Raises:
        InvalidInput: A ``valid`` kernel larger than the tensor (``field`` is ``where``).
    """
    if padding == "valid":
        if kernel > side:
            raise InvalidInput(
                where,
                f"a {kernel}x{kernel} kernel with padding 'valid' needs at least "
                f"{kernel}x{kernel} pixels, but the tensor is {side} pixels wide here "
                "(use padding 'same')",
            )
        return (side - kernel) // stride + 1
    return -(-side // stride)


def pool_window(size: int, height: int, width: int) -> tuple[int, int] | None:
    """The pooling window the builder uses, or None when it leaves the layer out.

    The window shrinks to the tensor so that small inputs (8x8 digits) still build; a
    window shrunk to one pixel would do nothing, so the layer is left out.
    """
    window = (min(size, height), min(size, width))
    if window == (1, 1) and size > 1:
        return None
    return window


class LayerCounter:
    """Adds up parameters and activations layer by layer."""

    def __init__(self) -> None:
        self.params = 0
        self.activations = 0

    def layer(self, output: Sequence[int], params: int = 0) -> None:
        self.params += params
        self.activations += math.prod(output)

    def result(self) -> SizeEstimate:
        return SizeEstimate(self.params, self.activations)


def estimate_spec(
    spec: ArchSpec,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    dropout: float | None = None,
) -> SizeEstimate:
    """Count the parameters and activations of the model ``build_model`` makes of ``spec``.

    Args:
        spec: The architecture.
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: Number of classes.
        dropout: The run's dropout override (adds a layer before the logits when the spec
            has no dropout block).

    Returns:
        The exact parameter count and the activations of one image.

    Raises:
        InvalidInput: A block cannot fit the input (a ``valid`` kernel too large).
    """
    height, width, channels = (int(side) for side in input_shape)
    count = LayerCounter()
    shape: list[int] = [height, width, channels]
    count.layer(shape)  # rescale
    for index, block in enumerate(spec.blocks):
        where = f"arch.blocks.{index}"
        if isinstance(block, ConvBlock):
            h = conv_output_side(shape[0], block.kernel_size, block.strides, block.padding, where)
            w = conv_output_side(shape[1], block.kernel_size, block.strides, block.padding, where)
            kernel = block.kernel_size**2 * shape[2] * block.filters
            shape = [h, w, block.filters]
            count.layer(shape, kernel + block.filters)
        elif isinstance(block, PoolBlock):
            window = pool_window(block.size, shape[0], shape[1])
            if window is not None:
                shape = [shape[0] // window[0], shape[1] // window[1], shape[2]]
                count.layer(shape)
        elif isinstance(block, DenseBlock):
            shape = _flatten(shape, count)
            count.layer([block.units], shape[0] * block.units + block.units)
            shape = [block.units]
        elif isinstance(block, DropoutBlock):
            count.layer(shape)
        elif isinstance(block, BatchNormBlock):
            count.layer(shape, 4 * shape[-1])
        elif isinstance(block, ResidualBlock):
            shape = _residual(shape, block, count)
        elif isinstance(block, GlobalPoolBlock):
            shape = [shape[2]]
            count.layer(shape)
        elif isinstance(block, FlattenBlock):
            shape = _flatten(shape, count)
    shape = _flatten(shape, count)
    if dropout and not any(isinstance(block, DropoutBlock) for block in spec.blocks):
        count.layer(shape)
    count.layer([num_classes], shape[0] * num_classes + num_classes)
    return count.result()


def _flatten(shape: list[int], count: LayerCounter) -> list[int]:
    if len(shape) == 3:
        shape = [math.prod(shape)]
        count.layer(shape)
    return shape


def _residual(shape: list[int], block: ResidualBlock, count: LayerCounter) -> list[int]:
    filters, kernel, stride = block.filters, block.kernel_size, block.strides
    out = [-(-shape[0] // stride), -(-shape[1] // stride), filters]
    count.layer(out, kernel * kernel * shape[2] * filters)  # conv_a, no bias
    count.layer(out, 4 * filters)  # bn_a
    count.layer(out)  # act_a
    count.layer(out, kernel * kernel * filters * filters)  # conv_b
    count.layer(out, 4 * filters)  # bn_b
    if stride != 1 or shape[2] != filters:
        count.layer(out, shape[2] * filters)  # proj
        count.layer(out, 4 * filters)  # proj_bn
    count.layer(out)  # add
    count.layer(out)  # out
    return out


def check_size(
    estimate: SizeEstimate,
    *,
    batch_size: int | None = None,
    settings: Settings | None = None,
    field: str = "arch",
) -> None:
    """Refuse a network larger than the limits.

    Args:
        estimate: What :func:`estimate_spec` or
            :func:`~convscope.models.estimate_keras.estimate_keras_config` counted.
        batch_size: Images per training batch; None skips the activation check.
        settings: Where the limits come from; default: the defaults of ``Settings``.
        field: The field named in the error.

    Raises:
        LimitExceeded: ``max_model_params`` or ``max_activation_bytes`` is exceeded.
    """
    limits: Any = settings if settings is not None else Settings
    if estimate.params > limits.max_model_params:
        raise LimitExceeded(
            field,
            f"the network has {estimate.params:,} parameters",
            limit="max_model_params",
            maximum=limits.max_model_params,
        )
    if batch_size is not None:
        needed = estimate.activation_bytes(batch_size)
        if needed > limits.max_activation_bytes:
            raise LimitExceeded(
                field,
                f"one batch of {batch_size} images needs {needed / 2**20:,.0f} MiB of "
                "activations (use fewer filters, more pooling, or a smaller batch_size)",
                limit="max_activation_bytes",
                maximum=limits.max_activation_bytes,
            )
