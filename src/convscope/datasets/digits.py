"""scikit-learn's bundled 8x8 handwritten digits: tiny, always available, for fast tests."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np

from convscope.datasets._sampling import stratified_indices
from convscope.datasets.base import DataDir, Dataset, DatasetInfo, DatasetSource, register_dataset
from convscope.errors import DataUnavailable

TOTAL = 1797
TEST_COUNT = round(TOTAL * 0.2)
#: The train/test split is fixed, so that every run on ``digits`` tests on the same images.
SPLIT_SEED = 0


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """Images scaled from 0..16 to 0..255 as uint8 (N, 8, 8, 1), and int64 labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise DataUnavailable(
            "The digits dataset comes with scikit-learn, which is not installed "
            "(pip install scikit-learn)."
        ) from error
    bunch = load_digits()
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0))
    x = np.clip(images, 0, 255).astype(np.uint8)[..., np.newaxis]
    y = np.asarray(bunch.target, dtype=np.int64)
    # Cached arrays are shared between calls: make them read-only so no caller can
    # change what the next caller gets.
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


@register_dataset(
    "digits",
    title="Digits (8x8)",
    description="1,797 tiny 8x8 handwritten digits bundled with scikit-learn; trains in seconds.",
)
class Digits(DatasetSource):
    """The digits, split 80/20 by a fixed stratified draw."""

    def describe(self, data_dir: DataDir, options: Mapping[str, Any]) -> DatasetInfo:
        available = importlib.util.find_spec("sklearn") is not None
        return self.info(
            image_shape=(8, 8, 1),
            class_names=[str(digit) for digit in range(10)],
            available=available,
            location="scikit-learn" if available else None,
            reason=None
            if available
            else "scikit-learn is not installed (pip install scikit-learn)",
            train_count=TOTAL - TEST_COUNT,
            test_count=TEST_COUNT,
        )

    def load(self, data_dir: DataDir, options: Mapping[str, Any]) -> Dataset:
        x, y = _digits()
        test = stratified_indices(
            y, TEST_COUNT, SPLIT_SEED, field="test_size", population="the digits"
        )
        train = np.setdiff1d(np.arange(len(y)), test)
        return Dataset(
            name=self.name,
            x_train=x[train],
            y_train=y[train],
            x_test=x[test],
            y_test=y[test],
            class_names=tuple(str(digit) for digit in range(10)),
            source="scikit-learn",
        )
