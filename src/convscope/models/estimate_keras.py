"""How large a ``.keras`` file's network is, counted from its config before Keras builds it.

The config has passed the loader's allowlist of built-in layers
(:func:`convscope.models.io.check_model_config`); shapes are inferred layer by layer, the
way Keras would, with plain arithmetic, and the weights each layer would allocate are
added up (:class:`convscope.models.estimate.LayerCounter`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from convscope.models.estimate import LayerCounter, SizeEstimate

_MAX_DIM = 2**40
_MAX_NESTING = 8

Shape = tuple[int | None, ...]


class Unsizable(Exception):
    """A ``.keras`` config whose size cannot be worked out; the message says why."""


def estimate_keras_config(config: Any) -> SizeEstimate:
    """Count the weights Keras would allocate to build a ``.keras`` config, without Keras.

    The config must already have passed the loader's allowlist
    (:func:`convscope.models.io.check_model_config`). Shapes are inferred layer by layer
    from the inputs; a layer's declared ``build_config`` counts too, since Keras builds a
    layer from it before connecting it. Unknown sizes (``None``) count as 1.

    Args:
        config: The parsed ``config.json`` of a Functional or Sequential model.

    Returns:
        Parameters (an upper bound when a layer is built twice with different shapes) and
        activations of one image.

    Raises:
        Unsizable: A layer's shape or arguments cannot be worked out.
    """
    count = LayerCounter()
    _model(config, count, depth=0, given=None)
    return count.result()


def _model(config: Any, count: LayerCounter, depth: int, given: list[Shape] | None) -> list[Shape]:
    if depth > _MAX_NESTING:
        raise Unsizable("models are nested too deeply")
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise Unsizable("a model without a config")
    inner = config["config"]
    layers = inner.get("layers")
    if not isinstance(layers, list):
        raise Unsizable("a model without a list of layers")
    if config.get("class_name") == "Sequential":
        return _sequential(inner, layers, count, depth, given)
    return _functional(inner, layers, count, depth)


def _sequential(
    inner: dict[str, Any],
    layers: list[Any],
    count: LayerCounter,
    depth: int,
    given: list[Shape] | None,
) -> list[Shape]:
    shapes = given
    build = inner.get("build_input_shape")
    if shapes is None and build is not None:
        shapes = [_shape(build)]
    for layer in layers:
        shapes = [_layer(layer, shapes, count, depth)]
    if shapes is None:
        raise Unsizable("a Sequential model without an input shape")
    return shapes


def _functional(
    inner: dict[str, Any], layers: list[Any], count: LayerCounter, depth: int
) -> list[Shape]:
    outputs: dict[tuple[str, int], Shape] = {}
    for layer in layers:
        if not isinstance(layer, dict):
            raise Unsizable("a layer that is not an object")
        name = layer.get("name") or (layer.get("config") or {}).get("name")
        if not isinstance(name, str):
            raise Unsizable("a layer without a name")
        nodes = layer.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise Unsizable(f"layer {name!r} has malformed inbound nodes")
        if not nodes:
            outputs[(name, 0)] = _layer(layer, None, count, depth)
            continue
        for node_index, node in enumerate(nodes):
            inputs = [outputs.get(key) for key in _history(node)]
            if not inputs or any(shape is None for shape in inputs):
                raise Unsizable(f"layer {name!r} reads a tensor defined after it, or none")
            outputs[(name, node_index)] = _layer(
                layer,
                inputs,  # type: ignore[arg-type]
                count,
                depth,
                first_call=node_index == 0,
            )
    if not outputs:
        raise Unsizable("a model without layers")
    return [next(reversed(outputs.values()))]


def _history(node: Any) -> list[tuple[str, int]]:
    # Every tensor a call reads: {"class_name": "__keras_tensor__", "config":
    # {"keras_history": [layer, node, tensor]}}, anywhere inside the call's arguments.
    found: list[tuple[str, int]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") == "__keras_tensor__":
                history = (item.get("config") or {}).get("keras_history")
                if (
                    not isinstance(history, list)
                    or len(history) < 2
                    or not isinstance(history[0], str)
                    or not isinstance(history[1], int)
                ):
                    raise Unsizable("a tensor with a malformed history")
                found.append((history[0], history[1]))
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found


def _dim(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_DIM:
        raise Unsizable(f"a size of {value!r}")
    return value


def _shape(value: Any) -> Shape:
    if isinstance(value, dict) and "config" in value:  # a serialised tuple
        value = value["config"].get("value")
    if not isinstance(value, list | tuple) or len(value) > 16:
        raise Unsizable(f"a shape of {value!r}")
    return tuple(_dim(side) for side in value)


def _ints(value: Any, rank: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * rank
    if isinstance(value, dict) and "config" in value:
        value = value["config"].get("value")
    if not isinstance(value, list | tuple) or len(value) != rank:
        raise Unsizable(f"{name} of {value!r}")
    sides = tuple(_dim(side) for side in value)
    if any(side is None or side < 1 for side in sides):
        raise Unsizable(f"{name} of {value!r}")
    return sides  # type: ignore[return-value]


def _known(side: int | None) -> int:
    return 1 if side is None else side


def _layer(
    layer: Any,
    inputs: list[Shape] | None,
    count: LayerCounter,
    depth: int,
    *,
    first_call: bool = True,
) -> Shape:
    if not isinstance(layer, dict):
        raise Unsizable("a layer that is not an object")
    class_name = layer.get("class_name")
    config = layer.get("config")
    if not isinstance(config, dict):
        raise Unsizable(f"layer {class_name!r} has no config")
    if class_name in ("Functional", "Sequential"):
        return _model(layer, count, depth + 1, inputs)[0]
    if class_name == "InputLayer":
        output = _shape(config.get("batch_shape", config.get("batch_input_shape")))
        count.layer([_known(side) for side in output[1:]])
        return output
    declared = (layer.get("build_config") or {}).get("input_shape")
    built_params = 0
    if declared is not None:
        # Keras may build the layer from its declared input shape before connecting it:
        # those weights count too, whatever the real inputs are.
        several = bool(declared) and isinstance(declared[0], list | dict)
        declared_inputs = [_shape(item) for item in declared] if several else [_shape(declared)]
        _, built_params = _rule(str(class_name), config, declared_inputs)
        inputs = inputs or declared_inputs
    if inputs is None:
        raise Unsizable(f"layer {config.get('name')!r} has no input shape")
    output, params = _rule(str(class_name), config, inputs)
    if first_call:  # a shared layer has one set of weights
        count.params += max(params, built_params)
    count.layer([_known(side) for side in output[1:]])
    return output


_SAME_SHAPE = frozenset(
    {
        "Dropout",
        "SpatialDropout2D",
        "GaussianNoise",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "Rescaling",
        "Identity",
        "RandomFlip",
        "RandomTranslation",
        "RandomRotation",
        "RandomZoom",
        "RandomContrast",
    }
)
_MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})


def _rule(class_name: str, config: dict[str, Any], inputs: list[Shape]) -> tuple[Shape, int]:
    """The output shape and the parameter count of one call of a layer."""
    first = inputs[0]
    if config.get("data_format", "channels_last") != "channels_last":
        raise Unsizable(f"{class_name} with data_format {config.get('data_format')!r}")
    if class_name in _SAME_SHAPE:
        return first, 0
    if class_name in _MERGES:
        return _broadcast(inputs), 0
    if class_name == "Concatenate":
        return _concatenate(inputs, config.get("axis", -1)), 0
    if class_name == "Dense":
        units = _ints(config.get("units"), 1, "units")[0]
        bias = units if config.get("use_bias", True) else 0
        return (*first[:-1], units), _known(first[-1]) * units + bias
    if class_name in ("BatchNormalization", "LayerNormalization", "GroupNormalization"):
        return first, _normalization(class_name, config, first)
    if class_name == "Normalization":
        return first, 2 * _known(first[-1]) + 1
    if class_name == "PReLU":
        shared = config.get("shared_axes") or []
        shared = [shared] if isinstance(shared, int) else shared
        sides = [1 if axis in shared else _known(side) for axis, side in enumerate(first) if axis]
        return first, math.prod(sides)
    if class_name == "Flatten":
        return (first[0], math.prod(_known(side) for side in first[1:])), 0
    if class_name == "Reshape":
        return _reshape(first, config.get("target_shape")), 0
    if class_name == "Permute":
        dims = _ints(config.get("dims"), len(first) - 1, "dims")
        return (first[0], *(first[axis] for axis in dims)), 0
    return _spatial(class_name, config, first)


def _normalization(class_name: str, config: dict[str, Any], shape: Shape) -> int:
    axis = config.get("axis", -1)
    axes = axis if isinstance(axis, list) else [axis]
    size = 1
    for item in axes:
        if (
            isinstance(item, bool)
            or not isinstance(item, int)
            or not -len(shape) <= item < len(shape)
        ):
            raise Unsizable(f"axis {axis!r}")
        size *= _known(shape[item])
    per_value = 4 if class_name == "BatchNormalization" else 2
    return per_value * size


def _broadcast(inputs: list[Shape]) -> Shape:
    rank = max(len(shape) for shape in inputs)
    padded = [(1,) * (rank - len(shape)) + shape for shape in inputs]
    return tuple(
        None
        if any(side is None for side in sides)
        else max(side for side in sides if side is not None)
        for sides in zip(*padded, strict=True)
    )


def _concatenate(inputs: list[Shape], axis: Any) -> Shape:
    first = inputs[0]
    if isinstance(axis, bool) or not isinstance(axis, int) or not -len(first) <= axis < len(first):
        raise Unsizable(f"axis {axis!r}")
    sides = [shape[axis] if len(shape) == len(first) else None for shape in inputs]
    total = None if any(side is None for side in sides) else sum(sides)  # type: ignore[arg-type]
    output = list(first)
    output[axis] = total
    return tuple(output)


def _reshape(shape: Shape, target: Any) -> Shape:
    if isinstance(target, list | tuple):  # -1 stands for the one side left to infer
        target = [None if side == -1 else side for side in target]
    sides = list(_shape(target))
    if sides.count(None) > 1:
        raise Unsizable(f"target_shape {target!r}")
    if None in sides:
        known = math.prod(side for side in sides if side is not None) or 1
        sides[sides.index(None)] = max(1, math.prod(_known(s) for s in shape[1:]) // known)
    return (shape[0], *sides)


def _spatial(class_name: str, config: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    if class_name in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        if len(shape) != 4:
            raise Unsizable(f"{class_name} of a tensor of rank {len(shape)}")
        if config.get("keepdims"):
            return (shape[0], 1, 1, shape[3]), 0
        return (shape[0], shape[3]), 0
    if class_name == "Conv1D":
        return _conv(config, shape, rank=1)
    if len(shape) != 4:
        raise Unsizable(f"{class_name} of a tensor of rank {len(shape)}")
    batch, height, width, channels = shape
    if class_name in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"):
        return _conv(config, shape, rank=2, kind=class_name)
    if class_name in ("MaxPooling2D", "AveragePooling2D"):
        pool = _ints(config.get("pool_size", 2), 2, "pool_size")
        strides = _ints(config.get("strides") or pool, 2, "strides")
        padding = config.get("padding", "valid")
        sides = [
            _pooled(side, window, stride, padding)
            for side, window, stride in zip((height, width), pool, strides, strict=True)
        ]
        return (batch, *sides, channels), 0
    if class_name in ("Resizing", "CenterCrop"):
        size = _ints([config.get("height"), config.get("width")], 2, "height and width")
        return (batch, *size, channels), 0
    if class_name == "UpSampling2D":
        size = _ints(config.get("size", 2), 2, "size")
        return (batch, *_scaled((height, width), size), channels), 0
    if class_name in ("ZeroPadding2D", "Cropping2D"):
        key = "padding" if class_name == "ZeroPadding2D" else "cropping"
        sign = 1 if class_name == "ZeroPadding2D" else -1
        pads = _pairs(config.get(key))
        sides = [
            None if side is None else max(0, side + sign * sum(pair))
            for side, pair in zip((height, width), pads, strict=True)
        ]
        return (batch, *sides, channels), 0
    raise Unsizable(f"no size rule for {class_name}")


def _scaled(sides: Iterable[int | None], factors: Iterable[int]) -> list[int | None]:
    return [
        None if side is None else side * factor for side, factor in zip(sides, factors, strict=True)
    ]


def _pairs(value: Any) -> list[tuple[int, int]]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [[value, value], [value, value]]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise Unsizable(f"padding of {value!r}")
    pairs = []
    for item in value:
        pair = [item, item] if isinstance(item, int) and not isinstance(item, bool) else item
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise Unsizable(f"padding of {value!r}")
        first, second = (_dim(side) for side in pair)
        if first is None or second is None:
            raise Unsizable(f"padding of {value!r}")
        pairs.append((first, second))
    return pairs


def _pooled(side: int | None, window: int, stride: int, padding: Any) -> int | None:
    if side is None:
        return None
    if padding == "same":
        return -(-side // stride)
    return max(0, (side - window) // stride + 1)


def _conv(
    config: dict[str, Any], shape: Shape, *, rank: int, kind: str = "Conv"
) -> tuple[Shape, int]:
    if len(shape) != rank + 2:
        raise Unsizable(f"{kind} of a tensor of rank {len(shape)}")
    channels = _known(shape[-1])
    kernel = _ints(config.get("kernel_size"), rank, "kernel_size")
    strides = _ints(config.get("strides", 1), rank, "strides")
    dilation = _ints(config.get("dilation_rate", 1), rank, "dilation_rate")
    padding = config.get("padding", "valid")
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation, strict=True)]
    if kind == "Conv2DTranspose":
        sides: list[int | None] = [
            None if side is None else side * s + (max(k - s, 0) if padding == "valid" else 0)
            for side, s, k in zip(shape[1:-1], strides, span, strict=True)
        ]
    else:
        sides = [
            _pooled(side, k, s, padding)
            for side, k, s in zip(shape[1:-1], span, strides, strict=True)
        ]
    window = math.prod(kernel)
    use_bias = bool(config.get("use_bias", True))
    if kind in ("DepthwiseConv2D", "SeparableConv2D"):
        multiplier = _ints(config.get("depth_multiplier", 1), 1, "depth_multiplier")[0]
        depthwise = window * channels * multiplier
        if kind == "DepthwiseConv2D":
            out = channels * multiplier
            return (shape[0], *sides, out), depthwise + (out if use_bias else 0)
        filters = _ints(config.get("filters"), 1, "filters")[0]
        pointwise = channels * multiplier * filters
        return (shape[0], *sides, filters), depthwise + pointwise + (filters if use_bias else 0)
    filters = _ints(config.get("filters"), 1, "filters")[0]
    groups = _ints(config.get("groups", 1), 1, "groups")[0]
    params = window * (channels // groups if kind != "Conv2DTranspose" else channels) * filters
    return (shape[0], *sides, filters), params + (filters if use_bias else 0)
