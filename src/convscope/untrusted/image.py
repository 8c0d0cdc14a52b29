"""Images from users: PNG or JPEG only, decoded by Pillow after a size and pixel check.

The image's header is read first; an image whose width times height exceeds the pixel
limit is refused before any pixel is decoded (a decompression bomb), as is a file of
another format (Pillow is told to try only the allowed decoders), an empty file, and a
truncated or damaged one (Pillow refuses truncated files unless told otherwise).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from convscope.config import Settings
from convscope.errors import InvalidInput, PayloadTooLarge, UnsupportedFormat

#: The formats decoded; Pillow tries no other decoder.
IMAGE_FORMATS = ("PNG", "JPEG")
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def _limit(value: int | None, name: str) -> int:
    return int(value if value is not None else getattr(Settings, name))


def open_image(
    data: bytes,
    *,
    grayscale: bool = False,
    max_pixels: int | None = None,
    max_bytes: int | None = None,
    field: str = "image",
) -> Image.Image:
    """Decode a PNG or JPEG from a user into an RGB (or grayscale) image.

    EXIF orientation is applied, and transparent pixels are laid over white, as a viewer
    shows them.

    Args:
        data: The file's bytes.
        grayscale: Return a one-channel (``"L"``) image instead of ``"RGB"``.
        max_pixels: Most pixels (width times height); default ``Settings.max_image_pixels``.
        max_bytes: Largest file; default ``Settings.max_image_bytes``.
        field: The name given to the file in error messages.

    Returns:
        The decoded image, fully loaded.

    Raises:
        UnsupportedFormat: Empty, or not a PNG or JPEG.
        InvalidInput: Truncated or damaged.
        PayloadTooLarge: Too many bytes or too many pixels.
    """
    mode = "L" if grayscale else "RGB"
    return _decode(data, mode, None, _limit(max_pixels, "max_image_pixels"), max_bytes, field)


def decode_image(
    data: bytes,
    size: int,
    grayscale: bool,
    *,
    max_pixels: int | None = None,
    max_bytes: int | None = None,
    field: str = "image",
) -> np.ndarray:
    """Decode a PNG or JPEG from a user and resize it to ``size`` x ``size``.

    Args:
        data: The file's bytes.
        size: Height and width of the result.
        grayscale: One channel instead of three.
        max_pixels: Most pixels of the file's image; default ``Settings.max_image_pixels``.
        max_bytes: Largest file; default ``Settings.max_image_bytes``.
        field: The name given to the file in error messages.

    Returns:
        uint8 array (size, size, 1 or 3).

    Raises:
        UnsupportedFormat: Empty, or not a PNG or JPEG.
        InvalidInput: Truncated or damaged.
        PayloadTooLarge: Too many bytes or too many pixels.
    """
    mode = "L" if grayscale else "RGB"
    picture = _decode(data, mode, size, _limit(max_pixels, "max_image_pixels"), max_bytes, field)
    pixels = np.asarray(picture, dtype=np.uint8)
    return pixels.reshape(size, size, 1 if grayscale else 3)


def _decode(
    data: bytes, mode: str, size: int | None, max_pixels: int, max_bytes: int | None, field: str
) -> Image.Image:
    limit_bytes = _limit(max_bytes, "max_image_bytes")
    if len(data) > limit_bytes:
        raise PayloadTooLarge(
            field, f"the file has {len(data)} bytes", limit="max_image_bytes", maximum=limit_bytes
        )
    if not data:
        raise UnsupportedFormat(field, "an empty file, not a PNG or JPEG image")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below twice its limit: make it refuse.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise PayloadTooLarge(
                        field,
                        f"the image has {width}x{height} pixels",
                        limit="max_image_pixels",
                        maximum=max_pixels,
                    )
                if size is not None:
                    # Lets JPEG decode at a reduced scale when the target is small.
                    image.draft(mode, (size, size))
                return _normalised(image, mode, size)
    except InvalidInput:
        raise
    except UnidentifiedImageError:
        if data.startswith(_SIGNATURES):
            raise InvalidInput(field, "a damaged PNG or JPEG file") from None
        raise UnsupportedFormat(field, "not a PNG or JPEG image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own, higher, limit caught it while reading the header.
        raise PayloadTooLarge(
            field,
            "the image has too many pixels (a decompression bomb?)",
            limit="max_image_pixels",
            maximum=max_pixels,
        ) from None
    except Exception as error:  # a corrupt file can raise almost anything inside Pillow
        reason = str(error)
        if "truncated" in reason.lower():
            raise InvalidInput(field, "a truncated PNG or JPEG file") from None
        raise InvalidInput(field, f"cannot be decoded ({type(error).__name__}: {reason})") from None


def _normalised(image: Any, mode: str, size: int | None) -> Image.Image:
    picture = ImageOps.exif_transpose(image) or image
    if picture.mode in ("P", "PA", "LA", "RGBA") or "transparency" in picture.info:
        # Transparent pixels over white, as a viewer would show them.
        rgba = picture.convert("RGBA")
        picture = Image.new("RGBA", rgba.size, "white")
        picture.alpha_composite(rgba)
    picture = picture.convert(mode)
    if size is not None:
        picture = picture.resize((size, size), Image.Resampling.BILINEAR)
    picture.load()
    return picture
