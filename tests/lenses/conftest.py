"""Fixtures of the lens tests: tiny models of the kinds lenses must handle, and images."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope.models.build import build_model
from convscope.models.spec import ArchSpec, ConvBlock, DenseBlock, FlattenBlock, PoolBlock

NUM_CLASSES = 3


@pytest.fixture(scope="session")
def conv_model() -> keras.Model:
    """A convscope model on 8x8 grey images: conv, pool, conv, dense, logits."""
    spec = ArchSpec(
        name="tiny",
        blocks=[
            ConvBlock(filters=4),
            PoolBlock(),
            ConvBlock(filters=6),
            FlattenBlock(),
            DenseBlock(units=8),
        ],
    )
    return build_model(spec, (8, 8, 1), NUM_CLASSES, seed=0)


@pytest.fixture(scope="session")
def softmax_model() -> keras.Model:
    """A hand-written Sequential model that ends in a softmax, as users write them."""
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    """Six raw-valued 8x8 grey images."""
    return np.random.default_rng(0).integers(0, 256, size=(6, 8, 8, 1)).astype(np.float32)


@pytest.fixture(scope="session")
def labels() -> np.ndarray:
    """True classes of the six images."""
    return np.array([0, 1, 2, 0, 1, 2])
