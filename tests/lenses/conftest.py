"""Fixtures of the lens tests: tiny models of the kinds lenses must handle, and images."""

from __future__ import annotations

from dataclasses import dataclass

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


@pytest.fixture(scope="session")
def masks() -> np.ndarray:
    """True object masks of the six images: a square somewhere in each."""
    grid = np.zeros((6, 8, 8), dtype=bool)
    for index in range(6):
        top, left = index % 4, (2 * index) % 5
        grid[index, top : top + 3, left : left + 3] = True
    return grid


@dataclass(frozen=True)
class Linear:
    """A linear model with known weights: logits = flatten(x) @ weights + bias."""

    model: keras.Model
    weights: np.ndarray  # (H * W * C, classes)
    bias: np.ndarray
    shape: tuple[int, int, int]

    def column(self, target: int) -> np.ndarray:
        """The weights of class ``target``, shaped like an image (H, W, C)."""
        return self.weights[:, target].reshape(self.shape)


@pytest.fixture(scope="session")
def linear() -> Linear:
    """A linear model on 5x6 images with two channels and four classes, random weights."""
    shape, classes = (5, 6, 2), 4
    rng = np.random.default_rng(7)
    weights = rng.normal(size=(int(np.prod(shape)), classes)).astype(np.float32)
    bias = rng.normal(size=classes).astype(np.float32)
    model = keras.Sequential(
        [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(classes, name="logits")]
    )
    model.get_layer("logits").set_weights([weights, bias])
    return Linear(model, weights, bias, shape)


@pytest.fixture(scope="session")
def linear_images() -> np.ndarray:
    """Four images for the linear model, with signed values."""
    return np.random.default_rng(8).normal(size=(4, 5, 6, 2)).astype(np.float32)


@dataclass(frozen=True)
class ShapesProbe:
    """The last snapshot's model of the trained shapes run, and its probe set."""

    model: keras.Model
    images: np.ndarray  # float32 (60, 32, 32, 3), as the model takes them
    labels: np.ndarray
    masks: np.ndarray  # bool (60, 32, 32)


@pytest.fixture(scope="session")
def shapes_probe(trained_shapes_run) -> ShapesProbe:
    """small_cnn trained on shapes, at its last snapshot, with the recorded probe set."""
    import convscope
    from convscope.store import Store

    with Store(trained_shapes_run.store_dir) as store:
        run_id = trained_shapes_run.run_id
        model = convscope.load_model(store, run_id, snapshot=trained_shapes_run.snapshots - 1)
        probe = store.read_run_arrays(run_id, "probe")
    return ShapesProbe(
        model, probe["images"].astype(np.float32), probe["labels"], probe["masks"].astype(bool)
    )
