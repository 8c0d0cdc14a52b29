"""The activations lens equals a Keras sub-model's output, layer by layer, on any model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope import lenses
from convscope.errors import InvalidInput


def submodel_output(model: keras.Model, layer: str, images: np.ndarray) -> np.ndarray:
    tap = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return np.asarray(tap(images, training=False))


def test_every_layer_equals_its_keras_submodel(conv_model, images) -> None:
    result = lenses.compute("activations", conv_model, images)
    names = [layer["name"] for layer in result.meta["layers"]]
    assert names == [layer.name for layer in conv_model.layers[1:]]
    for name in names:
        np.testing.assert_allclose(
            result.arrays[name], submodel_output(conv_model, name, images), rtol=1e-5, atol=1e-6
        )
    assert result.arrays["conv1"].shape == (len(images), 8, 8, 4)
    assert result.meta["layers"][1] == {"name": "conv1", "class_name": "Conv2D", "shape": [8, 8, 4]}


def test_probabilities_are_the_softmax_of_the_logits(conv_model, images) -> None:
    result = lenses.compute("activations", conv_model, images)
    logits = result.arrays["logits"]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result.meta["probabilities"], expected, atol=1e-6)
    assert result.meta["predicted"] == logits.argmax(axis=1).tolist()


def test_a_softmax_model_reports_its_own_probabilities(softmax_model, images) -> None:
    result = lenses.compute("activations", softmax_model, images)
    last = result.meta["layers"][-1]["name"]
    np.testing.assert_allclose(
        result.meta["probabilities"], result.arrays[last], rtol=1e-4, atol=1e-6
    )


def test_chosen_layers_only(conv_model, images) -> None:
    result = lenses.compute("activations", conv_model, images[:1], layers=["dense1", "conv2"])
    assert list(result.arrays) == ["conv2", "dense1"]  # in the model's order


def test_an_unknown_layer_lists_the_layers(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("activations", conv_model, images, layers=["conv9"])
    assert caught.value.field == "layers"
    assert "conv1" in (caught.value.choices or [])
