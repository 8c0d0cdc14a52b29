"""Layer features equal each layer's activations pooled by the documented rule."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.depth.reduction import reduction_for
from convscope.errors import InvalidInput


def adaptive_average(values: np.ndarray, bins: int, axis: int) -> np.ndarray:
    """Reference adaptive average pooling, written from the rule, one bin at a time."""
    length = values.shape[axis]
    parts = []
    for i in range(bins):
        start, stop = (i * length) // bins, int(np.ceil((i + 1) * length / bins))
        parts.append(np.take(values, range(start, stop), axis=axis).mean(axis=axis))
    return np.stack(parts, axis=axis)


def reference(values: np.ndarray, max_features: int) -> np.ndarray:
    """A layer's output reduced by the rule of convscope.depth.features, independently."""
    count = len(values)
    if values.ndim == 4:
        height, width, channels = values.shape[1:]
        if height * width * channels > max_features:
            rows = max(
                r
                for r in range(1, height + 1)
                if r * max(1, min(width, round(r * width / height))) * channels <= max_features
            )
            columns = max(1, min(width, round(rows * width / height)))
            values = adaptive_average(adaptive_average(values, rows, 1), columns, 2)
    flat = values.reshape(count, -1)
    if flat.shape[1] > max_features:
        flat = adaptive_average(flat, max_features, 1)
    return flat


@pytest.mark.parametrize(
    ("shape", "limit", "grid", "bins", "features"),
    [
        ((28, 28, 16), 2048, (11, 11), None, 1936),
        ((14, 14, 32), 2048, (8, 8), None, 2048),
        ((7, 7, 32), 2048, None, None, 1568),
        ((28, 14, 8), 2048, (22, 11), None, 1936),
        ((3136,), 2048, None, 2048, 2048),
        ((64,), 2048, None, None, 64),
        ((2, 2, 4096), 2048, (1, 1), 2048, 2048),
    ],
)
def test_the_reduction_rule(shape, limit, grid, bins, features) -> None:
    reduction = reduction_for(shape, limit)
    assert (reduction.grid, reduction.bins, reduction.features) == (grid, bins, features)


def test_features_equal_pooled_activations(conv_model, images) -> None:
    result = lenses.compute("layer_features", conv_model, images, max_features=64)
    activations = lenses.compute("activations", conv_model, images)
    assert result.meta["layers"] == ["input", *activations.arrays]
    np.testing.assert_allclose(result.arrays["input"], reference(images, 64), rtol=1e-5, atol=1e-4)
    for name, values in activations.arrays.items():
        np.testing.assert_allclose(
            result.arrays[name], reference(values, 64), rtol=1e-5, atol=1e-4, err_msg=name
        )
    widths = {entry["name"]: entry["features"] for entry in result.meta["reductions"]}
    # conv1 8x8x4 -> 4x4x4; conv2 4x4x6 -> 3x3x6 (overlapping bins); flatten 96 -> 64 bins
    assert widths == {
        "input": 64, "rescale": 64, "conv1": 64, "pool1": 64, "conv2": 54, "flatten": 64,
        "dense1": 8,
        "logits": 3,
    }  # fmt: skip
    assert "adaptive average pooling" in result.meta["rule"]


def test_rows_that_repeat_a_row_are_named(images) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dropout(0.5, name="drop"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    result = lenses.compute("layer_features", model, images)
    assert result.meta["same_as"] == {"flat": "conv", "drop": "conv"}
    np.testing.assert_array_equal(result.arrays["drop"], result.arrays["conv"])


def test_chosen_layers_follow_the_pixels(conv_model, images) -> None:
    result = lenses.compute("layer_features", conv_model, images, layers=["dense1", "conv1"])
    assert list(result.arrays) == ["input", "conv1", "dense1"]


def test_an_unknown_layer_and_a_bad_limit_are_refused(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("layer_features", conv_model, images, layers=["conv9"])
    assert caught.value.field == "layers" and "conv1" in (caught.value.choices or [])
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("layer_features", conv_model, images, max_features=4096)
    assert caught.value.field == "max_features"
