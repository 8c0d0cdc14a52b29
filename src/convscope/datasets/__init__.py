"""Datasets: one module per source, a registry of them, and probe-set sampling.

``load_dataset("fashion_mnist")`` returns a :class:`Dataset` of uint8 NHWC images and int64
labels; ``list_datasets()`` says, without reading any file, which sources are available.
"""

from __future__ import annotations

import importlib

from convscope.datasets.base import (
    Dataset,
    DatasetInfo,
    DatasetSource,
    Option,
    dataset_info,
    dataset_names,
    dataset_options,
    list_datasets,
    load_dataset,
    parse_dataset_options,
    register_dataset,
)
from convscope.datasets.probe import sample_probe

# Importing a source module registers it; this order is the registry's order (menus follow
# it: small, always-available datasets first).
for _module in ("digits", "shapes", "idx", "cifar10", "folder"):
    importlib.import_module(f"convscope.datasets.{_module}")

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
    "sample_probe",
]
