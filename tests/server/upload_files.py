"""Files for the upload tests, built by the tests themselves: good ones and hostile ones."""

from __future__ import annotations

import io
import json
import stat
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG of ``pixels`` (H x W grey, or H x W x 3 colour, uint8)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    """A JPEG of ``pixels``."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int) -> bytes:
    """A tiny PNG whose header claims ``side`` x ``side`` grey pixels: a decompression bomb.

    Its image data is one compressed row of zeros per row it claims; zlib stores a
    megapixel of zeros in about a kilobyte.
    """
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    data = b"".join(compressor.compress(row) for _ in range(min(side, 64)))
    data += compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def zip_bytes(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    """A zip of ``entries`` (deflated); names in ``links`` are stored as symbolic links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def class_folders_zip(size: int = 12, per_class: int = 6, wrapper: str = "") -> bytes:
    """A zip of two class folders, ``dark`` and ``light``, of small PNG images."""
    rng = np.random.default_rng(0)
    entries = {}
    for name, level in (("dark", 40), ("light", 210)):
        for index in range(per_class):
            noise = rng.integers(-20, 20, (size, size, 3))
            entries[f"{wrapper}{name}/{index}.png"] = png_bytes(np.clip(level + noise, 0, 255))
    return zip_bytes(entries)


def zip_bomb() -> bytes:
    """A zip of one entry of 8 MB of zeros, compressed about a thousand times."""
    return zip_bytes({"cats/a.png": b"\x00" * (8 << 20), "dogs/b.png": b"\x00" * 10})


def keras_bytes(config: dict, weights: bytes = b"") -> bytes:
    """A ``.keras`` archive whose ``config.json`` is ``config`` (written by hand)."""
    metadata = json.dumps({"keras_version": "3.0.0", "date_saved": "2025-01-01"}).encode()
    return zip_bytes(
        {
            "config.json": json.dumps(config).encode(),
            "metadata.json": metadata,
            "model.weights.h5": weights,
        }
    )


def config_with_layer(layer: dict) -> dict:
    """A Sequential model's config holding ``layer``."""
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": [None, 8, 8, 1], "name": "input"},
                },
                layer,
            ],
        },
        "registered_name": None,
    }


#: A model holding a Lambda layer: arbitrary Python code, refused before Keras sees it.
LAMBDA_CONFIG = config_with_layer(
    {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {}}},
    }
)
