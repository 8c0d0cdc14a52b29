"""Filters: the kernels a convolutional layer has learned, as they are.

A convolution slides small kernels over its input; each output channel has one kernel
per input channel, and its response at a position is the sum of the kernel's weights
times the pixels under it. The first layer's kernels work on the image itself, so they
can be seen as tiny images: edge and stroke detectors, or blobs of colour. Deeper kernels
work on the previous layer's channels, not on pixels, and are much harder to read.

References:
    Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton. "ImageNet Classification with
    Deep Convolutional Neural Networks". NeurIPS 2012 (figure 3, the first layer's
    kernels).
    François Chollet. "Deep Learning with Python", section 5.4.2, "Visualizing convnet
    filters". Manning, 2017.

Caveat: beyond the first layer a kernel's weights say little by themselves: its input
channels are features, not colours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, register_lens

if TYPE_CHECKING:
    import keras


class FiltersParams(LensParams):
    """Which convolution."""

    layer: str | None = Field(
        default=None,
        description="A convolutional layer; empty or null: the first convolution.",
    )


@register_lens(
    "filters",
    title="Filters",
    kind="feature_grid",
    description=(
        "The kernels a convolutional layer has learned, raw: one small grid of weights per "
        "output channel and input channel. The first layer's kernels are tiny images of the "
        "edges and blobs it detects."
    ),
)
class Filters(Lens):
    """A convolution's kernels, one per output channel, and its biases."""

    Params = FiltersParams
    scope = "model"
    references = (
        "Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional "
        "Neural Networks. NeurIPS 2012.",
        "François Chollet. Deep Learning with Python, 5.4.2: Visualizing convnet filters. "
        "Manning, 2017.",
    )

    def check_model(self, model: keras.Model) -> None:
        convolutions(model)

    def compute(self, model: keras.Model, inputs: LensInputs, params: FiltersParams) -> LensResult:
        from convscope.models.inspect import find_layer, is_convolution

        choices = [layer.name for layer in convolutions(model)]
        if params.layer is None:
            layer = convolutions(model)[0]
        else:
            layer = find_layer(model, params.layer)
            if not is_convolution(layer):
                raise InvalidInput(
                    "layer", f"{layer.name!r} is not a convolutional layer", choices=choices
                )
        kernels = kernels_by_output(layer)
        bias = getattr(layer, "bias", None)
        biases = np.zeros(len(kernels), np.float32)
        if bias is not None and tuple(bias.shape) == (len(kernels),):  # not a separable's
            biases = np.asarray(bias.numpy(), np.float32)
        return LensResult(
            arrays={"kernels": kernels, "bias": biases},
            meta={
                "layer": layer.name,
                "class_name": type(layer).__name__,
                "kernel_size": list(kernels.shape[1:3]),
                "input_channels": int(kernels.shape[3]),
                "output_channels": int(kernels.shape[0]),
                "layers": choices,
            },
        )


def convolutions(model: keras.Model) -> list[Any]:
    """The model's convolutional layers.

    Raises:
        InvalidInput: It has none (``field`` is ``"model"``).
    """
    from convscope.models.inspect import inspectable_layers, is_convolution

    found = [layer for layer in inspectable_layers(model) if is_convolution(layer)]
    if not found:
        raise InvalidInput("model", "the model has no convolutional layer")
    return found


def kernels_by_output(layer: Any) -> np.ndarray:
    """A convolution's kernels as ``(output channels, height, width, input channels)``.

    Keras keeps ``Conv2D`` kernels as ``(height, width, in, out)``, ``Conv2DTranspose`` as
    ``(height, width, out, in)``, and depthwise kernels as ``(height, width, in, multiplier)``
    (each output channel then reads one input channel: shown with one input channel).
    """
    import keras

    weights = layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel
    kernel = np.asarray(weights.numpy(), np.float32)
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return np.ascontiguousarray(kernel.transpose(2, 0, 1, 3))
    if hasattr(layer, "depthwise_kernel"):
        height, width, channels, multiplier = kernel.shape
        per_output = kernel.reshape(height, width, channels * multiplier)
        return np.ascontiguousarray(per_output.transpose(2, 0, 1)[..., None])
    return np.ascontiguousarray(kernel.transpose(3, 0, 1, 2))
