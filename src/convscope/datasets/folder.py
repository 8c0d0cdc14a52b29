"""A user's own images: a directory with one sub-folder per class, or a zip of one.

Files are read through :mod:`convscope.untrusted`: images are decoded by Pillow
restricted to PNG and JPEG and refused above a pixel limit before any pixel is decoded
(decompression bombs); a zip is read in memory, never extracted, and refused whole if any
entry escapes it, is a link, is encrypted or damaged, or if it is too large. A file that
cannot be used is listed in ``Dataset.skipped`` with the reason; it never stops the load.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

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
from convscope.errors import InvalidInput, PayloadTooLarge
from convscope.untrusted import SafeZip, decode_image, open_zip

#: The train/test split and the order of images are fixed: the same folder always gives
#: the same dataset.
SPLIT_SEED = 0
_IGNORED = ("__MACOSX", "Thumbs.db", "desktop.ini")
_NEEDS_PATH = (
    "needs a path: a directory with one sub-folder of PNG or JPEG images per class, "
    "or a .zip of one"
)


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
            if len(files) > config.Settings.max_archive_entries:
                raise PayloadTooLarge(
                    "path",
                    "the folder has too many files",
                    limit="max_archive_entries",
                    maximum=config.Settings.max_archive_entries,
                )
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


def _open_source(path: Path) -> tuple[list[str], list[tuple[str, str]], SafeZip | None]:
    """The file names, the skipped links, and the checked zip (None for a directory)."""
    if path.is_dir():
        files, skipped = _directory_members(path)
        return files, skipped, None
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise InvalidInput("path", f"{path} is neither a directory nor a zip file")
    archive = open_zip(path, field="path")
    return archive.names(), [], archive


def _file_reader(root: Path, archive: SafeZip | None) -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        if archive is not None:
            return archive.read(name)
        size = (root / name).stat().st_size
        limit = config.Settings.max_image_bytes
        if size > limit:
            raise PayloadTooLarge(name, f"{size} bytes", limit="max_image_bytes", maximum=limit)
        return (root / name).read_bytes()

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
        Option(
            "path",
            str,
            None,
            "A directory with one sub-folder per class, or a zip of one.",
            is_path=True,
        ),
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
            images: list[np.ndarray] = []
            classes: list[str] = []
            image_bytes = size * size * (1 if grayscale else 3)
            max_images = config.Settings.max_dataset_bytes // image_bytes
            for name, class_name in members:
                if len(images) >= max_images:
                    raise PayloadTooLarge(
                        "path",
                        f"{path} holds more than {max_images} usable images of "
                        f"{size}x{size} pixels",
                        limit="max_dataset_bytes",
                        maximum=config.Settings.max_dataset_bytes,
                    )
                try:
                    images.append(decode_image(read(name), size, grayscale, max_pixels=max_pixels))
                    classes.append(class_name)
                except InvalidInput as error:
                    skipped.append((name, error.reason))
                except OSError as error:
                    skipped.append((name, f"cannot be read ({error.strerror or error})"))
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
