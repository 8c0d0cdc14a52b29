"""The network at a glance: layers, shapes, parameter counts and connections of the model."""

from __future__ import annotations

import keras
import numpy as np

from convscope import lenses
from convscope.models.build import build_model
from convscope.models.presets import get_preset


def test_a_residual_network_shows_its_skip_connections() -> None:
    model = build_model(get_preset("resnet_mini"), (12, 12, 1), 4, seed=0)
    result = lenses.compute("architecture", model, np.zeros((1, 12, 12, 1)))
    rows = {row["name"]: row for row in result.meta["layers"]}
    assert list(rows) == [layer.name for layer in model.layers]
    assert rows["res1_add"]["inputs"] == ["res1_bn_b", "conv1"]  # the block's input skips ahead
    assert rows["res2_add"]["inputs"] == ["res2_bn_b", "res2_proj_bn"]
    assert rows["image"]["inputs"] == [] and rows["conv1"]["inputs"] == ["rescale"]
    for layer in model.layers:
        assert rows[layer.name]["params"] == layer.count_params()
        assert rows[layer.name]["output_shape"] == list(layer.output.shape[1:])
    assert result.meta["total_params"] == model.count_params()
    bn = rows["res1_bn_a"]
    assert bn["params"] == 4 * 16 and bn["trainable_params"] == 2 * 16  # gamma, beta trained
    np.testing.assert_array_equal(
        result.arrays["params"], [layer.count_params() for layer in model.layers]
    )


def test_a_sequential_model_gets_its_input_row() -> None:
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    result = lenses.compute("architecture", model, np.zeros((1, 8, 8, 1)))
    first, flatten, dense = result.meta["layers"]
    assert first["class_name"] == "InputLayer" and first["output_shape"] == [8, 8, 1]
    assert flatten["inputs"] == [first["name"]] and dense["inputs"] == [flatten["name"]]
    assert dense["activation"] == "softmax" and dense["params"] == 64 * 3 + 3
