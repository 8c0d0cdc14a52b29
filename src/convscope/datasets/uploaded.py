"""Datasets that users uploaded to a store, registered beside the built-in ones.

An uploaded zip of class folders is decoded once, when it arrives (through the ``folder``
source's checks), and kept in the store as arrays (``<name>.npz``) with a manifest
(``<name>.json``: class names, counts, image shape). :func:`use_directory` registers every
dataset of a store's ``datasets`` folder under its name, so that run configs, the
playground and the training workers find it like any other dataset; a process serves one
store, and using another store's folder replaces the datasets registered before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from convscope.datasets.base import (
    DataDir,
    Dataset,
    DatasetInfo,
    DatasetSource,
    dataset_names,
    register_dataset,
    unregister_dataset,
)
from convscope.errors import DataUnavailable, InvalidInput

_REGISTERED: dict[str, Path] = {}


class UploadedDataset(DatasetSource):
    """One uploaded dataset; a subclass per dataset is registered by :func:`use_directory`."""

    manifest_path: ClassVar[Path]

    def _manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.manifest_path.read_text()))
        except (OSError, ValueError) as error:
            raise DataUnavailable(
                f"the uploaded dataset {self.name!r} is unreadable: {error}"
            ) from None

    def describe(self, data_dir: DataDir, options: Mapping[str, Any]) -> DatasetInfo:
        try:
            manifest = self._manifest()
        except DataUnavailable as error:
            return self.info(reason=str(error))
        return self.info(
            image_shape=tuple(manifest["image_shape"]),
            class_names=manifest["class_names"],
            available=True,
            location="uploaded",
            train_count=manifest["train_count"],
            test_count=manifest["test_count"],
        )

    def load(self, data_dir: DataDir, options: Mapping[str, Any]) -> Dataset:
        manifest = self._manifest()
        path = self.manifest_path.with_suffix(".npz")
        try:
            with np.load(path, allow_pickle=False) as arrays:
                parts = {key: arrays[key] for key in ("x_train", "y_train", "x_test", "y_test")}
        except (OSError, ValueError, KeyError) as error:
            raise DataUnavailable(f"the images of {self.name!r} are unreadable: {error}") from None
        return Dataset(
            name=self.name,
            class_names=tuple(manifest["class_names"]),
            source="uploaded",
            **parts,
        )


def decode_zip(
    path: Path, shown_name: str, *, image_size: int, grayscale: bool
) -> tuple[Dataset, dict[str, Any]]:
    """Read an uploaded zip of class folders through the ``folder`` source's checks.

    Args:
        path: Where the upload was written, inside the store.
        shown_name: The name the user gave the file, used in messages instead of ``path``.
        image_size: Height and width of the images kept.
        grayscale: Keep one channel.

    Returns:
        The dataset, and the manifest to keep beside it.

    Raises:
        InvalidInput: The zip or an option is refused; a problem of the zip names the
            ``file`` field.
    """
    from convscope.datasets.base import load_dataset

    try:
        dataset = load_dataset("folder", path=str(path), image_size=image_size, grayscale=grayscale)
    except InvalidInput as error:
        if error.field != "path":
            raise
        reason = getattr(error, "found", error.reason).replace(str(path), shown_name)
        raise error.at("file", reason) from None
    return dataset, {
        "class_names": list(dataset.class_names),
        "image_shape": list(dataset.image_shape),
        "train_count": len(dataset.y_train),
        "test_count": len(dataset.y_test),
        "skipped": [list(entry) for entry in dataset.skipped[:100]],
        "skipped_count": len(dataset.skipped),
        "file": shown_name,
    }


def use_directory(directory: Path) -> list[str]:
    """Register every dataset uploaded to ``directory`` (a store's ``datasets`` folder).

    Datasets registered from another folder before are unregistered; a name that a
    built-in dataset already has is left out.

    Returns:
        The names registered.
    """
    for name, registered_from in list(_REGISTERED.items()):
        if registered_from.parent != directory or not registered_from.exists():
            unregister_dataset(name)
            del _REGISTERED[name]
    manifests = sorted(directory.glob("*.json")) if directory.is_dir() else []
    for manifest in manifests:
        name = manifest.stem
        if name in _REGISTERED or name in dataset_names():
            continue
        try:
            facts = dict(json.loads(manifest.read_text()))
            title = str(facts.get("title") or name)
            count = int(facts["train_count"]) + int(facts["test_count"])
            description = f"Uploaded: {count:,} images in {len(facts['class_names'])} classes."
        except (OSError, ValueError, KeyError, TypeError):
            title, description = name, "Uploaded: your own images."
        source = type(f"Uploaded_{name}", (UploadedDataset,), {"manifest_path": manifest})
        register_dataset(name, title=title, description=description)(source)
        _REGISTERED[name] = manifest
    return sorted(_REGISTERED)
