"""Activations: what every layer computes for an image.

A layer's activation is its output for one input: for a convolution, one feature map per
channel (where in the image that channel's pattern was found, and how strongly); for a
dense layer, one value per unit. Looking at them layer after layer shows an image being
turned, step by step, into the scores of the last layer: early maps still look like the
image (edges, strokes), deeper ones are coarser and more abstract, and the last ones are
about classes rather than pixels.

References:
    François Chollet. "Deep Learning with Python", section 5.4.1, "Visualizing
    intermediate activations". Manning, 2017.
    Matthew D. Zeiler, Rob Fergus. "Visualizing and Understanding Convolutional
    Networks". ECCV 2014. https://arxiv.org/abs/1311.2901

Caveat: an activation shows *what* a channel responds to in this image, not whether the
network relies on it for its decision (see the attribution and ablation lenses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, register_lens

if TYPE_CHECKING:
    import keras


class ActivationsParams(LensParams):
    """Which layers to return."""

    layers: list[str] | None = Field(
        default=None,
        max_length=256,
        description="Layer names to return, in any order; empty or null means every layer.",
    )


@register_lens(
    "activations",
    title="Activations",
    kind="activations",
    description=(
        "What every layer outputs for the image: one feature map per channel of a "
        "convolution (bright where its pattern was found), one value per unit of a dense "
        "layer, and the class probabilities at the end."
    ),
)
class Activations(Lens):
    """Every layer's output, equal to a Keras sub-model's output for that layer."""

    Params = ActivationsParams
    references = (
        "François Chollet. Deep Learning with Python, 5.4.1: Visualizing intermediate "
        "activations. Manning, 2017.",
        "Zeiler and Fergus. Visualizing and Understanding Convolutional Networks. ECCV 2014. "
        "https://arxiv.org/abs/1311.2901",
    )

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: ActivationsParams
    ) -> LensResult:
        from convscope.models import inspect

        all_layers = inspect.inspectable_layers(model)
        if params.layers:
            wanted = {
                inspect.find_layer(model, name, field="layers").name for name in params.layers
            }
            layers = [layer for layer in all_layers if layer.name in wanted]
        else:
            layers = all_layers
        names = [layer.name for layer in layers]
        *outputs, logits = inspect.forward(inspect.tap_model(model, names), inputs.images)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        return LensResult(
            arrays=dict(zip(names, outputs, strict=True)),
            meta={
                "layers": [
                    {
                        "name": layer.name,
                        "class_name": type(layer).__name__,
                        "shape": list(output.shape[1:]),
                    }
                    for layer, output in zip(layers, outputs, strict=True)
                ],
                "predicted": logits.argmax(axis=1).tolist(),
                "probabilities": probabilities.round(6).tolist(),
            },
        )
