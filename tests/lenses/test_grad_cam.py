"""Grad-CAM equals the class activation map of a global-average-pooling network, at any
convolutional layer, upsampled as TensorFlow upsamples."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from convscope import lenses
from convscope.errors import InvalidInput
from convscope.lenses._maps import resize_bilinear


@pytest.fixture(scope="module")
def gap_model() -> keras.Model:
    """conv -> global average pooling -> dense: Grad-CAM's weights are the dense weights / hw."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 2))
    features = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(pooled))


def test_on_a_gap_network_grad_cam_is_the_class_activation_map(gap_model) -> None:
    images = np.random.default_rng(1).normal(size=(3, 8, 8, 2)).astype(np.float32)
    result = lenses.compute("grad_cam", gap_model, images, target=2)
    features = keras.Model(gap_model.inputs[0], gap_model.get_layer("features").output)
    activations = np.asarray(features(images))
    weights = gap_model.get_layer("logits").get_weights()[0][:, 2] / 64
    expected = np.maximum(np.einsum("nhwc,c->nhw", activations, weights), 0)
    np.testing.assert_allclose(result.arrays["map"], expected, rtol=1e-4, atol=1e-6)
    assert result.meta["layer"] == "features"


def test_the_default_layer_is_the_last_convolution(conv_model, images) -> None:
    result = lenses.compute("grad_cam", conv_model, images)
    assert result.meta["layer"] == "conv2"
    assert result.meta["layer_size"] == [4, 4]
    assert result.arrays["map"].shape == (6, 8, 8)
    assert np.all(result.arrays["map"] >= 0)


def test_any_spatial_layer_can_be_chosen(conv_model, images) -> None:
    first = lenses.compute("grad_cam", conv_model, images, target=1, layer="conv1")
    last = lenses.compute("grad_cam", conv_model, images, target=1)
    assert first.meta["layer"] == "conv1" and first.meta["layer_size"] == [8, 8]
    assert not np.allclose(first.arrays["map"], last.arrays["map"])


def test_a_layer_without_a_spatial_map_is_refused(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("grad_cam", conv_model, images, layer="dense1")
    assert caught.value.field == "layer"
    assert caught.value.choices is not None and "conv2" in caught.value.choices


def test_a_model_without_convolution_is_refused(images) -> None:
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("grad_cam", model, images)
    assert caught.value.field == "model"


@pytest.mark.parametrize(
    ("source", "target"), [((4, 4), (8, 8)), ((7, 5), (28, 20)), ((3, 3), (3, 3))]
)
def test_upsampling_matches_tensorflows_bilinear_resize(source, target) -> None:
    maps = np.random.default_rng(2).random((2, *source)).astype(np.float32)
    expected = tf.image.resize(maps[..., None], target, method="bilinear")[..., 0]
    np.testing.assert_allclose(resize_bilinear(maps, *target), np.asarray(expected), atol=1e-5)


def test_on_trained_shapes_grad_cam_points_at_the_object_more_than_at_random(shapes_probe) -> None:
    from convscope.lenses._maps import pointing_hits, random_maps

    images, labels, masks = shapes_probe.images, shapes_probe.labels, shapes_probe.masks
    maps = lenses.compute("grad_cam", shapes_probe.model, images, target=labels).arrays["map"]
    hits = pointing_hits(maps, masks, tolerance=1).mean()
    chance = pointing_hits(random_maps(len(images), 32, 32, 0), masks, tolerance=1).mean()
    assert hits > chance + 0.2, (hits, chance)
