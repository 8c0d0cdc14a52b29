"""Build a functional ``keras.Model`` from an :class:`ArchSpec`, and describe any model.

Built models take raw pixel values (0..255, any float dtype), rescale them in a layer
named ``rescale``, and end in a linear layer named ``logits``: attribution methods work
on logits, and the loss is computed ``from_logits``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from convscope.errors import InvalidInput
from convscope.models.estimate import check_size, estimate_spec, pool_window
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

WEIGHT_INITS: dict[str, type[keras.initializers.Initializer]] = {
    "glorot_uniform": keras.initializers.GlorotUniform,
    "glorot_normal": keras.initializers.GlorotNormal,
    "he_normal": keras.initializers.HeNormal,
    "he_uniform": keras.initializers.HeUniform,
    "lecun_normal": keras.initializers.LecunNormal,
    "lecun_uniform": keras.initializers.LecunUniform,
}

MAX_IMAGE_SIDE = 1024
MAX_CHANNELS = 64
MAX_CLASSES = 100_000


class _Builder:
    """Adds layers one block at a time, naming them and seeding their initialisers."""

    def __init__(self, weight_init: str, dropout: float | None, seed: int | None) -> None:
        self._init_class = WEIGHT_INITS[weight_init]
        self._dropout = dropout
        # One generator hands every layer its own seed: a single shared seed would give
        # layers of the same shape identical weights.
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self._counts: dict[str, int] = {}

    def next_seed(self) -> int | None:
        return None if self._rng is None else int(self._rng.integers(0, 2**31 - 1))

    def initializer(self) -> keras.initializers.Initializer:
        return self._init_class(seed=self.next_seed())

    def number(self, kind: str) -> int:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return self._counts[kind]

    def conv(self, x: Any, block: ConvBlock) -> Any:
        return keras.layers.Conv2D(
            block.filters,
            block.kernel_size,
            strides=block.strides,
            padding=block.padding,
            activation=block.activation,
            kernel_initializer=self.initializer(),
            name=f"conv{self.number('conv')}",
        )(x)

    def pool(self, x: Any, block: PoolBlock) -> Any:
        window = pool_window(block.size, x.shape[1], x.shape[2])
        if window is None:
            return x
        layer_class = (
            keras.layers.MaxPooling2D if block.kind == "max" else keras.layers.AveragePooling2D
        )
        return layer_class(pool_size=window, name=f"pool{self.number('pool')}")(x)

    def dense(self, x: Any, block: DenseBlock) -> Any:
        x = self.flatten_if_image(x)
        return keras.layers.Dense(
            block.units,
            activation=block.activation,
            kernel_initializer=self.initializer(),
            name=f"dense{self.number('dense')}",
        )(x)

    def dropout(self, x: Any, block: DropoutBlock) -> Any:
        rate = block.rate if self._dropout is None else self._dropout
        name = f"dropout{self.number('dropout')}"
        return keras.layers.Dropout(rate, seed=self.next_seed(), name=name)(x)

    def batchnorm(self, x: Any) -> Any:
        return keras.layers.BatchNormalization(name=f"bn{self.number('bn')}")(x)

    def residual(self, x: Any, block: ResidualBlock) -> Any:
        prefix = f"res{self.number('res')}"

        def conv(filters: int, kernel: int, strides: int, name: str) -> keras.layers.Conv2D:
            # No bias: the batch normalisation that follows has its own offset.
            return keras.layers.Conv2D(
                filters,
                kernel,
                strides=strides,
                padding="same",
                use_bias=False,
                kernel_initializer=self.initializer(),
                name=f"{prefix}_{name}",
            )

        branch = conv(block.filters, block.kernel_size, block.strides, "conv_a")(x)
        branch = keras.layers.BatchNormalization(name=f"{prefix}_bn_a")(branch)
        branch = keras.layers.Activation(block.activation, name=f"{prefix}_act_a")(branch)
        branch = conv(block.filters, block.kernel_size, 1, "conv_b")(branch)
        branch = keras.layers.BatchNormalization(name=f"{prefix}_bn_b")(branch)
        shortcut = x
        if block.strides != 1 or x.shape[-1] != block.filters:
            shortcut = conv(block.filters, 1, block.strides, "proj")(x)
            shortcut = keras.layers.BatchNormalization(name=f"{prefix}_proj_bn")(shortcut)
        merged = keras.layers.Add(name=f"{prefix}_add")([branch, shortcut])
        return keras.layers.Activation(block.activation, name=f"{prefix}_out")(merged)

    def global_pool(self, x: Any, block: GlobalPoolBlock) -> Any:
        if block.kind == "avg":
            return keras.layers.GlobalAveragePooling2D(name="gap")(x)
        return keras.layers.GlobalMaxPooling2D(name="gmp")(x)

    def flatten_if_image(self, x: Any) -> Any:
        if len(x.shape) == 4:
            return keras.layers.Flatten(name="flatten")(x)
        return x


def _check_arguments(
    spec: Any,
    input_shape: Any,
    num_classes: Any,
    weight_init: Any,
    dropout: Any,
    seed: Any,
) -> tuple[int, int, int]:
    if not isinstance(spec, ArchSpec):
        raise InvalidInput("arch", f"expected an ArchSpec, got {type(spec).__name__}")
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else ()
    if len(shape) != 3 or not all(
        isinstance(side, int | np.integer) and not isinstance(side, bool) for side in shape
    ):
        raise InvalidInput("input_shape", f"expected (height, width, channels), got {input_shape}")
    height, width, channels = (int(side) for side in shape)
    if not (1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE):
        raise InvalidInput("input_shape", f"height and width must lie in 1..{MAX_IMAGE_SIDE}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidInput("input_shape", f"channels must lie in 1..{MAX_CHANNELS}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise InvalidInput("num_classes", f"expected an integer, got {num_classes!r}")
    if not 2 <= num_classes <= MAX_CLASSES:
        raise InvalidInput("num_classes", f"must lie in 2..{MAX_CLASSES}, got {num_classes}")
    if weight_init not in WEIGHT_INITS:
        raise InvalidInput(
            "weight_init", f"unknown initialiser {weight_init!r}", choices=list(WEIGHT_INITS)
        )
    if dropout is not None and (
        isinstance(dropout, bool)
        or not isinstance(dropout, int | float)
        or not math.isfinite(dropout)
        or not 0 <= dropout < 1
    ):
        raise InvalidInput("dropout", f"must lie in [0, 1), got {dropout!r}")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise InvalidInput("seed", f"must be a non-negative integer, got {seed!r}")
    return height, width, channels


def build_model(
    spec: ArchSpec,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    weight_init: str = "he_normal",
    dropout: float | None = None,
    seed: int | None = None,
) -> keras.Model:
    """Build the functional Keras model that a spec describes.

    Layers are named after their block and rank (``conv1``, ``pool2``, ``dense1``,
    ``dropout1``, ``bn1``, ``res1_conv_a``/``res1_add``/``res1_out``, ``gap``/``gmp``,
    ``flatten``), after an input named ``image`` and a ``rescale`` layer (x / 255).
    A ``flatten`` layer is added where a dense block or the logits meet an image-shaped
    tensor. The model ends in ``Dense(num_classes)`` named ``logits``, with no activation.

    Args:
        spec: The architecture.
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: Number of classes, at least 2.
        weight_init: Kernel initialiser of every convolution and dense layer.
        dropout: If given, replaces the rate of every dropout block; if it is above 0 and
            the spec has no dropout block, a ``dropout_logits`` layer is added before the
            logits.
        seed: Seed of the initialisers and dropout masks: the same seed gives the same
            initial weights. ``None`` draws fresh ones.

    Returns:
        An uncompiled ``keras.Model`` named after ``spec.name``.

    Raises:
        InvalidInput: If an argument is invalid or a block cannot fit the input
            (``field`` names the argument, or ``arch.blocks.N``).
        LimitExceeded: The network has more parameters than ``Settings.max_model_params``.
    """
    height, width, channels = _check_arguments(
        spec, input_shape, num_classes, weight_init, dropout, seed
    )
    # Counted first: Keras allocates every weight as it builds, whatever the size.
    check_size(estimate_spec(spec, (height, width, channels), int(num_classes), dropout=dropout))
    builder = _Builder(weight_init, dropout, seed)
    inputs = keras.Input(shape=(height, width, channels), dtype="float32", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for index, block in enumerate(spec.blocks):
        where = f"arch.blocks.{index}"
        if block.type in {"conv", "pool", "residual", "global_pool", "flatten"} and (
            len(x.shape) != 4
        ):
            raise InvalidInput(where, f"{block.type} needs an image-shaped tensor")
        if isinstance(block, ConvBlock):
            x = builder.conv(x, block)
        elif isinstance(block, PoolBlock):
            x = builder.pool(x, block)
        elif isinstance(block, DenseBlock):
            x = builder.dense(x, block)
        elif isinstance(block, DropoutBlock):
            x = builder.dropout(x, block)
        elif isinstance(block, BatchNormBlock):
            x = builder.batchnorm(x)
        elif isinstance(block, ResidualBlock):
            x = builder.residual(x, block)
        elif isinstance(block, GlobalPoolBlock):
            x = builder.global_pool(x, block)
        elif isinstance(block, FlattenBlock):
            x = builder.flatten_if_image(x)
        else:  # pragma: no cover - the Block union is exhaustive
            raise InvalidInput(where, f"unknown block type {block.type!r}")
    x = builder.flatten_if_image(x)
    if dropout and not any(isinstance(block, DropoutBlock) for block in spec.blocks):
        x = keras.layers.Dropout(dropout, seed=builder.next_seed(), name="dropout_logits")(x)
    logits = keras.layers.Dense(
        int(num_classes), activation=None, kernel_initializer=builder.initializer(), name="logits"
    )(x)
    return keras.Model(inputs, logits, name=spec.name)


def _output_layer(model: keras.Model) -> keras.layers.Layer:
    outputs = getattr(model, "outputs", None)
    if outputs:
        if len(outputs) != 1:
            raise InvalidInput("model", f"expected one output, the model has {len(outputs)}")
        history = getattr(outputs[0], "_keras_history", None)
        if history is not None:
            return history.operation
    if not model.layers:
        raise InvalidInput("model", "the model has no layers")
    return model.layers[-1]


def embedding_layer_name(model: keras.Model) -> str:
    """The name of the layer whose output feeds the model's final layer.

    For a convscope model this is the layer feeding ``logits``: its output is the
    embedding (penultimate representation) of an image. Works for any built Keras
    model, functional or Sequential, whoever built it.

    Args:
        model: A built Keras model with one output.

    Returns:
        The layer name; for a model whose final layer reads the input directly, the name
        of the input layer.

    Raises:
        InvalidInput: If the model is not built, has several outputs, or its final layer
            reads several tensors (``field`` is ``"model"``).
    """
    final = _output_layer(model)
    try:
        inbound = final.input
    except (AttributeError, ValueError) as exc:
        raise InvalidInput("model", f"the final layer {final.name!r} is not connected") from exc
    if isinstance(inbound, list | tuple | dict):
        raise InvalidInput(
            "model", f"the final layer {final.name!r} reads several tensors; no single embedding"
        )
    history = getattr(inbound, "_keras_history", None)
    if history is None:
        raise InvalidInput("model", f"cannot trace the input of {final.name!r}")
    return str(history.operation.name)


def _output_shape(layer: keras.layers.Layer) -> list[int | None] | None:
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None  # a layer that is not connected, or is shared between several calls
    if isinstance(output, list | tuple):
        return None
    return [None if side is None else int(side) for side in output.shape]


def model_summary(model: keras.Model) -> list[dict[str, Any]]:
    """Describe a model layer by layer, for user interfaces.

    Args:
        model: A built Keras model.

    Returns:
        One dict per layer, in the model's order, with ``name``, ``class_name``,
        ``output_shape`` (a list whose first item, the batch, is ``None``; ``None`` if
        the layer has several outputs) and ``param_count`` (trainable and not).
    """
    return [
        {
            "name": layer.name,
            "class_name": type(layer).__name__,
            "output_shape": _output_shape(layer),
            "param_count": int(sum(math.prod(weight.shape) for weight in layer.weights)),
        }
        for layer in model.layers
    ]
