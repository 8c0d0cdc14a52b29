"""Gradients of a model's loss and logits: the one module of convscope that uses TensorFlow.

Keras 3 has no backend-neutral gradient API, so the gradient code is kept here, behind
NumPy-in, NumPy-out functions compiled once per model; lenses (saliency, integrated
gradients, Grad-CAM...) build on them and stay free of TensorFlow. Models run with
``training=False``: dropout is off and batch normalisation uses its moving statistics, as
at inference.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from convscope.errors import InvalidInput


def _as_images(model: keras.Model, x: Any) -> np.ndarray:
    images = np.asarray(x, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if images.ndim < 1 or images.shape[0] == 0:
        raise InvalidInput("x", "expected a non-empty batch of images")
    if expected is not None and (
        len(expected) != images.ndim - 1
        or any(e is not None and e != s for e, s in zip(expected, images.shape[1:], strict=True))
    ):
        raise InvalidInput("x", f"expected images of shape {expected}, got {images.shape[1:]}")
    return images


def _as_classes(values: Any, batch: int, num_classes: int, field: str) -> np.ndarray:
    classes = np.asarray(values)
    if classes.ndim == 0:
        classes = np.full(batch, classes)
    if classes.shape != (batch,):
        raise InvalidInput(field, f"expected {batch} class indices, got shape {classes.shape}")
    if classes.dtype.kind not in "iu":
        if classes.dtype.kind != "f" or not np.all(classes == np.round(classes)):
            raise InvalidInput(field, "class indices must be integers")
        classes = classes.astype(np.int64)
    if np.any(classes < 0) or np.any(classes >= num_classes):
        raise InvalidInput(field, f"class indices must lie in 0..{num_classes - 1}")
    return classes.astype(np.int64)


def loss_gradients(
    model: keras.Model, x: Any, y: Any, *, from_logits: bool = True
) -> list[np.ndarray]:
    """Gradients of the mean sparse categorical cross-entropy over a batch.

    Args:
        model: A Keras model with one output of class scores.
        x: A batch of images, as the model takes them (raw pixel values for convscope
            models).
        y: The integer labels, one per image.
        from_logits: Whether the model outputs logits (convscope models do) rather than
            probabilities.

    Returns:
        One float32 array per entry of ``model.trainable_weights``, in that order and of
        the same shapes; zeros for a weight the loss does not depend on.

    Raises:
        InvalidInput: If ``x`` or ``y`` do not fit the model.
    """
    gradients, _ = loss_gradients_and_outputs(model, x, y, from_logits=from_logits)
    return gradients


def loss_gradients_and_outputs(
    model: keras.Model, x: Any, y: Any, *, from_logits: bool = True
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Loss gradients, plus the values of a model's other outputs, in one forward pass.

    For a model whose first output is the class scores and whose further outputs measure
    something along the way (layer statistics, say): the forward pass that the gradients
    need computes those too.

    Args:
        model: A Keras model whose first output is the class scores.
        x: A batch of images, as the model takes them.
        y: The integer labels, one per image.
        from_logits: Whether the first output is logits rather than probabilities.

    Returns:
        The gradients, as :func:`loss_gradients` returns them, and the model's other
        outputs as float32 arrays, in order.

    Raises:
        InvalidInput: If ``x`` or ``y`` do not fit the model.
    """
    images = _as_images(model, x)
    num_classes = int(model.outputs[0].shape[-1])
    labels = _as_classes(y, images.shape[0], num_classes, "y")
    weights = model.trainable_weights
    step = _compiled_loss_step(model, from_logits)
    gradients, outputs = step(tf.constant(images), tf.constant(labels))
    arrays = [
        np.zeros(tuple(weight.shape), np.float32)
        if gradient is None
        else np.asarray(gradient, dtype=np.float32)
        for weight, gradient in zip(weights, gradients, strict=True)
    ]
    others = [np.asarray(output, dtype=np.float32) for output in outputs]
    return arrays, others


def _compiled_loss_step(model: keras.Model, from_logits: bool) -> Any:
    weights = model.trainable_weights

    def build() -> Any:
        @tf.function(reduce_retracing=True)
        def step(images: tf.Tensor, labels: tf.Tensor) -> Any:
            with tf.GradientTape() as tape:
                outputs = model(images, training=False)
                outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
                loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(
                        labels, outputs[0], from_logits=from_logits
                    )
                )
            return tape.gradient(loss, [weight.value for weight in weights]), outputs[1:]

        return step

    return _compiled(model, ("loss", from_logits), build)


#: Compiled gradient functions per model: eager execution dispatches every operation from
#: Python, which costs several times the arithmetic for the small models convscope trains.
#: Each is traced once per input shape (``reduce_retracing`` generalises the batch size) and
#: reused at every call and every snapshot, since new weights are new values of the same
#: variables.
_COMPILED: weakref.WeakKeyDictionary[keras.Model, dict[Hashable, Any]] = weakref.WeakKeyDictionary()


def _compiled(model: keras.Model, key: Hashable, build: Callable[[], Any]) -> Any:
    """The compiled function ``key`` of ``model``, built by ``build`` on first use."""
    functions = _COMPILED.setdefault(model, {})
    if key not in functions:
        functions[key] = build()
    return functions[key]


#: Images per compiled forward call: bounds memory, and keeps the traced shapes few.
SCORES_BATCH = 256


def scores(model: keras.Model, x: Any) -> np.ndarray:
    """A single-output model's output (class scores) for a batch, in compiled calls.

    No gradient here, but the same reason to compile: an eager call of a small network on
    one image costs ten times its arithmetic in per-layer dispatch, and lenses such as
    occlusion or the deletion curves run the model many times per request.

    Args:
        model: A Keras model with one output.
        x: A batch of images, as the model takes them.

    Returns:
        float32 ``(N, ...)``, the model's output at inference.

    Raises:
        InvalidInput: If ``x`` does not fit the model.
    """
    images = _as_images(model, x)

    def build() -> Any:
        @tf.function(reduce_retracing=True)
        def step(inputs: tf.Tensor) -> tf.Tensor:
            return model(inputs, training=False)

        return step

    step = _compiled(model, "scores", build)
    parts = [
        np.asarray(step(tf.constant(images[start : start + SCORES_BATCH])), dtype=np.float32)
        for start in range(0, len(images), SCORES_BATCH)
    ]
    return np.concatenate(parts, axis=0)


def input_gradients(model: keras.Model, x: Any, target_class: Any) -> np.ndarray:
    """Gradient of one output score per image with respect to that image's pixels.

    Images of a batch do not interact at inference, so the gradient of the sum of the
    selected scores gives each image's own gradient in one pass.

    Args:
        model: A Keras model with one output of class scores (logits for convscope
            models; see :func:`convscope.models.inspect.logits_model` for others).
        x: A batch of images, as the model takes them.
        target_class: The class whose score is differentiated: one index per image, or
            one index for the whole batch.

    Returns:
        A float32 array shaped like ``x``: d score[target] / d pixel. For convscope
        models, pixels are raw values (0..255), so this includes the 1/255 rescaling.

    Raises:
        InvalidInput: If ``x`` or ``target_class`` do not fit the model.
    """
    images = _as_images(model, x)
    num_classes = int(model.outputs[0].shape[-1])
    targets = _as_classes(target_class, images.shape[0], num_classes, "target_class")

    def build() -> Any:
        @tf.function(reduce_retracing=True)
        def step(inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                outputs = model(inputs, training=False)
                total = tf.reduce_sum(tf.gather(outputs, targets, axis=1, batch_dims=1))
            gradient = tape.gradient(total, inputs)
            return tf.zeros_like(inputs) if gradient is None else gradient

        return step

    step = _compiled(model, "input", build)
    return np.asarray(step(tf.constant(images), tf.constant(targets)), dtype=np.float32)


def layer_gradients(
    model: keras.Model, x: Any, layer_name: str, target_class: Any
) -> tuple[np.ndarray, np.ndarray]:
    """A layer's activations, and the gradient of one output score per image with respect
    to them (what Grad-CAM weighs channels with).

    Args:
        model: A functional Keras model with one output of class scores (logits).
        x: A batch of images, as the model takes them.
        layer_name: The layer whose output is differentiated against.
        target_class: One class index per image, or one for the whole batch.

    Returns:
        ``(activations, gradients)``, float32 arrays of the layer's output shape, batch
        first.

    Raises:
        InvalidInput: If ``x``, ``layer_name`` or ``target_class`` do not fit the model.
    """
    from convscope.models.inspect import find_layer

    images = _as_images(model, x)
    num_classes = int(model.outputs[0].shape[-1])
    targets = _as_classes(target_class, images.shape[0], num_classes, "target_class")
    layer = find_layer(model, layer_name)

    def build() -> Any:
        tapped = keras.Model(model.inputs[0], [layer.output, model.outputs[0]])

        @tf.function(reduce_retracing=True)
        def step(inputs: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                activations, outputs = tapped(inputs, training=False)
                total = tf.reduce_sum(tf.gather(outputs, targets, axis=1, batch_dims=1))
            gradient = tape.gradient(total, activations)
            return activations, tf.zeros_like(activations) if gradient is None else gradient

        return step

    step = _compiled(model, ("layer", layer.name), build)
    activations, gradients = step(tf.constant(images), tf.constant(targets))
    return np.asarray(activations, np.float32), np.asarray(gradients, np.float32)


#: Largest number of path points (images times steps) differentiated in one call: bounds
#: memory for large images while keeping small ones in a single call.
PATH_BATCH = 1024


def integrated_gradients(
    model: keras.Model, x: Any, baselines: Any, target_class: Any, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrated gradients of one output score per image along the straight path from a
    baseline to the image, by Gauss-Legendre quadrature.

    The path's points are built and differentiated inside one compiled call per group of
    images, so the cost is one batched gradient over ``images x (steps + 2)`` points (the
    two ends are evaluated for their scores). Gauss-Legendre nodes (Captum's default) keep
    away from the baseline itself, where a ReLU network's gradient is often degenerate
    (every unit exactly at zero), and gave half the completeness gap of the midpoint or
    trapezoidal rules with the same number of steps on convscope's small convnets.

    Args:
        model: A Keras model with one output of class scores (logits).
        x: A batch of images, as the model takes them.
        baselines: One baseline per image, shaped like ``x``.
        target_class: One class index per image, or one for the whole batch.
        steps: Points on the path where the gradient is taken (at least 2).

    Returns:
        ``(attributions, scores, baseline_scores)``: float32 attributions shaped like
        ``x`` ((x - baseline) times the mean gradient along the path), and the target
        score at the image and at its baseline, ``(N,)`` each. The attributions sum to
        about ``scores - baseline_scores`` (completeness).

    Raises:
        InvalidInput: If ``x``, ``baselines``, ``target_class`` or ``steps`` do not fit.

    References:
        Mukund Sundararajan, Ankur Taly, Qiqi Yan. "Axiomatic Attribution for Deep
        Networks". ICML 2017. https://arxiv.org/abs/1703.01365
    """
    images = _as_images(model, x)
    starts = np.asarray(baselines, dtype=np.float32)
    if starts.shape != images.shape:
        raise InvalidInput("baselines", f"expected one baseline per image, {images.shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise InvalidInput("steps", "expected an integer of at least 2")
    num_classes = int(model.outputs[0].shape[-1])
    targets = _as_classes(target_class, images.shape[0], num_classes, "target_class")
    nodes, node_weights = np.polynomial.legendre.leggauss(steps)
    # The ends (weight 0) give the scores at the baseline and at the image.
    alphas = np.concatenate([[0.0], (nodes + 1.0) / 2.0, [1.0]]).astype(np.float32)
    weights = np.concatenate([[0.0], node_weights / 2.0, [0.0]]).astype(np.float32)

    def build() -> Any:
        @tf.function(reduce_retracing=True)
        def step(
            inputs: tf.Tensor,
            starts: tf.Tensor,
            targets: tf.Tensor,
            alphas: tf.Tensor,
            weights: tf.Tensor,
        ) -> tuple[tf.Tensor, tf.Tensor]:
            count, points = tf.shape(inputs)[0], tf.shape(weights)[0]
            shape = tf.shape(inputs)[1:]
            alphas = tf.reshape(alphas, tf.concat([[1, points], tf.ones_like(shape)], axis=0))
            path = starts[:, None] + alphas * (inputs - starts)[:, None]
            flat = tf.reshape(path, tf.concat([[count * points], shape], axis=0))
            with tf.GradientTape() as tape:
                tape.watch(flat)
                outputs = model(flat, training=False)
                scores = tf.gather(outputs, tf.repeat(targets, points), axis=1, batch_dims=1)
                total = tf.reduce_sum(scores)
            gradient = tape.gradient(total, flat)
            gradient = tf.zeros_like(flat) if gradient is None else gradient
            gradient = tf.reshape(gradient, tf.concat([[count, points], shape], axis=0))
            mean_gradient = tf.tensordot(gradient, weights, axes=[[1], [0]])
            return (inputs - starts) * mean_gradient, tf.reshape(scores, [count, points])

        return step

    step = _compiled(model, "integrated", build)
    group = max(1, PATH_BATCH // len(alphas))
    attributions = np.empty_like(images)
    scores = np.empty(len(images), np.float32)
    baseline_scores = np.empty(len(images), np.float32)
    for start in range(0, len(images), group):
        part = slice(start, start + group)
        chunk, path_scores = step(
            tf.constant(images[part]),
            tf.constant(starts[part]),
            tf.constant(targets[part]),
            tf.constant(alphas),
            tf.constant(weights),
        )
        attributions[part] = np.asarray(chunk)
        path_scores = np.asarray(path_scores)
        scores[part], baseline_scores[part] = path_scores[:, -1], path_scores[:, 0]
    return attributions, scores, baseline_scores


def channel_gradients(
    model: keras.Model, x: Any, layer_name: str | None, channel: int
) -> tuple[np.ndarray, np.ndarray]:
    """One channel's mean activation per image, and its gradient with respect to the image
    (what feature visualisation climbs).

    For a layer with feature maps, the objective is the channel's activation averaged over
    every position; for a dense layer, the unit's value; with ``layer_name=None``, one
    class's logit (a final softmax is looked behind).

    Args:
        model: A built Keras model.
        x: A batch of images, as the model takes them.
        layer_name: The layer, or None for the logits.
        channel: Index on the layer's last axis: a channel, a unit, or a class.

    Returns:
        ``(objective, gradient)``: float32 ``(N,)``, and float32 shaped like ``x``.

    Raises:
        InvalidInput: If ``x``, the layer (``field`` ``"layer"``) or the channel
            (``"channel"``) do not fit the model.

    References:
        Erhan, Bengio, Courville, Vincent. "Visualizing Higher-Layer Features of a Deep
        Network". University of Montreal, 2009.
    """
    from convscope.models.inspect import find_layer, logits_model

    images = _as_images(model, x)
    if layer_name is None:
        tapped_output = logits_model(model).outputs[0]
    else:
        tapped_output = find_layer(model, layer_name).output
    width = tapped_output.shape[-1]
    if width is None or not 0 <= channel < width:
        where = "the logits" if layer_name is None else f"layer {layer_name!r}"
        raise InvalidInput("channel", f"{where} has channels 0..{(width or 1) - 1}")

    def build() -> Any:
        tapped = keras.Model(model.inputs[0], tapped_output)

        @tf.function(reduce_retracing=True)
        def step(inputs: tf.Tensor, channel: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                outputs = tf.gather(tapped(inputs, training=False), channel, axis=-1)
                rank = len(outputs.shape)
                objective = (
                    tf.reduce_mean(outputs, axis=list(range(1, rank))) if rank > 1 else outputs
                )
                total = tf.reduce_sum(objective)
            gradient = tape.gradient(total, inputs)
            return objective, tf.zeros_like(inputs) if gradient is None else gradient

        return step

    step = _compiled(model, ("channel", layer_name), build)
    objective, gradient = step(tf.constant(images), tf.constant(channel, tf.int32))
    return np.asarray(objective, np.float32), np.asarray(gradient, np.float32)
