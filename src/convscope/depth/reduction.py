"""The rule that reduces a layer's output to at most ``max_features`` numbers per image.

Plain Python and NumPy (no Keras), so that the web server can describe the rule; the
pooling itself runs inside the Keras graph (:mod:`convscope.depth.features`). The rule is
documented there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convscope.errors import InvalidInput

#: The largest number of features per image and layer.
MAX_FEATURES = 2048
#: The name of the raw pixels' row, before every layer.
INPUT = "input"

RULE = (
    "adaptive average pooling to at most {max_features} features per image: an image-shaped "
    "map (H, W, C) is averaged over the largest grid (h, w), aspect ratio kept, with "
    "h * w * C <= {max_features}, then flattened (row, column, channel); a longer vector is "
    "averaged in {max_features} consecutive bins"
)


def pooling_matrix(length: int, bins: int) -> np.ndarray:
    """The ``(bins, length)`` matrix of adaptive average pooling along one axis.

    Args:
        length: Size of the axis.
        bins: Output size, 1 to ``length``.

    Returns:
        float32 matrix whose row ``i`` averages inputs ``floor(i * length / bins)`` to
        ``ceil((i + 1) * length / bins) - 1``.
    """
    matrix = np.zeros((bins, length), dtype=np.float32)
    for i in range(bins):
        start = (i * length) // bins
        stop = -((-(i + 1) * length) // bins)
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


@dataclass(frozen=True)
class Reduction:
    """How one layer's output becomes at most ``max_features`` features.

    Attributes:
        shape: The output's shape for one image.
        grid: The pooled ``(h, w)`` of an image-shaped output, or None.
        bins: The length a (flattened) vector is pooled to, or None when it is kept.
    """

    shape: tuple[int, ...]
    grid: tuple[int, int] | None
    bins: int | None

    @property
    def features(self) -> int:
        """The number of features per image."""
        if self.bins is not None:
            return self.bins
        if self.grid is not None:
            return self.grid[0] * self.grid[1] * self.shape[-1]
        return int(np.prod(self.shape))

    def to_json(self) -> dict[str, Any]:
        """A plain description for a result's ``meta``."""
        return {
            "shape": list(self.shape),
            "grid": list(self.grid) if self.grid is not None else None,
            "bins": self.bins,
            "features": self.features,
        }


def reduction_for(shape: Sequence[int | None], max_features: int = MAX_FEATURES) -> Reduction:
    """The reduction of an output of ``shape`` (one image, no batch axis).

    Raises:
        InvalidInput: The shape is not fully known (``field`` is ``"model"``).
    """
    if any(size is None for size in shape):
        raise InvalidInput("model", f"a layer's output shape {tuple(shape)} is not fully known")
    sizes = tuple(int(size) for size in shape)  # type: ignore[arg-type]
    if len(sizes) == 3:
        height, width, channels = sizes
        if height * width * channels <= max_features:
            return Reduction(sizes, None, None)
        grid = (1, 1)
        for rows in range(height, 0, -1):
            columns = max(1, min(width, round(rows * width / height)))
            if rows * columns * channels <= max_features:
                grid = (rows, columns)
                break
        bins = max_features if channels > max_features else None
        return Reduction(sizes, grid, bins)
    length = int(np.prod(sizes))
    return Reduction(sizes, None, max_features if length > max_features else None)
