"""The Dataset type, the registry of dataset sources, and the functions that load them."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from convscope.datasets._options import Option
from convscope.datasets._sampling import stratified_indices
from convscope.errors import InvalidInput

DataDir = str | os.PathLike[str] | None


@dataclass(frozen=True)
class Dataset:
    """Images and labels of one dataset, split into training and test sets.

    Attributes:
        name: Registry name of the source (``"fashion_mnist"``).
        x_train: uint8 images, NHWC; grayscale images have one channel.
        y_train: int64 class indices, one per training image.
        x_test: uint8 test images, same height, width and channels.
        y_test: int64 test labels.
        class_names: Name of each class, indexed by label.
        source: Where the images came from: a path, ``"scikit-learn"``, ``"generated"``.
        masks_train: Optional bool (N, H, W) masks of the object's pixels.
        masks_test: Optional bool masks of the test images.
        skipped: Files that could not be used, as ``(relative path, reason)`` pairs.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    masks_train: np.ndarray | None = None
    masks_test: np.ndarray | None = None
    skipped: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Loaders are the only producers; checking here catches a broken loader at once
        # instead of deep inside training.
        for split, x, y, masks in (
            ("train", self.x_train, self.y_train, self.masks_train),
            ("test", self.x_test, self.y_test, self.masks_test),
        ):
            if x.dtype != np.uint8 or x.ndim != 4:
                raise ValueError(f"x_{split} must be uint8 NHWC, got {x.dtype} {x.shape}")
            if y.ndim != 1 or len(y) != len(x):
                raise ValueError(f"y_{split} must hold one label per image, got {y.shape}")
            if masks is not None and masks.shape != x.shape[:3]:
                raise ValueError(f"masks_{split} must be (N, H, W), got {masks.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError("training and test images must have the same shape")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Height, width and channels of one image."""
        height, width, channels = self.x_train.shape[1:]
        return int(height), int(width), int(channels)

    @property
    def num_classes(self) -> int:
        """How many classes the dataset has (the length of ``class_names``)."""
        return len(self.class_names)

    def subset(
        self, train_size: int | None = None, test_size: int | None = None, seed: int = 0
    ) -> Dataset:
        """Return a smaller dataset that keeps each class's share of images.

        Args:
            train_size: Training images to keep; ``None`` keeps them all.
            test_size: Test images to keep; ``None`` keeps them all.
            seed: Seed of the draw; the same seed gives the same images.

        Returns:
            A new :class:`Dataset`; images keep their original relative order.

        Raises:
            InvalidInput: A size is below 1 or larger than the images available.
        """
        x_train, y_train, masks_train = self.x_train, self.y_train, self.masks_train
        x_test, y_test, masks_test = self.x_test, self.y_test, self.masks_test
        if train_size is not None:
            keep = stratified_indices(
                y_train, train_size, seed, field="train_size", population="the training set"
            )
            x_train, y_train = x_train[keep], y_train[keep]
            masks_train = None if masks_train is None else masks_train[keep]
        if test_size is not None:
            keep = stratified_indices(
                y_test, test_size, seed, field="test_size", population="the test set"
            )
            x_test, y_test = x_test[keep], y_test[keep]
            masks_test = None if masks_test is None else masks_test[keep]
        return Dataset(
            name=self.name,
            x_train=x_train,
            y_train=y_train,
            x_test=x_test,
            y_test=y_test,
            class_names=self.class_names,
            source=self.source,
            masks_train=masks_train,
            masks_test=masks_test,
            skipped=self.skipped,
        )


@dataclass(frozen=True)
class DatasetInfo:
    """What is known about a dataset without loading it; ``dataclasses.asdict`` makes JSON.

    Attributes:
        name: Registry name.
        title: Human title (``"Fashion-MNIST"``).
        description: One or two sentences for a menu.
        image_shape: Height, width, channels, when known.
        num_classes: Number of classes, when known.
        class_names: Class names, when known.
        available: Whether it can be loaded from local files (or needs none).
        location: Where it was found: ``"scikit-learn"``, ``"generated"`` or a path.
        reason: When not available: where we looked and how to get the files.
        train_count: Training images, when known.
        test_count: Test images, when known.
    """

    name: str
    title: str
    description: str
    image_shape: tuple[int, int, int] | None
    num_classes: int | None
    class_names: list[str] | None
    available: bool
    location: str | None
    reason: str | None
    train_count: int | None
    test_count: int | None


class DatasetSource(ABC):
    """A loader of one dataset; subclasses register themselves with :func:`register_dataset`.

    ``describe`` must be fast (it only checks that files exist); ``load`` reads them.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    @abstractmethod
    def describe(self, data_dir: DataDir, options: Mapping[str, Any]) -> DatasetInfo:
        """Say whether the dataset can be loaded and what it holds, without reading it."""

    @abstractmethod
    def load(self, data_dir: DataDir, options: Mapping[str, Any]) -> Dataset:
        """Read the whole dataset."""

    def info(self, **fields: Any) -> DatasetInfo:
        """Build this source's :class:`DatasetInfo`; unspecified fields are ``None``."""
        values: dict[str, Any] = {
            "image_shape": None,
            "num_classes": None,
            "class_names": None,
            "available": False,
            "location": None,
            "reason": None,
            "train_count": None,
            "test_count": None,
        }
        values.update(fields)
        if values["class_names"] is not None:
            values["class_names"] = list(values["class_names"])
            values["num_classes"] = len(values["class_names"])
        return DatasetInfo(name=self.name, title=self.title, description=self.description, **values)


_REGISTRY: dict[str, DatasetSource] = {}
SourceType = TypeVar("SourceType", bound=type[DatasetSource])


def register_dataset(
    name: str, *, title: str, description: str
) -> Callable[[SourceType], SourceType]:
    """Class decorator that adds a :class:`DatasetSource` subclass to the registry.

    Args:
        name: Registry name, used by ``load_dataset`` and the API.
        title: Human title.
        description: One or two sentences for a menu.

    Returns:
        The decorator, which returns the class unchanged apart from its name fields.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def decorate(cls: SourceType) -> SourceType:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered")
        cls.name, cls.title, cls.description = name, title, description
        _REGISTRY[name] = cls()
        return cls

    return decorate


def unregister_dataset(name: str) -> None:
    """Remove a dataset from the registry (an uploaded dataset of another store)."""
    _REGISTRY.pop(name, None)


def dataset_names() -> list[str]:
    """Names of every registered dataset, in registration order."""
    return list(_REGISTRY)


def _source(name: str) -> DatasetSource:
    if name not in _REGISTRY:
        raise InvalidInput("dataset", f"unknown dataset {name!r}", choices=dataset_names())
    return _REGISTRY[name]


def _parse_options(source: DatasetSource, given: Mapping[str, Any]) -> dict[str, Any]:
    known = {option.name: option for option in source.options}
    for key in given:
        if key not in known:
            reason = (
                f"not an option of dataset {source.name!r}"
                if known
                else f"dataset {source.name!r} takes no options"
            )
            raise InvalidInput(key, reason, choices=list(known))
    return {
        key: option.parse(given[key]) if key in given else option.default
        for key, option in known.items()
    }


def parse_dataset_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check options given for dataset ``name`` and convert them to their kinds.

    Returns:
        The options given (not the defaults of the others), converted.

    Raises:
        InvalidInput: Unknown dataset or option, or a value of the wrong kind or range.
    """
    parsed = _parse_options(_source(name), options)
    return {key: parsed[key] for key in options}


def dataset_options(name: str) -> list[Option]:
    """The options that ``load_dataset(name, ...)`` accepts, with defaults and ranges."""
    return list(_source(name).options)


def list_datasets(data_dir: DataDir = None) -> list[DatasetInfo]:
    """Describe every registered dataset without loading any; fast, never downloads.

    Args:
        data_dir: Extra directory searched first for dataset files (``--data-dir``).

    Returns:
        One :class:`DatasetInfo` per dataset, in registry order.
    """
    return [source.describe(data_dir, _parse_options(source, {})) for source in _REGISTRY.values()]


def dataset_info(name: str, data_dir: DataDir = None, **options: Any) -> DatasetInfo:
    """Describe one dataset without loading it.

    Args:
        name: Registry name.
        data_dir: Extra directory searched first for dataset files.
        **options: The dataset's options (``path=`` for ``folder``, ``image_size=``...).

    Returns:
        Its :class:`DatasetInfo`.

    Raises:
        InvalidInput: Unknown dataset or option, or an option value out of range.
    """
    source = _source(name)
    return source.describe(data_dir, _parse_options(source, options))


def load_dataset(
    name: str,
    *,
    data_dir: DataDir = None,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    **options: Any,
) -> Dataset:
    """Load a dataset by name, optionally keeping a stratified subset of it.

    Args:
        name: Registry name (see :func:`dataset_names`).
        data_dir: Extra directory searched first for dataset files.
        train_size: Training images to keep (all if ``None``).
        test_size: Test images to keep (all if ``None``).
        seed: Seed of the subset draw.
        **options: The dataset's own options (see :func:`dataset_options`).

    Returns:
        The :class:`Dataset`.

    Raises:
        InvalidInput: Unknown dataset or option, bad option value, or a size too large.
        DataUnavailable: The dataset's files cannot be found or read.
    """
    source = _source(name)
    dataset = source.load(data_dir, _parse_options(source, options))
    if train_size is None and test_size is None:
        return dataset
    return dataset.subset(train_size=train_size, test_size=test_size, seed=seed)


__all__ = [
    "Dataset",
    "DatasetInfo",
    "DatasetSource",
    "Option",
    "dataset_info",
    "dataset_names",
    "dataset_options",
    "list_datasets",
    "load_dataset",
    "parse_dataset_options",
    "register_dataset",
]
