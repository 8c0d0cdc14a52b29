"""build_model, embedding_layer_name and model_summary."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from convscope.errors import InvalidInput
from convscope.models.build import build_model, embedding_layer_name, model_summary
from convscope.models.presets import get_preset
from convscope.models.spec import (
    ArchSpec,
    BatchNormBlock,
    ConvBlock,
    DenseBlock,
    DropoutBlock,
    FlattenBlock,
    GlobalPoolBlock,
    PoolBlock,
    ResidualBlock,
)


def layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers]


def inbound_names(model: keras.Model, name: str) -> list[str]:
    inbound = model.get_layer(name).input
    tensors = inbound if isinstance(inbound, list) else [inbound]
    return [tensor._keras_history.operation.name for tensor in tensors]


def test_layers_are_named_after_their_blocks() -> None:
    spec = ArchSpec(
        name="named",
        blocks=[
            ConvBlock(filters=4),
            BatchNormBlock(),
            PoolBlock(),
            ConvBlock(filters=4, activation="tanh"),
            PoolBlock(kind="avg"),
            DenseBlock(units=8),
            DropoutBlock(rate=0.5),
            DenseBlock(units=6),
        ],
    )
    model = build_model(spec, (16, 16, 1), 3, seed=0)
    assert model.name == "named"
    assert layer_names(model) == [
        "image",
        "rescale",
        "conv1",
        "bn1",
        "pool1",
        "conv2",
        "pool2",
        "flatten",
        "dense1",
        "dropout1",
        "dense2",
        "logits",
    ]
    assert isinstance(model.get_layer("rescale"), keras.layers.Rescaling)
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)
    assert model.get_layer("conv2").activation is keras.activations.tanh
    assert isinstance(model.get_layer("pool2"), keras.layers.AveragePooling2D)
    assert embedding_layer_name(model) == "dense2"


def test_model_ends_in_linear_logits(images_8x8: np.ndarray) -> None:
    model = build_model(get_preset("small_cnn"), (8, 8, 1), 5, seed=0)
    logits_layer = model.layers[-1]
    assert isinstance(logits_layer, keras.layers.Dense)
    assert logits_layer.name == "logits"
    assert logits_layer.units == 5
    assert logits_layer.activation is keras.activations.linear
    logits = np.asarray(model(images_8x8, training=False))
    # Logits, not probabilities: rows do not sum to one and values may be negative.
    assert not np.allclose(logits.sum(axis=1), 1.0)


def test_same_seed_gives_identical_weights_and_another_seed_does_not() -> None:
    spec = get_preset("vgg_mini")
    first = build_model(spec, (8, 8, 3), 4, seed=7)
    second = build_model(spec, (8, 8, 3), 4, seed=7)
    third = build_model(spec, (8, 8, 3), 4, seed=8)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_layer("conv1").kernel, third.get_layer("conv1").kernel)
    # Layers of the same shape get different weights under one seed.
    assert not np.array_equal(
        np.asarray(first.get_layer("conv3").kernel)[..., :16, :],
        np.asarray(first.get_layer("conv4").kernel)[..., :16, :],
    )


def test_weight_init_is_used_for_kernels() -> None:
    spec = ArchSpec(blocks=[FlattenBlock(), DenseBlock(units=256, activation="linear")])
    model = build_model(spec, (16, 16, 1), 2, weight_init="glorot_uniform", seed=0)
    kernel = np.asarray(model.get_layer("dense1").kernel)
    limit = np.sqrt(6 / (256 + 256))
    assert kernel.min() >= -limit and kernel.max() <= limit
    assert isinstance(
        model.get_layer("dense1").kernel_initializer, keras.initializers.GlorotUniform
    )
    he = build_model(spec, (16, 16, 1), 2, seed=0)
    assert isinstance(he.get_layer("dense1").kernel_initializer, keras.initializers.HeNormal)


def test_dropout_override_replaces_every_rate() -> None:
    spec = ArchSpec(blocks=[DropoutBlock(rate=0.1), DenseBlock(units=4), DropoutBlock(rate=0.2)])
    model = build_model(spec, (8, 8, 1), 3, dropout=0.6)
    assert model.get_layer("dropout1").rate == pytest.approx(0.6)
    assert model.get_layer("dropout2").rate == pytest.approx(0.6)
    assert "dropout_logits" not in layer_names(model)
    kept = build_model(spec, (8, 8, 1), 3)
    assert kept.get_layer("dropout1").rate == pytest.approx(0.1)


def test_dropout_is_added_before_logits_when_the_spec_has_none() -> None:
    spec = get_preset("mlp")
    model = build_model(spec, (8, 8, 1), 3, dropout=0.3)
    assert layer_names(model)[-2:] == ["dropout_logits", "logits"]
    assert model.get_layer("dropout_logits").rate == pytest.approx(0.3)
    assert "dropout_logits" not in layer_names(build_model(spec, (8, 8, 1), 3, dropout=0.0))
    assert "dropout_logits" not in layer_names(build_model(spec, (8, 8, 1), 3))


def test_flatten_is_added_where_a_vector_is_needed() -> None:
    to_dense = build_model(
        ArchSpec(blocks=[ConvBlock(filters=2), DenseBlock(units=3)]), (8, 8, 1), 2
    )
    assert inbound_names(to_dense, "dense1") == ["flatten"]
    to_logits = build_model(ArchSpec(blocks=[ConvBlock(filters=2)]), (8, 8, 1), 2)
    assert layer_names(to_logits)[-2:] == ["flatten", "logits"]
    pooled = build_model(
        ArchSpec(blocks=[ConvBlock(filters=2), GlobalPoolBlock(kind="max")]), (8, 8, 1), 2
    )
    assert "flatten" not in layer_names(pooled)
    assert embedding_layer_name(pooled) == "gmp"


def test_residual_block_has_a_real_skip_connection() -> None:
    spec = ArchSpec(
        blocks=[ConvBlock(filters=4), ResidualBlock(filters=4), ResidualBlock(filters=8, strides=2)]
    )
    model = build_model(spec, (8, 8, 1), 2, seed=0)
    # Same shape: the block's input itself is added back (identity shortcut).
    assert sorted(inbound_names(model, "res1_add")) == ["conv1", "res1_bn_b"]
    assert "res1_proj" not in layer_names(model)
    # Shape changes: a strided 1x1 projection carries the shortcut.
    assert sorted(inbound_names(model, "res2_add")) == ["res2_bn_b", "res2_proj_bn"]
    assert inbound_names(model, "res2_proj") == ["res1_out"]
    assert inbound_names(model, "res2_conv_a") == ["res1_out"]
    assert model.get_layer("res2_proj").kernel_size == (1, 1)
    assert model.get_layer("res2_out").output.shape == (None, 4, 4, 8)


def test_pooling_shrinks_or_disappears_on_small_inputs() -> None:
    spec = ArchSpec(blocks=[PoolBlock(size=4), PoolBlock(size=4), PoolBlock(size=4)])
    model = build_model(spec, (8, 8, 1), 2)
    assert [name for name in layer_names(model) if name.startswith("pool")] == ["pool1", "pool2"]
    assert model.get_layer("pool1").output.shape == (None, 2, 2, 1)
    assert model.get_layer("pool2").pool_size == (2, 2)
    assert model.get_layer("pool2").output.shape == (None, 1, 1, 1)
    wide = build_model(ArchSpec(blocks=[PoolBlock(size=4)]), (2, 8, 1), 2)
    assert wide.get_layer("pool1").pool_size == (2, 4)


def test_valid_convolution_larger_than_the_tensor_is_refused() -> None:
    spec = ArchSpec(blocks=[PoolBlock(), ConvBlock(kernel_size=5, padding="valid")])
    with pytest.raises(InvalidInput) as caught:
        build_model(spec, (8, 8, 1), 2)
    assert caught.value.field == "arch.blocks.1"
    assert build_model(spec, (16, 16, 1), 2).get_layer("conv1").output.shape[1] == 4


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input_shape": (8, 8)}, "input_shape"),
        ({"input_shape": (8, 8, 0)}, "input_shape"),
        ({"input_shape": (0, 8, 1)}, "input_shape"),
        ({"input_shape": (8.0, 8, 1)}, "input_shape"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"weight_init": "zeros"}, "weight_init"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"spec": {"blocks": [{"type": "flatten"}]}}, "arch"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict, field: str) -> None:
    arguments = {"spec": get_preset("mlp"), "input_shape": (8, 8, 1), "num_classes": 3}
    arguments.update(kwargs)
    spec = arguments.pop("spec")
    with pytest.raises(InvalidInput) as caught:
        build_model(spec, **arguments)
    assert caught.value.field == field


def test_embedding_layer_of_user_models() -> None:
    sequential = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, name="hidden"), keras.layers.Dense(2, name="out")]
    )
    assert embedding_layer_name(sequential) == "hidden"
    inputs = keras.Input((6,), name="x")
    hidden = keras.layers.Dense(3, name="features")(inputs)
    probabilities = keras.layers.Dense(2, activation="softmax", name="head")(hidden)
    functional = keras.Model(inputs, probabilities)
    assert embedding_layer_name(functional) == "features"
    single = keras.Sequential([keras.Input((5,), name="pixels"), keras.layers.Dense(2)])
    assert embedding_layer_name(single) == "pixels"


def test_embedding_layer_refuses_a_merge_at_the_end() -> None:
    inputs = keras.Input((4,))
    left = keras.layers.Dense(2)(inputs)
    right = keras.layers.Dense(2)(inputs)
    model = keras.Model(inputs, keras.layers.Add()([left, right]))
    with pytest.raises(InvalidInput, match="several tensors"):
        embedding_layer_name(model)


def test_model_summary_describes_every_layer() -> None:
    model = build_model(ArchSpec(blocks=[ConvBlock(filters=4), DenseBlock(units=5)]), (8, 8, 1), 3)
    rows = model_summary(model)
    assert [row["name"] for row in rows] == layer_names(model)
    by_name = {row["name"]: row for row in rows}
    assert by_name["conv1"] == {
        "name": "conv1",
        "class_name": "Conv2D",
        "output_shape": [None, 8, 8, 4],
        "param_count": 3 * 3 * 1 * 4 + 4,
    }
    assert by_name["flatten"]["output_shape"] == [None, 256]
    assert by_name["logits"]["param_count"] == 5 * 3 + 3
    assert sum(row["param_count"] for row in rows) == model.count_params()
