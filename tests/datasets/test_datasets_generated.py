"""The two datasets that need no files: scikit-learn's digits and the generated shapes."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.datasets import dataset_info, load_dataset
from convscope.errors import InvalidInput


def test_digits_are_uint8_nhwc_with_a_fixed_split() -> None:
    digits = load_dataset("digits")
    assert digits.x_train.shape == (1438, 8, 8, 1) and digits.x_test.shape == (359, 8, 8, 1)
    assert digits.x_train.dtype == np.uint8 and digits.y_train.dtype == np.int64
    assert digits.x_train.max() == 255 and digits.x_train.min() == 0
    assert digits.class_names == tuple("0123456789") and digits.num_classes == 10
    assert digits.image_shape == (8, 8, 1) and digits.source == "scikit-learn"
    # Every class is in the test set, in proportion.
    assert np.bincount(digits.y_test).min() >= 35
    # The split does not depend on the subset seed.
    assert np.array_equal(load_dataset("digits", seed=9).x_test, digits.x_test)


def test_digits_train_and_test_do_not_overlap() -> None:
    digits = load_dataset("digits")
    train = {image.tobytes() for image in digits.x_train}
    test = [image.tobytes() for image in digits.x_test]
    # A few digits are pixel-identical in the source; nearly all test images are unseen.
    assert sum(image in train for image in test) < 5


def test_digits_are_writable_copies() -> None:
    first = load_dataset("digits")
    first.x_train[:] = 0
    assert load_dataset("digits").x_train.max() == 255


def test_shapes_defaults() -> None:
    shapes = load_dataset("shapes")
    assert shapes.x_train.shape == (3000, 32, 32, 3) and shapes.x_test.shape == (600, 32, 32, 3)
    assert shapes.class_names[:6] == ("circle", "square", "triangle", "cross", "ring", "diamond")
    assert np.bincount(shapes.y_train).tolist() == [500] * 6
    assert shapes.source == "generated"
    assert shapes.masks_test is not None and shapes.masks_test.shape == (600, 32, 32)


def test_shapes_masks_cover_an_object_that_stands_out() -> None:
    shapes = load_dataset("shapes", image_size=16, train_count=120, test_count=60)
    assert shapes.masks_train is not None
    masks, images = shapes.masks_train, shapes.x_train.astype(np.float64)
    assert masks.dtype == bool and masks.shape == (120, 16, 16)
    assert masks.sum(axis=(1, 2)).min() >= 8  # never empty, never a speck
    assert (~masks).sum(axis=(1, 2)).min() >= 64  # the object never fills the image
    for image, mask in zip(images, masks, strict=True):
        difference = np.abs(image[mask].mean(axis=0) - image[~mask].mean(axis=0))
        assert difference.min() > 30


def test_shapes_masks_differ_by_class() -> None:
    shapes = load_dataset("shapes", image_size=32, train_count=60, test_count=6)
    assert shapes.masks_train is not None
    # A ring has a hole: its mask's centre pixel is background, a circle's is object.
    for label, mask in zip(shapes.y_train, shapes.masks_train, strict=True):
        ys, xs = np.nonzero(mask)
        centre = mask[round(ys.mean()), round(xs.mean())]
        if shapes.class_names[label] == "ring":
            assert not centre
        elif shapes.class_names[label] in ("circle", "square", "diamond"):
            assert centre


def test_shapes_are_deterministic_by_generation_seed() -> None:
    options = {"image_size": 16, "train_count": 30, "test_count": 12}
    first = load_dataset("shapes", generation_seed=4, **options)
    second = load_dataset("shapes", generation_seed=4, **options)
    other = load_dataset("shapes", generation_seed=5, **options)
    assert np.array_equal(first.x_train, second.x_train)
    assert np.array_equal(first.masks_test, second.masks_test)
    assert not np.array_equal(first.x_train, other.x_train)
    more_training = load_dataset("shapes", generation_seed=4, **{**options, "train_count": 36})
    assert np.array_equal(first.x_test, more_training.x_test)


def test_shapes_image_size_and_info() -> None:
    shapes = load_dataset("shapes", image_size=48, train_count=12, test_count=6)
    assert shapes.image_shape == (48, 48, 3)
    info = dataset_info("shapes", image_size=48, train_count=12, test_count=6)
    assert (info.image_shape, info.train_count, info.test_count) == ((48, 48, 3), 12, 6)
    assert info.available and info.num_classes == 6


def test_shapes_refuse_too_much_memory() -> None:
    with pytest.raises(InvalidInput, match="MiB") as caught:
        load_dataset("shapes", image_size=128, train_count=200_000, test_count=100)
    assert caught.value.field == "train_count"
