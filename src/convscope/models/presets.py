"""Named architectures, small enough to train in seconds on two CPU cores.

Every preset builds for inputs from 8x8 (scikit-learn digits) to 64x64, with one or
three channels: convolutions use ``same`` padding and the builder shrinks or skips a
pooling layer that would leave less than one pixel.
"""

from __future__ import annotations

from convscope.errors import InvalidInput
from convscope.models.spec import (
    ArchSpec,
    ConvBlock,
    DenseBlock,
    DropoutBlock,
    FlattenBlock,
    GlobalPoolBlock,
    PoolBlock,
    ResidualBlock,
)


def _mlp() -> ArchSpec:
    return ArchSpec(
        name="mlp",
        blocks=[FlattenBlock(), DenseBlock(units=128), DenseBlock(units=64)],
    )


def _lenet5() -> ArchSpec:
    # LeNet-5's shape and tanh units; ``same`` padding replaces the original 32x32 input,
    # so the second 5x5 convolution also fits 8x8 digits.
    return ArchSpec(
        name="lenet5",
        blocks=[
            ConvBlock(filters=6, kernel_size=5, activation="tanh"),
            PoolBlock(kind="avg"),
            ConvBlock(filters=16, kernel_size=5, activation="tanh"),
            PoolBlock(kind="avg"),
            FlattenBlock(),
            DenseBlock(units=120, activation="tanh"),
            DenseBlock(units=84, activation="tanh"),
        ],
    )


def _small_cnn() -> ArchSpec:
    # Dropout sits before the last dense layer, so the embedding (the layer feeding the
    # logits) is that dense layer rather than a dropout.
    return ArchSpec(
        name="small_cnn",
        blocks=[
            ConvBlock(filters=16),
            PoolBlock(),
            ConvBlock(filters=32),
            PoolBlock(),
            FlattenBlock(),
            DropoutBlock(rate=0.25),
            DenseBlock(units=64),
        ],
    )


def _vgg_mini() -> ArchSpec:
    return ArchSpec(
        name="vgg_mini",
        blocks=[
            ConvBlock(filters=16),
            ConvBlock(filters=16),
            PoolBlock(),
            ConvBlock(filters=32),
            ConvBlock(filters=32),
            PoolBlock(),
            FlattenBlock(),
            DropoutBlock(rate=0.25),
            DenseBlock(units=64),
        ],
    )


def _resnet_mini() -> ArchSpec:
    return ArchSpec(
        name="resnet_mini",
        blocks=[
            ConvBlock(filters=16),
            ResidualBlock(filters=16),
            ResidualBlock(filters=32, strides=2),
            GlobalPoolBlock(kind="avg"),
        ],
    )


_PRESETS = {
    "mlp": (_mlp, "Multilayer perceptron: flatten, dense 128, dense 64. No convolution."),
    "lenet5": (
        _lenet5,
        "LeNet-5 (LeCun et al., 1998): two 5x5 tanh convolutions with average pooling, "
        "dense 120 and 84.",
    ),
    "small_cnn": (
        _small_cnn,
        "Small convnet: conv 16, max-pool, conv 32, max-pool, dropout, dense 64.",
    ),
    "vgg_mini": (
        _vgg_mini,
        "VGG-style: two stages of two 3x3 convolutions and a max-pool (16, 32 filters), dense 64.",
    ),
    "resnet_mini": (
        _resnet_mini,
        "ResNet-style: conv 16, two residual blocks with skip connections (16, 32 filters, "
        "the second with stride 2), global average pooling.",
    ),
}


def preset_names() -> list[str]:
    """The preset names, simplest first.

    Returns:
        ``["mlp", "lenet5", "small_cnn", "vgg_mini", "resnet_mini"]``.
    """
    return list(_PRESETS)


def preset_descriptions() -> dict[str, str]:
    """A one-line description of each preset, for menus and tooltips.

    Returns:
        Preset name to description, in :func:`preset_names` order.
    """
    return {name: description for name, (_, description) in _PRESETS.items()}


def get_preset(name: str) -> ArchSpec:
    """The spec of a named preset.

    Args:
        name: One of :func:`preset_names`.

    Returns:
        A fresh :class:`ArchSpec` (callers may modify it freely).

    Raises:
        InvalidInput: If ``name`` is not a preset; ``field`` is ``"arch"``.
    """
    if name not in _PRESETS:
        raise InvalidInput("arch", f"unknown architecture {name!r}", choices=preset_names())
    factory, _ = _PRESETS[name]
    return factory()
