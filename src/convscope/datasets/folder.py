"""A user's own images: a directory with one sub-folder per class, or a zip of one.

Images are decoded by Pillow restricted to PNG and JPEG, and refused above a pixel limit
before any pixel is decoded (decompression bombs). A zip is read in memory, never
extracted, and refused whole if any entry escapes it, is a link, or if it is too large.
A file that cannot be used is listed in ``Dataset.skipped`` with the reason; it never
stops the load.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from convscope import config
from convscope.datasets._sampling import stratified_indices
from convscope.datasets.base import (
    DataDir,
    Dataset,
    DatasetInfo,
    DatasetSource,
    Option,
    register_dataset,
)
from convscope.errors import InvalidInput, PayloadTooLarge, UnsupportedFormat

IMAGE_FORMATS = ("PNG", "JPEG")
MAX_ENTRIES = 100_000
MAX_TOTAL_BYTES = 1 << 30
MAX_FILE_BYTES = 64 << 20
#: The train/test split and the order of images are fixed: the same folder always gives
#: the same dataset.
SPLIT_SEED = 0
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
_IGNORED = ("__MACOSX", "Thumbs.db", "desktop.ini")
_NEEDS_PATH = (
    "needs a path: a directory with one sub-folder of PNG or JPEG images per class, "
    "or a .zip of one"
)


class _Unusable(Exception):
    """One file that cannot be used; its message becomes the reason in ``skipped``."""


def open_image(
    data: bytes,
    *,
    grayscale: bool = False,
    max_pixels: int | None = None,
    field: str = "image",
) -> Image.Image:
    """Decode a PNG or JPEG from a user into an RGB (or grayscale) image.

    The header is read first: an image with more pixels than ``max_pixels`` is refused
    before any pixel is decoded (decompression bombs). EXIF orientation is applied, and
    transparent pixels are laid over white, as a viewer shows them.

    Args:
        data: The file's bytes.
        grayscale: Return a one-channel (``"L"``) image instead of ``"RGB"``.
        max_pixels: Most pixels (width times height); default ``Settings.max_image_pixels``.
        field: The name given to the file in error messages.

    Returns:
        The decoded image, fully loaded.

    Raises:
        UnsupportedFormat: Empty, or not a PNG or JPEG.
        InvalidInput: Truncated or damaged.
        PayloadTooLarge: Too many pixels.
    """
    limit = max_pixels if max_pixels is not None else config.Settings.max_image_pixels
    mode = "L" if grayscale else "RGB"
    if not data:
        raise UnsupportedFormat(field, "the file is empty (0 bytes), not a PNG or JPEG image")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below twice its limit: make it refuse.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height > limit:
                    raise PayloadTooLarge(
                        field,
                        f"the image has {width}x{height} pixels",
                        limit="max_image_pixels",
                        maximum=limit,
                    )
                picture = ImageOps.exif_transpose(image) or image
                if picture.mode in ("P", "PA", "LA", "RGBA") or "transparency" in picture.info:
                    # Transparent pixels over white, as a viewer would show them.
                    rgba = picture.convert("RGBA")
                    picture = Image.new("RGBA", rgba.size, "white")
                    picture.alpha_composite(rgba)
                picture = picture.convert(mode)
                picture.load()
                return picture
    except InvalidInput:
        raise
    except UnidentifiedImageError:
        if data.startswith(_SIGNATURES):
            raise InvalidInput(field, "a damaged PNG or JPEG file") from None
        raise UnsupportedFormat(field, "not a PNG or JPEG image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PayloadTooLarge(
            field, f"too many pixels ({error})", limit="max_image_pixels", maximum=limit
        ) from None
    except Exception as error:  # a corrupt file can raise almost anything inside Pillow
        if "truncated" in str(error):
            raise InvalidInput(field, "a truncated PNG or JPEG file") from None
        raise InvalidInput(field, f"cannot be decoded ({type(error).__name__}: {error})") from None


def decode_image(data: bytes, size: int, grayscale: bool, max_pixels: int) -> np.ndarray:
    """Decode a PNG or JPEG and resize it to ``size`` x ``size``.

    Args:
        data: The file's bytes.
        size: Height and width of the result.
        grayscale: One channel instead of three.
        max_pixels: Images with more pixels are refused before decoding.

    Returns:
        uint8 array (size, size, 1 or 3).

    Raises:
        _Unusable: Not an allowed format, too large, or corrupt.
    """
    try:
        picture = open_image(data, grayscale=grayscale, max_pixels=max_pixels)
    except InvalidInput as error:
        raise _Unusable(error.reason) from None
    picture = picture.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.uint8).reshape(size, size, 1 if grayscale else 3)


def _unsafe_name(name: str) -> bool:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        return True
    return ".." in normal.split("/")


def zip_members(archive: zipfile.ZipFile, *, field: str = "path") -> list[str]:
    """The file names of a zip, after checking the whole archive is safe to read.

    Args:
        archive: The open zip.
        field: The name given to the zip in error messages.

    Raises:
        InvalidInput: Too many entries, too large, a path escaping the archive, a link, or
            an entry compressed suspiciously well (a zip bomb).
    """
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise InvalidInput(field, f"the zip has {len(infos)} entries; the limit is {MAX_ENTRIES}")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise InvalidInput(
            field, f"the zip holds {total} bytes uncompressed; the limit is {MAX_TOTAL_BYTES}"
        )
    ratio, floor = (
        config.Settings.max_compression_ratio,
        config.Settings.compression_ratio_floor_bytes,
    )
    for info in infos:
        if _unsafe_name(info.filename):
            raise InvalidInput(field, f"the zip entry {info.filename!r} points outside the zip")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidInput(field, f"the zip entry {info.filename!r} is a symbolic link")
        if info.file_size > floor and info.file_size > ratio * max(info.compress_size, 1):
            raise InvalidInput(
                field,
                f"the zip entry {info.filename!r} unpacks to {info.file_size} bytes from "
                f"{info.compress_size}: more than {ratio} times smaller (a zip bomb?)",
            )
    return [info.filename for info in infos if not info.is_dir()]


def _directory_members(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    files: list[str] = []
    skipped: list[tuple[str, str]] = []
    for current, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(current, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                skipped.append((relative, "symbolic links are not followed"))
            else:
                files.append(relative)
            if len(files) > MAX_ENTRIES:
                raise InvalidInput("path", f"the folder has over {MAX_ENTRIES} files")
    return files, skipped


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part in _IGNORED for part in parts)


def group_by_class(
    files: list[str],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Assign each file to the class named by its first folder.

    A single folder wrapping everything (``pets/cat/1.png``) is looked through; hidden files
    and system folders are ignored.

    Returns:
        ``(file, class name)`` pairs, and ``(file, reason)`` pairs of files outside any class.
    """
    # Original names are kept: they are the keys for reading zip entries.
    paths = [(name, PurePosixPath(name).parts) for name in files]
    paths = [(name, parts) for name, parts in paths if parts and not _hidden(parts)]
    tops = {parts[0] for _, parts in paths}
    strip = len(tops) == 1 and all(len(parts) >= 3 for _, parts in paths)
    members, outside = [], []
    for name, parts in paths:
        inner = parts[1:] if strip else parts
        if len(inner) < 2:
            outside.append((name, "not inside a class folder"))
        else:
            members.append((name, inner[0]))
    return members, outside


def _open_source(path: Path) -> tuple[list[str], list[tuple[str, str]], Any]:
    """The file names, the skipped links, and a reader for a directory or a zip."""
    if path.is_dir():
        files, skipped = _directory_members(path)
        return files, skipped, None
    if not path.is_file():
        raise InvalidInput("path", f"{path} is neither a directory nor a zip file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InvalidInput(
            "path", f"{path} is neither a directory nor a zip file ({error})"
        ) from None
    try:
        return zip_members(archive), [], archive
    except BaseException:
        archive.close()
        raise


def _file_reader(root: Path, archive: zipfile.ZipFile | None) -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        if archive is not None:
            size = archive.getinfo(name).file_size
        else:
            size = (root / name).stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Unusable(f"{size} bytes is more than the limit of {MAX_FILE_BYTES}")
        return archive.read(name) if archive is not None else (root / name).read_bytes()

    return read


def _class_folders(path: Path) -> list[str]:
    files, _, archive = _open_source(path)
    if archive is not None:
        archive.close()
    members, _ = group_by_class(files)
    return sorted({name for _, name in members})


@register_dataset(
    "folder",
    title="Your images",
    description="A folder with one sub-folder of PNG or JPEG images per class, or a zip of one.",
)
class Folder(DatasetSource):
    """Images from the user's own directory or zip."""

    options = (
        Option("path", str, None, "A directory with one sub-folder per class, or a zip of one."),
        Option("image_size", int, 32, "Images are resized to this height and width.", 8, 256),
        Option("test_fraction", float, 0.2, "Share of the images kept for testing.", 0.05, 0.9),
        Option("grayscale", bool, False, "Convert the images to one channel."),
    )

    def describe(self, data_dir: DataDir, options: Mapping[str, Any]) -> DatasetInfo:
        size, channels = options["image_size"], 1 if options["grayscale"] else 3
        fields: dict[str, Any] = {"image_shape": (size, size, channels)}
        if not options["path"]:  # "" would mean the current directory
            return self.info(reason=f"The folder dataset {_NEEDS_PATH}.", **fields)
        path = Path(options["path"]).expanduser()
        try:
            class_names = _class_folders(path)
        except InvalidInput as error:
            return self.info(reason=str(error), **fields)
        if len(class_names) < 2:
            return self.info(reason=f"{path} has fewer than two class folders.", **fields)
        return self.info(class_names=class_names, available=True, location=str(path), **fields)

    def load(self, data_dir: DataDir, options: Mapping[str, Any]) -> Dataset:
        if not options["path"]:  # "" would mean the current directory
            raise InvalidInput("path", f"the folder dataset {_NEEDS_PATH}")
        path = Path(options["path"]).expanduser()
        size, grayscale = options["image_size"], options["grayscale"]
        max_pixels = config.Settings.max_image_pixels
        files, skipped, archive = _open_source(path)
        try:
            members, outside = group_by_class(files)
            skipped.extend(outside)
            read = _file_reader(path, archive)
            images, classes = [], []
            for name, class_name in members:
                try:
                    images.append(decode_image(read(name), size, grayscale, max_pixels))
                    classes.append(class_name)
                except (_Unusable, OSError) as error:
                    skipped.append((name, str(error)))
        finally:
            if archive is not None:
                archive.close()
        # Classes are the folders that gave at least one usable image.
        class_names = tuple(sorted(set(classes)))
        if len(class_names) < 2:
            raise InvalidInput(
                "path",
                f"{path} has usable images in {len(class_names)} class folder(s); "
                f"it needs at least two ({_NEEDS_PATH})",
            )
        index = {name: i for i, name in enumerate(class_names)}
        x = np.stack(images)
        y = np.array([index[name] for name in classes], dtype=np.int64)
        return self._split(x, y, class_names, str(path), options["test_fraction"], skipped)

    def _split(
        self,
        x: np.ndarray,
        y: np.ndarray,
        class_names: tuple[str, ...],
        source: str,
        test_fraction: float,
        skipped: list[tuple[str, str]],
    ) -> Dataset:
        total = len(y)
        test_count = min(max(round(total * test_fraction), 1), total - 1)
        test = stratified_indices(
            y, test_count, SPLIT_SEED, field="test_fraction", population="the folder"
        )
        train = np.setdiff1d(np.arange(total), test)
        # Files are read class by class; shuffling keeps a class-sorted order from reaching
        # code that slices the data (Keras' validation_split takes the last images).
        rng = np.random.default_rng(SPLIT_SEED)
        train, test = rng.permutation(train), rng.permutation(test)
        return Dataset(
            name=self.name,
            x_train=x[train],
            y_train=y[train],
            x_test=x[test],
            y_test=y[test],
            class_names=class_names,
            source=source,
            skipped=tuple(skipped),
        )
