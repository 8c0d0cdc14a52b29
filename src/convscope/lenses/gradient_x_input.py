"""Gradient x input: each pixel's gradient times its value, summed over colour channels.

For a linear model the score is the sum of weight times pixel, so gradient times input is
exactly each pixel's share of the score. For a network it is the first-order (Taylor)
estimate of that share, signed: positive pixels push the score up, negative ones down.

References:
    Avanti Shrikumar, Peyton Greenside, Anna Shcherbina, Anshul Kundaje. "Not Just a Black
    Box: Learning Important Features Through Propagation Activation Differences". 2016.
    https://arxiv.org/abs/1605.01713
    Marco Ancona, Enea Ceolini, Cengiz Öztireli, Markus Gross. "Towards better
    understanding of gradient-based attribution methods for Deep Neural Networks". ICLR
    2018. https://arxiv.org/abs/1711.06104

Caveat: the input multiplies everything, so the map resembles the image even when the
gradient is meaningless (Adebayo et al. 2018): black pixels always get zero, whatever the
model does with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.lenses._attribution import AttributionLens, check_spatial
from convscope.lenses.base import LensInputs, LensParams, register_lens

if TYPE_CHECKING:
    import keras


@register_lens(
    "gradient_x_input",
    title="Gradient × input",
    kind="image_map",
    description=(
        "Each pixel's gradient times its value, summed over the colour channels: a signed "
        "estimate of the pixel's share of the class score (exact for a linear model). Red "
        "pushes the score up, blue pushes it down."
    ),
)
class GradientTimesInput(AttributionLens):
    """sum over channels of x * d logit[target] / dx."""

    Params = LensParams
    gradient_based = True
    references = (
        "Shrikumar, Greenside, Shcherbina, Kundaje. Not Just a Black Box: Learning Important "
        "Features Through Propagation Activation Differences. 2016. "
        "https://arxiv.org/abs/1605.01713",
        "Ancona, Ceolini, Öztireli, Gross. Towards better understanding of gradient-based "
        "attribution methods for Deep Neural Networks. ICLR 2018. "
        "https://arxiv.org/abs/1711.06104",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def attribute(
        self, model: keras.Model, inputs: LensInputs, params: LensParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        from convscope.models import gradients, inspect

        grads = gradients.input_gradients(
            inspect.logits_model(model), inputs.images, inputs.targets
        )
        return (grads * inputs.images).sum(axis=-1), {}
