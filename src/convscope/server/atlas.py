"""The probe set's sprite atlas: every probe image tiled into one PNG.

The browser downloads the images once, as one file, and draws tiles out of it on a
canvas; every later snapshot only carries numbers.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

ATLAS_FILE = "atlas.png"


@dataclass(frozen=True)
class AtlasLayout:
    """How the tiles are laid out: ``columns`` tiles a row, row-major."""

    count: int
    tile_width: int
    tile_height: int
    channels: int
    columns: int

    @property
    def rows(self) -> int:
        """Number of tile rows (at least one, so an empty atlas is still a valid PNG)."""
        return max(1, math.ceil(self.count / self.columns))


def atlas_layout(images: np.ndarray) -> AtlasLayout:
    """The layout of an atlas of ``images`` (uint8 NHWC): ``ceil(sqrt(n))`` columns."""
    if images.ndim != 4:
        raise ValueError(f"images must be NHWC, got shape {images.shape}")
    count, height, width, channels = images.shape
    columns = max(1, math.ceil(math.sqrt(count)))
    return AtlasLayout(count, int(width), int(height), int(channels), columns)


def build_atlas(images: np.ndarray) -> tuple[bytes, AtlasLayout]:
    """Tile ``images`` into one PNG: 8-bit grayscale for 1 channel, RGB for 3.

    Browsers draw both the same way; grayscale keeps the file a third of the size.
    Empty cells at the end stay black.

    Args:
        images: ``uint8 [n, height, width, channels]`` with 1 or 3 channels.

    Returns:
        The PNG bytes and the layout.
    """
    layout = atlas_layout(images)
    if layout.channels not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {layout.channels}")
    pixels = np.asarray(images, dtype=np.uint8)
    channels = layout.channels
    # Pad to a full grid, then fold (n, h, w, c) into (rows*h, columns*w, c) in one move.
    padded = np.zeros((layout.rows * layout.columns, *pixels.shape[1:]), dtype=np.uint8)
    padded[: layout.count] = pixels
    grid = padded.reshape(
        layout.rows, layout.columns, layout.tile_height, layout.tile_width, channels
    )
    canvas = grid.transpose(0, 2, 1, 3, 4).reshape(
        layout.rows * layout.tile_height, layout.columns * layout.tile_width, channels
    )
    if channels == 1:
        canvas = canvas[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(canvas)).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue(), layout
