"""How one layer computes its output: the numbers that go in, and the arithmetic.

For a convolution, each output value is a multiply-add: the patch of the input under the
kernel (every input channel), times the kernel's weights, summed, plus the bias, then the
activation (ReLU: negative sums become 0). Max-pooling keeps the largest value of each
window; average pooling their mean. Flatten lays a feature map out as one long vector,
row by row, channels innermost. A dense layer is a multiply-add over its whole input; the
last one gives the logits, which the softmax turns into probabilities that sum to 1.

This lens returns, for the chosen layer and image, the layer's input and output as the
network computed them, its weights and bias, and where padding puts the kernel's first
row and column: the functions below (:func:`conv_terms`, :func:`pool_window`,
:func:`flatten_source`, :func:`dense_terms`) redo any one output value from them, as the
web app does when a learner hovers a pixel.

References:
    Zijie J. Wang, Robert Turko, Omar Shaikh, Haekyu Park, Nilaksh Das, Fred Hohman, Minsuk
    Kahng, Duen Horng Chau. "CNN Explainer: Learning Convolutional Neural Networks with
    Interactive Visualization". IEEE VIS 2020. https://arxiv.org/abs/2004.15004
    Vincent Dumoulin, Francesco Visin. "A guide to convolution arithmetic for deep
    learning". 2016. https://arxiv.org/abs/1603.07285

Caveat: the arithmetic is redone in float64 from the float32 values Keras computed with,
so the redone value and the network's can differ in the last digits.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, register_lens

if TYPE_CHECKING:
    import keras

LayerKind = Literal["convolution", "pooling", "flatten", "dense"]

_SUB_MODELS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


class ConvExplainerParams(LensParams):
    """The layer to explain."""

    layer: str | None = Field(
        default=None,
        max_length=256,
        description="A convolution, pooling, flatten or dense layer; default: the first "
        "convolution (or the first layer it can explain).",
    )


def layer_kind(layer: Any) -> LayerKind | None:
    """Which arithmetic ``layer`` does, or None for a layer this lens does not explain.

    Plain 2-D convolutions (no groups, no dilation), 2-D max and average pooling, Flatten
    and Dense layers are explained.
    """
    import keras

    if type(layer) is keras.layers.Conv2D:
        plain = layer.groups == 1 and tuple(layer.dilation_rate) == (1, 1)
        return "convolution" if plain and layer.data_format == "channels_last" else None
    if isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
        return "pooling" if layer.data_format == "channels_last" else None
    if isinstance(layer, keras.layers.Flatten):
        return "flatten"
    if type(layer) is keras.layers.Dense:
        return "dense"
    return None


def explainable_layers(model: keras.Model) -> list[Any]:
    """The layers of ``model`` whose arithmetic this lens explains, in order."""
    from convscope.models import inspect

    return [layer for layer in inspect.inspectable_layers(model) if layer_kind(layer)]


def padding_offsets(
    size: tuple[int, int], window: tuple[int, int], strides: tuple[int, int], padding: str
) -> tuple[int, int]:
    """Rows and columns of zero padding before the input (top, left), as TensorFlow pads.

    With ``"same"`` the output has ``ceil(size / stride)`` rows; the padding this needs is
    split with the extra row or column at the end (bottom, right).
    """
    if padding != "same":
        return (0, 0)
    before = []
    for n, k, s in zip(size, window, strides, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        before.append(total // 2)
    return before[0], before[1]


def _window(
    inputs: np.ndarray, row: int, col: int, shape: tuple[int, int], meta: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """The ``[kh, kw, C]`` window of ``inputs`` (``[H, W, C]``) under output (row, col), and
    a ``[kh, kw]`` mask of the positions inside the input (outside: padding)."""
    height, width, channels = inputs.shape
    top = row * meta["strides"][0] - meta["pad"][0]
    left = col * meta["strides"][1] - meta["pad"][1]
    window = np.zeros((*shape, channels), dtype=np.float64)
    inside = np.zeros(shape, dtype=bool)
    for i in range(shape[0]):
        for j in range(shape[1]):
            r, c = top + i, left + j
            if 0 <= r < height and 0 <= c < width:
                window[i, j] = inputs[r, c]
                inside[i, j] = True
    return window, inside


def conv_terms(
    inputs: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    row: int,
    col: int,
    channel: int,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """One output value of a convolution, redone as a multiply-add.

    Args:
        inputs: The layer's input for one image, ``[H, W, C_in]``.
        kernel: ``[kh, kw, C_in, C_out]``.
        bias: ``[C_out]``, or None without bias.
        row: Output row.
        col: Output column.
        channel: Output channel.
        meta: The lens's meta (``strides``, ``pad``).

    Returns:
        ``patch`` and ``weights`` (``[kh, kw, C_in]``), ``products`` (their product),
        ``per_channel`` (the sum over each input channel), ``bias`` and ``total`` (the sum
        of the products plus the bias: the value before the activation).
    """
    weights = np.asarray(kernel[..., channel], dtype=np.float64)
    patch, _ = _window(inputs, row, col, weights.shape[:2], meta)
    products = patch * weights
    offset = 0.0 if bias is None else float(bias[channel])
    return {
        "patch": patch,
        "weights": weights,
        "products": products,
        "per_channel": products.sum(axis=(0, 1)),
        "bias": offset,
        "total": float(products.sum() + offset),
    }


def pool_window(
    inputs: np.ndarray, row: int, col: int, channel: int, meta: dict[str, Any]
) -> dict[str, Any]:
    """One output value of a pooling layer: its window, and which input won (max).

    Returns:
        ``window`` (``[ph, pw]``; padding counts as absent), ``inside`` (its mask),
        ``winner`` (row, column in the window of the largest value) and ``value`` (the
        maximum, or the mean of the positions inside for average pooling).
    """
    shape = tuple(meta["pool_size"])
    window, inside = _window(inputs, row, col, (shape[0], shape[1]), meta)
    values = window[..., channel]
    candidates = np.where(inside, values, -np.inf)
    winner = np.unravel_index(int(np.argmax(candidates)), candidates.shape)
    if meta["operation"] == "max":
        value = float(candidates[winner])
    else:
        value = float(values[inside].mean())
    return {
        "window": values,
        "inside": inside,
        "winner": (int(winner[0]), int(winner[1])),
        "value": value,
    }


def flatten_source(index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The input position (row, column, channel) that flatten puts at ``index``."""
    return tuple(int(i) for i in np.unravel_index(index, shape))


def dense_terms(
    inputs: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, unit: int
) -> dict[str, Any]:
    """One unit of a dense layer, as a multiply-add over its whole input.

    Returns:
        ``products`` (each input times its weight), ``bias`` and ``total`` (before the
        activation).
    """
    products = np.asarray(inputs, np.float64).ravel() * np.asarray(kernel[:, unit], np.float64)
    offset = 0.0 if bias is None else float(bias[unit])
    return {"products": products, "bias": offset, "total": float(products.sum() + offset)}


def activate(name: str | None, values: np.ndarray) -> np.ndarray:
    """The activations the explainer shows, applied to pre-activation values.

    Raises:
        InvalidInput: Another activation (the lens refuses such layers first).
    """
    values = np.asarray(values, dtype=np.float64)
    if name is None:
        return values
    if name == "relu":
        return np.maximum(values, 0.0)
    if name == "softmax":
        shifted = np.exp(values - values.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    if name == "tanh":
        return np.tanh(values)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-values))
    raise InvalidInput("layer", f"the explainer does not show the {name} activation")


def _activation_name(layer: Any) -> str | None:
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return None if name in (None, "linear") else str(name)


def _choose(model: keras.Model, name: str | None) -> Any:
    from convscope.models import inspect

    layers = explainable_layers(model)
    if name is not None:
        layer = inspect.find_layer(model, name)
        if layer not in layers:
            raise InvalidInput(
                "layer",
                f"{name} is a {type(layer).__name__}: the explainer shows convolution, "
                "pooling, flatten and dense layers",
                choices=[each.name for each in layers],
            )
        return layer
    if not layers:
        raise InvalidInput("model", "the model has no layer the explainer can show")
    convolutions = [layer for layer in layers if layer_kind(layer) == "convolution"]
    return (convolutions or layers)[0]


def _sub_model(model: keras.Model, layer: Any) -> Any:
    """A model returning the layer's input and output (cached; it shares the weights)."""
    import keras

    from convscope.models import inspect

    per_model = _SUB_MODELS.setdefault(model, {})
    if layer.name not in per_model:
        per_model[layer.name] = keras.Model(
            model.inputs[0] if len(model.inputs) == 1 else model.inputs,
            [layer.input, layer.output, inspect.logits_model(model).outputs[0]],
        )
    return per_model[layer.name]


def _input_layer(model: keras.Model, layer: Any) -> str:
    history = getattr(layer.input, "_keras_history", None)
    source = getattr(getattr(history, "operation", None), "name", None)
    names = {each.name for each in model.layers}
    return str(source) if source in names else "input"


def _meta(layer: Any, kind: LayerKind, input_shape: tuple[int, ...]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "layer": layer.name,
        "class_name": type(layer).__name__,
        "kind": kind,
        "activation": _activation_name(layer),
        "input_shape": list(input_shape),
    }
    if kind in ("convolution", "pooling"):
        window = tuple(layer.kernel_size if kind == "convolution" else layer.pool_size)
        strides = tuple(layer.strides)
        meta.update(
            window=list(window),
            strides=list(strides),
            padding=layer.padding,
            pad=list(
                padding_offsets(
                    (input_shape[0], input_shape[1]),
                    (int(window[0]), int(window[1])),
                    (int(strides[0]), int(strides[1])),
                    layer.padding,
                )
            ),
        )
        if kind == "pooling":
            import keras

            operation = "max" if isinstance(layer, keras.layers.MaxPooling2D) else "average"
            meta.update(pool_size=list(window), operation=operation)
    return meta


@register_lens(
    "conv_explainer",
    title="How a layer computes",
    kind="activations",
    description=(
        "The numbers behind one layer's output for the image: its input, its kernel and "
        "bias, and the padding, so that any output value can be redone as a multiply-add "
        "then the ReLU (convolution), a maximum (pooling), a re-ordering (flatten), or "
        "logits then the softmax (the last dense layer)."
    ),
)
class ConvExplainer(Lens):
    """The layer's input and output, its weights and bias, repeated per image (every array
    is batch first); the logits and probabilities of the whole network."""

    Params = ConvExplainerParams
    references = (
        "Wang et al. CNN Explainer: Learning Convolutional Neural Networks with Interactive "
        "Visualization. IEEE VIS 2020. https://arxiv.org/abs/2004.15004",
        "Dumoulin and Visin. A guide to convolution arithmetic for deep learning. 2016. "
        "https://arxiv.org/abs/1603.07285",
    )

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: ConvExplainerParams
    ) -> LensResult:
        from convscope.models import inspect

        layer = _choose(model, params.layer)
        kind = layer_kind(layer)
        assert kind is not None
        meta = _meta(layer, kind, tuple(int(n) for n in layer.input.shape[1:]))
        if meta["activation"] not in (None, "relu", "softmax", "tanh", "sigmoid"):
            raise InvalidInput(
                "layer", f"the explainer does not show the {meta['activation']} activation"
            )
        layer_input, layer_output, logits = inspect.forward(_sub_model(model, layer), inputs.images)
        count = len(inputs.images)
        arrays = {"input": layer_input, "output": layer_output, "logits": logits}
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        arrays["probabilities"] = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
        if kind in ("convolution", "dense"):
            kernel = np.asarray(layer.kernel.numpy(), dtype=np.float32)
            bias = (
                np.asarray(layer.bias.numpy(), dtype=np.float32)
                if layer.use_bias
                else np.zeros(kernel.shape[-1], np.float32)
            )
            # Repeated per image: every array of a lens is batch first.
            arrays["kernel"] = np.broadcast_to(kernel, (count, *kernel.shape)).copy()
            arrays["bias"] = np.broadcast_to(bias, (count, *bias.shape)).copy()
        meta.update(
            input_layer=_input_layer(model, layer), is_output=_is_logits_layer(model, layer)
        )
        return LensResult(arrays=arrays, meta=meta)


def _is_logits_layer(model: keras.Model, layer: Any) -> bool:
    """Whether ``layer`` computes the logits (the model's last layer, or the one before a
    final softmax)."""
    from convscope.models import inspect

    output = inspect.logits_model(model).outputs[0]
    history = getattr(output, "_keras_history", None)
    source = getattr(history, "operation", None)
    inner = getattr(source, "inner", None)  # a last layer with its softmax taken off
    return source is layer or inner is layer
