"""The images a lens looks at, as the run's model takes them: probe images, drawings, uploads.

No Keras here: the web server turns a request's image into model input with NumPy, and
sends the worker the array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from convscope.errors import InvalidInput, NotFound

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


def run_pixel_scale(config: Mapping[str, Any], probe: Mapping[str, np.ndarray]) -> float:
    """The factor from 0..255 pixels to a run's model inputs.

    From the probe set when the run has one (:func:`pixel_scale`); for an imported model,
    the ``pixel_scale`` its config declares; else raw pixels.
    """
    if probe:
        return pixel_scale(probe)
    value = config.get("pixel_scale")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return RAW_PIXELS


def input_shape_of(
    config: Mapping[str, Any], probe: Mapping[str, np.ndarray]
) -> tuple[int, int, int]:
    """A run's ``(height, width, channels)``: its probe images', or its config's ``input_shape``.

    Raises:
        NotFound: The run records neither (a run that has not started).
    """
    if "images" in probe:
        _, height, width, channels = probe["images"].shape
        return int(height), int(width), int(channels)
    shape = config.get("input_shape")
    if isinstance(shape, list) and len(shape) == 3 and all(isinstance(s, int) for s in shape):
        return int(shape[0]), int(shape[1]), int(shape[2])
    raise NotFound("the run records neither a probe set nor an input shape yet")


def upload_to_images(
    data: bytes, image_shape: tuple[int, int, int], scale: float, max_pixels: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """An uploaded PNG or JPEG as a batch of one model input, and how it was converted.

    The image is decoded (see :func:`convscope.untrusted.open_image`), turned grey
    for a one-channel model, resized (stretched) to the model's height and width, and
    scaled from 0..255 to the model's input values.

    Args:
        data: The file's bytes.
        image_shape: The model's ``(H, W, C)``; C must be 1 or 3.
        scale: Factor from pixel values to model inputs (:func:`pixel_scale`).
        max_pixels: Largest image accepted.

    Returns:
        float32 ``(1, H, W, C)``, and the conversion: ``{"from": [h, w], "to": [H, W, C],
        "grey": whether colour was dropped, "scale": scale, "steps": [sentences]}``.

    Raises:
        InvalidInput: The model does not take grey or colour images; the file is refused.
    """
    from PIL import Image

    from convscope.untrusted import open_image

    field = "image.upload"
    height, width, channels = image_shape
    if channels not in (1, 3):
        raise InvalidInput(
            field, f"the model takes {channels}-channel images; an upload is grey or colour"
        )
    picture = open_image(data, max_pixels=max_pixels, field=field)
    original_width, original_height = picture.size
    colour = np.asarray(picture)
    had_colour = bool(np.any(colour != colour[..., :1]))
    steps = []
    if channels == 1:
        picture = picture.convert("L")
        if had_colour:
            steps.append("colour turned to grey")
    if picture.size != (width, height):
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
        stretched = original_width * height != original_height * width
        steps.append(
            f"resized from {original_width}x{original_height} to {width}x{height}"
            + (" (stretched: the shape changed)" if stretched else "")
        )
    if scale != RAW_PIXELS:
        steps.append(f"pixel values 0..255 multiplied by {scale:.6g}")
    pixels = np.asarray(picture, dtype=np.float32).reshape(height, width, channels)
    conversion = {
        "from": [original_height, original_width],
        "to": [height, width, channels],
        "grey": channels == 1 and had_colour,
        "scale": scale,
        "steps": steps or ["used as it is"],
    }
    return (pixels * scale)[None], conversion
