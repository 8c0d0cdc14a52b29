"""Numeric arrays as compact JSON: little-endian bytes in base64, with dtype and shape."""

from __future__ import annotations

import base64
import math
from typing import Any, Literal

import numpy as np

WireDtype = Literal["float32", "int32", "uint8", "uint16"]


def encode_array(values: Any, dtype: WireDtype) -> dict[str, Any]:
    """Encode ``values`` as ``{"dtype", "shape", "data"}`` for the browser.

    Args:
        values: Anything :func:`numpy.asarray` accepts.
        dtype: The wire dtype; the browser decodes with the matching typed array.

    Returns:
        The JSON-ready dict.
    """
    array = np.ascontiguousarray(np.asarray(values).astype(np.dtype(dtype).newbyteorder("<")))
    return {
        "dtype": dtype,
        "shape": [int(size) for size in array.shape],
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def decode_array(payload: dict[str, Any]) -> np.ndarray:
    """The inverse of :func:`encode_array` (used by tests and scripts)."""
    raw = base64.b64decode(payload["data"])
    array = np.frombuffer(raw, dtype=np.dtype(payload["dtype"]).newbyteorder("<"))
    return array.reshape(payload["shape"])


def finite_or_none(value: Any) -> float | None:
    """A float for JSON, or ``None`` where the value is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` (JSON has neither), recursively
    through dicts, lists and tuples; NumPy scalars become Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
