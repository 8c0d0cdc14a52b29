"""Shared helpers for the model tests: tiny images so that every test stays fast."""

from __future__ import annotations

import numpy as np
import pytest

import convscope  # noqa: F401  (selects the TensorFlow backend before Keras is imported)


@pytest.fixture
def images_8x8() -> np.ndarray:
    """Four raw-valued 8x8 grey images."""
    return np.random.default_rng(0).integers(0, 256, size=(4, 8, 8, 1)).astype(np.float32)
