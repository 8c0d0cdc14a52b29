"""Edge detector: a map that ignores the model, as a control for the attribution lenses.

The Sobel gradient magnitude of the image (its colour channels averaged): bright on edges
and texture. It looks like a plausible explanation, which is the point: any attribution
map that resembles it, and does not change when the model's weights are randomised, says
more about the image than about the model (Adebayo et al. 2018).

References:
    Julius Adebayo, Justin Gilmer, Michael Muelly, Ian Goodfellow, Moritz Hardt, Been Kim.
    "Sanity Checks for Saliency Maps". NeurIPS 2018. https://arxiv.org/abs/1810.03292
    Irwin Sobel, Gary Feldman. "A 3x3 Isotropic Gradient Operator for Image Processing".
    Stanford Artificial Intelligence Project, 1968.

Caveat: it is not an explanation; it is here to be compared with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.lenses._attribution import AttributionLens, check_spatial
from convscope.lenses.base import LensInputs, LensParams, register_lens

if TYPE_CHECKING:
    import keras

_SMOOTH = np.array([1.0, 2.0, 1.0])
_DIFFERENCE = np.array([-1.0, 0.0, 1.0])


def sobel_magnitude(images: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of ``(N, H, W, C)`` images (channels averaged), ``(N, H, W)``."""
    grey = images.astype(np.float64).mean(axis=-1)
    padded = np.pad(grey, ((0, 0), (1, 1), (1, 1)), mode="edge")
    height, width = grey.shape[1:]

    def window(dy: int, dx: int) -> np.ndarray:
        return padded[:, dy : dy + height, dx : dx + width]

    along_x = sum(
        _SMOOTH[dy] * _DIFFERENCE[dx] * window(dy, dx) for dy in range(3) for dx in range(3)
    )
    along_y = sum(
        _DIFFERENCE[dy] * _SMOOTH[dx] * window(dy, dx) for dy in range(3) for dx in range(3)
    )
    return np.hypot(along_x, along_y).astype(np.float32)


@register_lens(
    "edge_detector",
    title="Edge detector (control)",
    kind="image_map",
    description=(
        "The image's edges (Sobel filter), computed without the model at all: a control. "
        "An attribution map that looks like this one, and stays the same when the model's "
        "weights are randomised, explains the image rather than the model."
    ),
)
class EdgeDetector(AttributionLens):
    """Sobel gradient magnitude of the image; the model and the target are ignored."""

    Params = LensParams
    model_independent = True
    references = (
        "Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim. Sanity Checks for Saliency Maps. "
        "NeurIPS 2018. https://arxiv.org/abs/1810.03292",
        "Sobel and Feldman. A 3x3 Isotropic Gradient Operator for Image Processing. Stanford "
        "Artificial Intelligence Project, 1968.",
    )

    def check_model(self, model: keras.Model) -> None:
        check_spatial(model)

    def attribute(
        self, model: keras.Model, inputs: LensInputs, params: LensParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return sobel_magnitude(inputs.images), {}
