"""Grad-CAM: where, in a convolutional layer's map, the evidence for the class lies.

Each channel of a convolutional layer's output is weighted by the mean gradient of the
class score over that channel (how much the class wants more of it); the weighted sum of
the channels, through a ReLU (only evidence *for* the class), is a coarse map at that
layer's resolution, upsampled bilinearly to the image.

References:
    Ramprasaath R. Selvaraju, Michael Cogswell, Abhishek Das, Ramakrishna Vedantam, Devi
    Parikh, Dhruv Batra. "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization". ICCV 2017. https://arxiv.org/abs/1610.02391

Caveat: the map is only as fine as the layer (a 7x7 map upsampled to 28x28 is blurry), and
it shows where the layer's useful features are, not which pixels inside them matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses._attribution import AttributionLens, check_spatial
from convscope.lenses._maps import resize_bilinear
from convscope.lenses.base import LensInputs, LensParams, register_lens

if TYPE_CHECKING:
    import keras


class GradCamParams(LensParams):
    """Which layer's map is weighted."""

    layer: str | None = Field(
        default=None,
        max_length=256,
        description="A layer with a spatial output (default: the last convolutional layer).",
    )


@register_lens(
    "grad_cam",
    title="Grad-CAM",
    kind="image_map",
    description=(
        "Where the evidence for the class lies at a convolutional layer (the last one by "
        "default): its channels weighted by the class score's mean gradient, summed, kept "
        "where positive, and upsampled to the image. Coarse, but tied to the class."
    ),
)
class GradCam(AttributionLens):
    """ReLU(sum_k mean(d logit / dA_k) A_k), upsampled bilinearly (Selvaraju et al. 2017)."""

    Params = GradCamParams
    gradient_based = True
    references = (
        "Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. Grad-CAM: Visual Explanations from "
        "Deep Networks via Gradient-based Localization. ICCV 2017. "
        "https://arxiv.org/abs/1610.02391",
    )

    def check_model(self, model: keras.Model) -> None:
        from convscope.models import inspect

        check_spatial(model)
        inspect.last_convolution(model)  # refuses a model without convolution

    def attribute(
        self, model: keras.Model, inputs: LensInputs, params: GradCamParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        from convscope.models import gradients, inspect

        logits_model = inspect.logits_model(model)
        layer = self._layer(logits_model, params.layer)
        activations, grads = gradients.layer_gradients(
            logits_model, inputs.images, layer, inputs.targets
        )
        weights = grads.mean(axis=(1, 2), dtype=np.float64)
        cam = np.maximum(np.einsum("nhwc,nc->nhw", activations, weights), 0.0)
        height, width = inputs.images.shape[1:3]
        return resize_bilinear(cam, height, width), {
            "layer": layer,
            "layer_size": list(activations.shape[1:3]),
        }

    @staticmethod
    def _layer(model: keras.Model, name: str | None) -> str:
        from convscope.models import inspect

        if name is None:
            return str(inspect.last_convolution(model).name)
        spatial = [layer.name for layer in inspect.spatial_layers(model)]
        inspect.find_layer(model, name)
        if name not in spatial:
            raise InvalidInput(
                "layer", f"{name!r} has no spatial map (height x width x channels)", spatial
            )
        return name
