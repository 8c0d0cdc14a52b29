"""Synthetic shapes with a ground-truth mask of the object, so attribution maps can be scored.

Every image holds one shape of random position, size, tilt and colour on a textured, noisy
background. The object is always on the opposite side of mid-grey from the background in
every channel, so it stands out whatever the colours; the class is in the outline alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from convscope.datasets.base import (
    DataDir,
    Dataset,
    DatasetInfo,
    DatasetSource,
    Option,
    register_dataset,
)
from convscope.errors import InvalidInput

CLASS_NAMES = ("circle", "square", "triangle", "cross", "ring", "diamond")

# Coordinates u (right) and v (down) are centred on the shape and divided by its radius.
_Outline = Callable[[np.ndarray, np.ndarray], np.ndarray]
_OUTLINES: dict[str, _Outline] = {
    "circle": lambda u, v: u * u + v * v <= 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.85,
    "triangle": lambda u, v: (v <= 0.75) & (np.abs(u) <= (v + 1.0) / 1.75),
    "cross": lambda u, v: (
        ((np.abs(u) <= 0.3) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1.0))
    ),
    "ring": lambda u, v: (u * u + v * v <= 1.0) & (u * u + v * v >= 0.55**2),
    "diamond": lambda u, v: np.abs(u) + np.abs(v) <= 1.1,
}
# Square corners reach 0.85 * sqrt(2) radii; the margin keeps every shape inside the image.
_REACH = 1.25
_MAX_TILT = 0.2  # radians; small, so that a tilted square never looks like a diamond
_CHUNK = 512  # images generated at once: bounds memory at large image sizes
_MAX_BYTES = 1 << 30


def generate_shapes(
    count: int, image_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``count`` images with balanced classes.

    Args:
        count: Number of images.
        image_size: Height and width in pixels.
        rng: Source of randomness; the same state gives the same images.

    Returns:
        uint8 images (N, S, S, 3), int64 labels (N,), bool object masks (N, S, S).
    """
    size = image_size
    labels = rng.permutation(np.arange(count) % len(CLASS_NAMES)).astype(np.int64)
    radius = rng.uniform(0.22, 0.36, count) * size
    centre_x = rng.uniform(radius * _REACH, size - radius * _REACH)
    centre_y = rng.uniform(radius * _REACH, size - radius * _REACH)
    tilt = rng.uniform(-_MAX_TILT, _MAX_TILT, count)
    dark_object = rng.random(count) < 0.5
    dark = rng.uniform(10.0, 100.0, (count, 3))
    light = rng.uniform(155.0, 245.0, (count, 3))
    object_colour = np.where(dark_object[:, None], dark, light).astype(np.float32)
    background_colour = np.where(dark_object[:, None], light, dark).astype(np.float32)
    stripe_amplitude = rng.uniform(0.0, 18.0, count)
    stripe_frequency = rng.uniform(0.5, 3.0, count) * 2.0 * np.pi / size
    stripe_direction = rng.uniform(0.0, 2.0 * np.pi, count)
    stripe_phase = rng.uniform(0.0, 2.0 * np.pi, count)

    images = np.empty((count, size, size, 3), dtype=np.uint8)
    masks = np.empty((count, size, size), dtype=bool)
    pixel_centres = np.arange(size, dtype=np.float32) + 0.5
    ys, xs = pixel_centres[None, :, None], pixel_centres[None, None, :]
    for start in range(0, count, _CHUNK):
        part = slice(start, min(start + _CHUNK, count))

        def per_image(values: np.ndarray, part: slice = part) -> np.ndarray:
            return values[part, None, None].astype(np.float32)

        dx, dy = xs - per_image(centre_x), ys - per_image(centre_y)
        cos, sin, r = np.cos(per_image(tilt)), np.sin(per_image(tilt)), per_image(radius)
        u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r
        mask = np.zeros(u.shape, dtype=bool)
        chunk_labels = labels[part]
        for index, name in enumerate(CLASS_NAMES):
            chosen = chunk_labels == index
            if chosen.any():
                mask[chosen] = _OUTLINES[name](u[chosen], v[chosen])
        direction = per_image(stripe_direction)
        stripes = per_image(stripe_amplitude) * np.sin(
            per_image(stripe_frequency) * (np.cos(direction) * xs + np.sin(direction) * ys)
            + per_image(stripe_phase)
        )
        # Brightness noise shared by the three channels: as good as colour noise for
        # learning, and a third of the random draws.
        noise = rng.standard_normal(u.shape, dtype=np.float32)
        noise *= 10.0
        pixels = background_colour[part, None, None, :] + (stripes + noise)[..., None]
        foreground = object_colour[part, None, None, :] + (0.6 * noise)[..., None]
        np.copyto(pixels, foreground, where=mask[..., None])
        images[part] = np.clip(pixels, 0.0, 255.0, out=pixels).round(out=pixels)
        masks[part] = mask
    return images, labels, masks


@register_dataset(
    "shapes",
    title="Shapes (synthetic)",
    description=(
        "Circles, squares, triangles, crosses, rings and diamonds on noisy backgrounds, "
        "generated on the spot, with the true mask of each object to score attribution maps."
    ),
)
class Shapes(DatasetSource):
    """Generated shapes; the same options always give the same images."""

    options = (
        Option("image_size", int, 32, "Height and width of the images, in pixels.", 16, 128),
        Option("train_count", int, 3000, "Training images to generate.", 6, 200_000),
        Option("test_count", int, 600, "Test images to generate.", 6, 100_000),
        Option("generation_seed", int, 0, "Seed of the generator.", 0, 2**32 - 1),
    )

    def describe(self, data_dir: DataDir, options: Mapping[str, Any]) -> DatasetInfo:
        return self.info(
            image_shape=(options["image_size"], options["image_size"], 3),
            class_names=CLASS_NAMES,
            available=True,
            location="generated",
            train_count=options["train_count"],
            test_count=options["test_count"],
        )

    def load(self, data_dir: DataDir, options: Mapping[str, Any]) -> Dataset:
        size, seed = options["image_size"], options["generation_seed"]
        train_count, test_count = options["train_count"], options["test_count"]
        needed = (train_count + test_count) * size * size * 4  # three channels and a mask
        if needed > _MAX_BYTES:
            raise InvalidInput(
                "train_count",
                f"{train_count} + {test_count} images of {size}x{size} need {needed >> 20} MiB; "
                f"the limit is {_MAX_BYTES >> 20} MiB: ask for fewer or smaller images",
            )
        # Separate streams: changing train_count leaves the test images unchanged.
        x_train, y_train, masks_train = generate_shapes(
            train_count, size, np.random.default_rng([seed, 0])
        )
        x_test, y_test, masks_test = generate_shapes(
            test_count, size, np.random.default_rng([seed, 1])
        )
        return Dataset(
            name=self.name,
            x_train=x_train,
            y_train=y_train,
            x_test=x_test,
            y_test=y_test,
            class_names=CLASS_NAMES,
            source="generated",
            masks_train=masks_train,
            masks_test=masks_test,
        )
