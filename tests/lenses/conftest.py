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


@dataclass(frozen=True)
class Labelled:
    """A model and a labelled set of images it was not trained on."""

    model: keras.Model
    images: np.ndarray
    labels: np.ndarray


@pytest.fixture(scope="session")
def trained_shapes() -> Labelled:
    """small_cnn trained on 1,500 generated 16x16 shapes for 6 epochs, with 300 test shapes.

    The class is in the outline alone, at a random place, size and colour: no straight line
    through the raw pixels separates the classes, while the trained network does.
    """
    from convscope.datasets.shapes import CLASS_NAMES, generate_shapes
    from convscope.models.presets import get_preset

    x_train, y_train, _ = generate_shapes(1500, 16, np.random.default_rng([0, 0]))
    x_test, y_test, _ = generate_shapes(300, 16, np.random.default_rng([0, 1]))
    keras.utils.set_random_seed(0)
    model = build_model(get_preset("small_cnn"), (16, 16, 3), len(CLASS_NAMES), seed=0)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x_train, y_train, batch_size=32, epochs=6, verbose=0)
    return Labelled(model, x_test.astype(np.float32), y_test)


@pytest.fixture(scope="session")
def untrained_digits() -> Labelled:
    """small_cnn as initialised (never trained), with 400 of scikit-learn's 8x8 digits."""
    from convscope.datasets import load_dataset
    from convscope.models.presets import get_preset

    digits = load_dataset("digits", seed=0)
    model = build_model(get_preset("small_cnn"), (8, 8, 1), 10, seed=0)
    return Labelled(model, digits.x_test[:400].astype(np.float32), digits.y_test[:400])
