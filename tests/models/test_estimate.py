"""Network sizes counted without Keras agree with the models Keras builds, and the limits
refuse a network too large before anything is allocated."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from convscope.config import Settings
from convscope.errors import InvalidInput, LimitExceeded
from convscope.models.build import build_model
from convscope.models.estimate import check_size, estimate_spec
from convscope.models.estimate_keras import Unsizable, estimate_keras_config
from convscope.models.presets import get_preset, preset_names
from convscope.models.spec import ArchSpec

#: Eight 11x11 convolutions of 1,024 filters and a dense layer of 8,192 units: about a
#: billion parameters (tens of gigabytes with the optimizer).
HUGE = ArchSpec.model_validate(
    {
        "name": "huge",
        "blocks": [
            *({"type": "conv", "filters": 1024, "kernel_size": 11} for _ in range(8)),
            {"type": "dense", "units": 8192},
        ],
    }
)


def activations_of(model: keras.Model) -> int:
    """Values output by every layer for one image (the input layer included)."""
    return sum(math.prod(layer.output.shape[1:]) for layer in model.layers)


def random_spec(rng: np.random.Generator) -> ArchSpec:
    """A buildable spec drawn from every block type."""
    blocks: list[dict] = []
    for _ in range(int(rng.integers(1, 6))):
        kind = rng.choice(["conv", "pool", "residual", "batchnorm", "dropout"])
        if kind == "conv":
            blocks.append(
                {
                    "type": "conv",
                    "filters": int(rng.integers(1, 9)),
                    "kernel_size": int(rng.integers(1, 4)),
                    "strides": int(rng.integers(1, 3)),
                    "padding": str(rng.choice(["same", "valid"])),
                }
            )
        elif kind == "pool":
            blocks.append({"type": "pool", "size": int(rng.integers(1, 4))})
        elif kind == "residual":
            blocks.append({"type": "residual", "filters": int(rng.integers(1, 9)), "strides": 2})
        else:
            blocks.append({"type": str(kind)})
    tail = rng.choice(["flatten", "global_pool", "dense"])
    blocks.append({"type": str(tail)} if tail != "dense" else {"type": "dense", "units": 5})
    return ArchSpec.model_validate({"name": "random", "blocks": blocks})


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_spec_estimate_equals_the_built_model(name: str, shape: tuple[int, int, int]) -> None:
    spec = get_preset(name)
    model = build_model(spec, shape, 10, dropout=0.2)
    estimate = estimate_spec(spec, shape, 10, dropout=0.2)
    assert estimate.params == model.count_params()
    assert estimate.activations == activations_of(model) - math.prod(shape)


def test_random_specs_are_estimated_exactly() -> None:
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 25:
        spec = random_spec(rng)
        try:
            model = build_model(spec, (12, 12, 2), 3)
        except InvalidInput as error:  # a valid kernel larger than the tensor
            with pytest.raises(InvalidInput) as caught:
                estimate_spec(spec, (12, 12, 2), 3)
            assert caught.value.field == error.field
            continue
        estimate = estimate_spec(spec, (12, 12, 2), 3)
        assert estimate.params == model.count_params(), spec
        assert estimate.activations == activations_of(model) - 12 * 12 * 2, spec
        checked += 1


def test_the_huge_network_is_refused_before_building() -> None:
    estimate = estimate_spec(HUGE, (28, 28, 1), 10)
    assert estimate.params > 1_000_000_000
    with pytest.raises(LimitExceeded) as caught:
        check_size(estimate, batch_size=32)
    assert caught.value.limit == "max_model_params"
    assert caught.value.field == "arch"
    assert "max_model_params" in str(caught.value)


def test_activation_memory_is_checked_with_the_batch_size() -> None:
    wide = ArchSpec.model_validate(
        {"blocks": [{"type": "conv", "filters": 64}, {"type": "global_pool"}]}
    )
    estimate = estimate_spec(wide, (512, 512, 3), 10)
    check_size(estimate, batch_size=1)
    with pytest.raises(LimitExceeded) as caught:
        check_size(estimate, batch_size=256)
    assert caught.value.limit == "max_activation_bytes"
    small = Settings(max_activation_bytes=estimate.activation_bytes(1) - 1)
    with pytest.raises(LimitExceeded):
        check_size(estimate, batch_size=1, settings=small)


def keras_models() -> list[keras.Model]:
    """Models of many allowlisted layer types, functional and sequential."""
    image = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="valid", dilation_rate=1)(image)
    x = keras.layers.BatchNormalization()(x)
    y = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)
    z = keras.layers.SeparableConv2D(8, 3, padding="same")(x)
    x = keras.layers.Concatenate()([y, z])
    x = keras.layers.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = keras.layers.Cropping2D(1)(x)
    x = keras.layers.UpSampling2D(2)(x)
    x = keras.layers.Conv2DTranspose(3, 3, strides=2)(x)
    x = keras.layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = keras.layers.PReLU(shared_axes=[1, 2])(x)
    x = keras.layers.LayerNormalization()(x)
    x = keras.layers.Resizing(9, 7)(x)
    x = keras.layers.GlobalMaxPooling2D(keepdims=True)(x)
    x = keras.layers.Reshape((-1,))(x)
    a = keras.layers.Dense(6)(x)
    b = keras.layers.Dense(6, use_bias=False)(x)
    x = keras.layers.Add()([a, b])
    x = keras.layers.Dropout(0.1)(x)
    functional = keras.Model(image, keras.layers.Dense(3)(x))

    sequential = keras.Sequential(
        [
            keras.Input((20, 6)),
            keras.layers.Conv1D(5, 3, groups=1),
            keras.layers.Permute((2, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(7, activation="relu"),
            keras.layers.PReLU(),
            keras.layers.Dense(2),
        ]
    )
    return [functional, sequential, build_model(get_preset("resnet_mini"), (16, 16, 3), 4)]


@pytest.mark.parametrize("index", range(3))
def test_keras_config_estimate_equals_count_params(index: int) -> None:
    model = keras_models()[index]
    config = json.loads(model.to_json())
    assert estimate_keras_config(config).params == model.count_params()


def test_declared_build_shapes_count_even_when_the_inputs_are_small() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    config = json.loads(model.to_json())
    dense = config["config"]["layers"][-1]
    dense["build_config"] = {"input_shape": [None, 10**9]}
    assert estimate_keras_config(config).params >= 3 * 10**9


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["config"]["layers"][1]["config"].update(units=-3),
        lambda c: c["config"]["layers"][1]["config"].update(units=True),
        lambda c: c["config"]["layers"][1]["config"].update(units=[1, 2]),
        lambda c: c["config"]["layers"][0]["config"].update(batch_shape="big"),
        lambda c: c["config"].update(layers="none"),
    ],
)
def test_configs_whose_size_cannot_be_worked_out_are_refused(edit) -> None:
    config = json.loads(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]).to_json())
    edit(config)
    with pytest.raises(Unsizable):
        estimate_keras_config(config)
