"""Looking into any built Keras model: its layers, sub-models that tap them, its logits.

Lenses work on *any* Keras model, not only the ones convscope builds: a Sequential model a
user wrote in a notebook, a functional model with skip connections, a model that ends in a
softmax. This module gives them one vocabulary for that:

- :func:`inspectable_layers` lists the layers whose output can be read (one tensor, not the
  input), in the model's order;
- :func:`find_layer` names a layer or says which names exist;
- :func:`logits_model` returns a model that outputs logits, replacing a final softmax by
  the identity (attribution methods work on logits: Simonyan et al. 2014; tf-keras-vis'
  ``ReplaceToLinear``);
- :func:`tap_model` returns a model that outputs chosen layers' activations and the logits;
- :func:`forward` runs a model in inference mode, in batches, NumPy in and out.

Sub-models share the original model's variables, so changing its weights (another
snapshot) changes theirs: they are built once per model and cached.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from convscope.errors import InvalidInput

#: Images per forward batch: large enough to amortise the per-call cost on CPU.
FORWARD_BATCH = 256

_LOGITS_MODELS: weakref.WeakKeyDictionary[keras.Model, keras.Model] = weakref.WeakKeyDictionary()
_TAP_MODELS: weakref.WeakKeyDictionary[keras.Model, dict[tuple[str, ...], keras.Model]] = (
    weakref.WeakKeyDictionary()
)


def _single_output(layer: keras.layers.Layer) -> Any | None:
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None  # not connected, or shared between several calls
    if isinstance(output, list | tuple | dict):
        return None
    return output


def inspectable_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of ``model`` whose single output can be read, in the model's order.

    Args:
        model: A built Keras model.

    Returns:
        Every layer except input layers and layers with several outputs (or none).
    """
    return [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer) and _single_output(layer) is not None
    ]


def find_layer(model: keras.Model, name: str, *, field: str = "layer") -> keras.layers.Layer:
    """The inspectable layer called ``name``.

    Raises:
        InvalidInput: No such layer; ``choices`` lists the layer names.
    """
    layers = inspectable_layers(model)
    for layer in layers:
        if layer.name == name:
            return layer
    raise InvalidInput(
        field, f"the model has no layer named {name!r}", choices=[layer.name for layer in layers]
    )


def is_convolution(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` is a 2-D convolution (plain, depthwise, separable or transposed)."""
    return isinstance(
        layer,
        keras.layers.Conv2D
        | keras.layers.DepthwiseConv2D
        | keras.layers.SeparableConv2D
        | keras.layers.Conv2DTranspose,
    )


def spatial_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Inspectable layers whose output is an image-shaped (batch, height, width, channels) map."""
    return [layer for layer in inspectable_layers(model) if len(layer.output.shape) == 4]


def last_convolution(model: keras.Model) -> keras.layers.Layer:
    """The last convolutional layer of ``model`` (Grad-CAM's usual layer).

    Raises:
        InvalidInput: The model has no convolution (``field`` is ``"model"``).
    """
    convolutions = [layer for layer in inspectable_layers(model) if is_convolution(layer)]
    if not convolutions:
        raise InvalidInput("model", "the model has no convolutional layer")
    return convolutions[-1]


def _softmax_activation(layer: keras.layers.Layer) -> bool:
    activation = getattr(layer, "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "softmax"


def _is_softmax_layer(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.Softmax):
        return True
    return isinstance(layer, keras.layers.Activation) and _softmax_activation(layer)


def ends_in_softmax(model: keras.Model) -> bool:
    """Whether the model's output is a softmax (probabilities) rather than logits."""
    last = _output_layer(model)
    return _is_softmax_layer(last) or _softmax_activation(last)


def _output_layer(model: keras.Model) -> keras.layers.Layer:
    outputs = _model_outputs(model)
    if len(outputs) != 1:
        raise InvalidInput("model", f"expected one output, the model has {len(outputs)}")
    history = getattr(outputs[0], "_keras_history", None)
    return history.operation if history is not None else model.layers[-1]


def _model_inputs(model: keras.Model) -> list[Any]:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise InvalidInput("model", "the model is not built: call it on a batch first")
    return list(inputs)


def _model_input(model: keras.Model) -> Any:
    # A single tensor rather than a one-item list: Keras warns when a model built on a list
    # is called with a bare tensor.
    inputs = _model_inputs(model)
    return inputs[0] if len(inputs) == 1 else inputs


def _model_outputs(model: keras.Model) -> list[Any]:
    outputs = getattr(model, "outputs", None)
    if not outputs:
        raise InvalidInput("model", "the model is not built: call it on a batch first")
    return list(outputs)


def logits_model(model: keras.Model) -> keras.Model:
    """A model with the same inputs and weights whose output is the logits.

    A model that ends in logits is returned as is. One that ends in a softmax, as a
    ``Softmax``/``Activation("softmax")`` layer or as the activation of its last layer, is
    tapped before the softmax: for the last case, a copy of the last layer with a linear
    activation shares the original's weights.

    Args:
        model: A built Keras model with one output.

    Returns:
        The logits model (cached: the same object for the same model).
    """
    cached = _LOGITS_MODELS.get(model)
    if cached is not None:
        return cached
    last = _output_layer(model)
    if _is_softmax_layer(last):
        result = keras.Model(_model_input(model), last.input, name=f"{model.name}_logits")
    elif _softmax_activation(last):
        linear = _WithoutActivation(last, name=f"{last.name}_linear")
        result = keras.Model(_model_input(model), linear(last.input), name=f"{model.name}_logits")
    else:
        result = model
    _LOGITS_MODELS[model] = result
    return result


class _WithoutActivation(keras.layers.Layer):
    """Calls a layer with its activation replaced by the identity, on the layer's own weights.

    The wrapped layer's variables are used, not copied, so new weights (another snapshot)
    reach the logits model too.
    """

    def __init__(self, inner: keras.layers.Layer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, inputs: Any) -> Any:
        activation = self.inner.activation
        self.inner.activation = keras.activations.linear
        try:
            return self.inner.call(inputs)
        finally:
            self.inner.activation = activation

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.inner.compute_output_shape(input_shape)


def tap_model(model: keras.Model, layer_names: Sequence[str]) -> keras.Model:
    """A model that returns the named layers' outputs, then the logits.

    Args:
        model: A built Keras model.
        layer_names: Inspectable layers (see :func:`find_layer`).

    Returns:
        A functional model sharing ``model``'s variables, whose outputs are each named
        layer's activation, in order, followed by the logits (cached per names).

    Raises:
        InvalidInput: A name is not an inspectable layer.
    """
    names = tuple(layer_names)
    per_model = _TAP_MODELS.setdefault(model, {})
    if names not in per_model:
        outputs = [find_layer(model, name).output for name in names]
        logits = logits_model(model).outputs[0]
        per_model[names] = keras.Model(_model_input(model), [*outputs, logits])
    return per_model[names]


def input_shape(model: keras.Model) -> tuple[int | None, ...]:
    """The shape of one input image (without the batch axis)."""
    return tuple(_model_inputs(model)[0].shape[1:])


def as_images(model: keras.Model, images: Any, *, field: str = "images") -> np.ndarray:
    """Validate a batch of images for ``model`` and return it as float32.

    Args:
        model: The model the images are for.
        images: ``(N, H, W, C)``, or ``(N, H, W)`` for a one-channel model; any numeric
            dtype, values as the model takes them (raw 0..255 pixels for convscope models).
        field: Name of the argument, for error messages.

    Returns:
        A float32 ``(N, H, W, C)`` array.

    Raises:
        InvalidInput: Empty batch, wrong shape, non-numeric or non-finite values.
    """
    try:
        array = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InvalidInput(field, f"expected a numeric array of images: {error}") from None
    expected = input_shape(model)
    if array.ndim == len(expected) and len(expected) == 3 and expected[-1] == 1:
        array = array[..., None]
    if array.ndim != len(expected) + 1 or array.shape[0] == 0:
        raise InvalidInput(
            field, f"expected a non-empty batch of images of shape {expected}, got {array.shape}"
        )
    if any(e is not None and e != s for e, s in zip(expected, array.shape[1:], strict=True)):
        raise InvalidInput(
            field, f"expected images of shape {expected}, got {tuple(array.shape[1:])}"
        )
    if not np.all(np.isfinite(array)):
        raise InvalidInput(field, "images hold NaN or infinite values")
    return array


def forward(model: keras.Model, images: np.ndarray, batch_size: int = FORWARD_BATCH) -> list[Any]:
    """Run ``model`` in inference mode over ``images`` and concatenate each output.

    ``predict_on_batch`` runs Keras' compiled predict step: a quarter of an eager call's
    time for one image through a small convnet, and a fraction of ``predict``'s, whose
    per-call set-up dominates at the small batches lenses use. It is traced once per model
    (its batch size is generalised after the first new one); dropout is off and batch
    normalisation uses its moving statistics.

    Args:
        model: A built Keras model (one or several outputs).
        images: float32 images as the model takes them.
        batch_size: Images per call.

    Returns:
        One float32 NumPy array per output of the model, batch first.
    """
    chunks: list[list[np.ndarray]] = []
    for start in range(0, len(images), batch_size):
        outputs = model.predict_on_batch(images[start : start + batch_size])
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        chunks.append([np.asarray(o, np.float32) for o in outputs])
    return [np.concatenate(parts, axis=0) for parts in zip(*chunks, strict=True)]


def logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The logits of ``images`` (float32 ``(N, classes)``), in compiled calls: lenses ask
    for them often, on one image or on hundreds of altered copies."""
    from convscope.models.gradients import scores

    return scores(logits_model(model), images)


def num_classes(model: keras.Model) -> int:
    """How many classes the model scores (the size of its output)."""
    size = _model_outputs(model)[0].shape[-1]
    if size is None:
        raise InvalidInput("model", "the model's output has no fixed size")
    return int(size)
