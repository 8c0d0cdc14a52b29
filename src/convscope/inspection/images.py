"""The images a lens looks at, as the run's model takes them: probe images and drawings.

No Keras here: the web server turns a request's image into model input with NumPy, and
sends the worker the array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from convscope.errors import InvalidInput

#: The model takes raw 0..255 pixel values (convscope's models rescale inside).
RAW_PIXELS = 1.0


def probe_model_inputs(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The probe images as the model takes them, float32 NHWC.

    A run recorded from float inputs (a notebook model fed 0..1 values) keeps them as
    ``inputs``; otherwise the model takes the uint8 pixels of ``images``.
    """
    source = arrays["inputs"] if "inputs" in arrays else arrays["images"]
    return np.asarray(source, dtype=np.float32)


def pixel_scale(arrays: Mapping[str, np.ndarray]) -> float:
    """The factor from 0..255 pixels to the model's input values.

    1.0 for models that take raw pixels; 1/255 for a model fed 0..1 values; other input
    ranges (standardised values) cannot be reached from pixels, and also map to 1/255 of
    the recorded range.
    """
    if "inputs" not in arrays:
        return RAW_PIXELS
    inputs = np.asarray(arrays["inputs"], dtype=np.float32)
    high = float(inputs.max()) if inputs.size else 1.0
    return (high if high > 0 else 1.0) / 255.0


def pixels_to_images(
    pixels: Any, image_shape: tuple[int, int, int], scale: float = RAW_PIXELS
) -> np.ndarray:
    """A drawn image, as nested lists of 0..255 values, as a batch of one model input.

    Args:
        pixels: ``H x W`` values for a one-channel model, or ``H x W x C``.
        image_shape: The model's ``(H, W, C)``.
        scale: Factor from pixel values to model inputs (:func:`pixel_scale`).

    Returns:
        float32 ``(1, H, W, C)``.

    Raises:
        InvalidInput: Wrong shape, non-numeric, NaN/infinite or out-of-range values
            (``field`` is ``"image.pixels"``).
    """
    field = "image.pixels"
    height, width, channels = image_shape
    try:
        array = np.asarray(pixels, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(field, "expected rows of numbers (a rectangular array)") from None
    if array.ndim == 2 and channels == 1:
        array = array[..., None]
    if array.shape != (height, width, channels):
        wanted = f"{height} x {width}" + ("" if channels == 1 else f" x {channels}")
        got = " x ".join(str(side) for side in array.shape)
        raise InvalidInput(field, f"expected {wanted} values, got {got or 'a single value'}")
    if not np.all(np.isfinite(array)):
        raise InvalidInput(field, "values must be finite numbers (no NaN or infinity)")
    if array.min() < 0 or array.max() > 255:
        raise InvalidInput(field, "pixel values must lie in 0..255")
    return (array * scale).astype(np.float32)[None]
