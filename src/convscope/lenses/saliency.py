"""Saliency: how much each pixel's small change would move the class score.

The gradient of the target class's logit with respect to the input pixels says, for each
pixel, how fast the score changes when that pixel changes a little. Its absolute value,
maximised over the colour channels, is the saliency map: bright where the score is
sensitive.

References:
    Karen Simonyan, Andrea Vedaldi, Andrew Zisserman. "Deep Inside Convolutional Networks:
    Visualising Image Classification Models and Saliency Maps". ICLR workshop 2014.
    https://arxiv.org/abs/1312.6034

Caveat: sensitivity is not importance. The gradient is local (a ReLU network's gradient is
piecewise constant, so maps look noisy), and saturated units give zero gradient to pixels
that matter (see integrated gradients).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.lenses._attribution import AttributionLens, check_spatial
from convscope.lenses.base import LensInputs, LensParams, register_lens

if TYPE_CHECKING:
    import keras


@register_lens(
    "saliency",
    title="Saliency",
    kind="image_map",
    description=(
        "How sensitive the class score is to each pixel: the size of the score's gradient, "
        "largest over the colour channels. Bright pixels would change the score most if "
        "nudged; it shows sensitivity, not evidence."
    ),
)
class Saliency(AttributionLens):
    """max over channels of |d logit[target] / d pixel| (Simonyan et al. 2014)."""

    Params = LensParams
    gradient_based = True
    references = (
        "Simonyan, Vedaldi, Zisserman. Deep Inside Convolutional Networks: Visualising Image "
        "Classification Models and Saliency Maps. ICLR workshop 2014. "
        "https://arxiv.org/abs/1312.6034",
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
        return np.abs(grads).max(axis=-1), {}
