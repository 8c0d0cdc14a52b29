"""What one snapshot measures: probe logits and embeddings, confusion, layer statistics.

All the forward work of a snapshot is batched through two inference models built once per
run: one that returns (embedding, logits) for the whole validation set, and one that
returns the logits and every layer's activation statistics, computed inside the graph, for
a small fixed batch of probe images. That second model's forward pass also serves the one
backward pass that gives the gradient norms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from convscope.models.gradients import loss_gradients_and_outputs

#: Images per inference batch. Measured on small_cnn over 2,000 images, 256 took the least
#: CPU time and less wall time than 1,024, whose feature maps no longer fit in the caches.
INFERENCE_BATCH = 256
#: Probe images used for activation and gradient statistics.
STATS_BATCH = 128

LAYER_STAT_KEYS = (
    "weight_norm",
    "grad_norm",
    "update_ratio",
    "activation_mean",
    "activation_std",
    "dead_fraction",
)


def _is_softmax(layer: keras.layers.Layer) -> bool:
    activation = getattr(layer, "activation", None)
    if isinstance(layer, keras.layers.Softmax):
        return True
    return activation is not None and getattr(activation, "__name__", "") == "softmax"


def _is_relu(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return True
    activation = getattr(layer, "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "relu"


def _layer_input(layer: keras.layers.Layer) -> keras.KerasTensor:
    value = layer.input
    return value[0] if isinstance(value, list | tuple) else value


@dataclass
class ModelTaps:
    """Inference models over one Keras model, built once and reused at every snapshot.

    Attributes:
        model: The model being trained.
        outputs_probabilities: True when the model ends in a softmax: its logits are then
            recovered as log-probabilities (equal to the logits up to a constant per image,
            so the softmax and the argmax are unchanged).
        head: Model returning ``[embedding, output]``.
        stat_layers: Every layer but the input, measured for activation statistics.
        stats: Model returning the output, then for each stat layer the mean and the
            standard deviation of its activations and each unit's maximum.
    """

    model: keras.Model
    outputs_probabilities: bool = False
    head: keras.Model = field(init=False)
    stat_layers: list[keras.layers.Layer] = field(init=False)
    stats: keras.Model = field(init=False)

    def __post_init__(self) -> None:
        model = self.model
        last = model.layers[-1]
        self.outputs_probabilities = _is_softmax(last)
        # A bare Softmax/Activation layer after the logits: the embedding is one layer up.
        producer = last
        if self.outputs_probabilities and not last.weights:
            producer = _producing_layer(model, _layer_input(last)) or last
        embedding = _layer_input(producer)
        inputs = model.inputs
        self.head = keras.Model(inputs, [embedding, model.outputs[0]], name="convscope_head")
        self.stat_layers = [
            layer
            for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)
            and not isinstance(layer.output, list | tuple)
        ]
        # Reducing activations inside the graph keeps megabytes of feature maps from being
        # copied out of TensorFlow at every snapshot.
        measures = []
        for layer in self.stat_layers:
            activation = layer.output
            all_but_units = tuple(range(len(activation.shape) - 1))
            measures += [
                keras.ops.mean(activation),
                keras.ops.std(activation),
                keras.ops.max(activation, axis=all_but_units),
            ]
        self.stats = keras.Model(inputs, [model.outputs[0], *measures], name="convscope_stats")

    def logits(self, output: np.ndarray) -> np.ndarray:
        """The model's output as logits (log-probabilities for a softmax model)."""
        output = np.asarray(output, dtype=np.float32)
        if self.outputs_probabilities:
            return np.log(np.clip(output, 1e-12, 1.0))
        return output


def _producing_layer(model: keras.Model, tensor: keras.KerasTensor) -> keras.layers.Layer | None:
    for layer in model.layers:
        try:
            if layer.output is tensor:
                return layer
        except (AttributeError, ValueError):
            continue
    return None


def forward_in_batches(
    model: keras.Model, images: np.ndarray, batch_size: int = INFERENCE_BATCH
) -> list[np.ndarray]:
    """Run ``model`` in inference mode over ``images`` and concatenate each output.

    Every call gets a full batch (the last one padded), so the inference function is
    traced for one shape only.
    """
    batch_size = min(batch_size, len(images))
    chunks: list[list[np.ndarray]] = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        rows = len(batch)
        if rows < batch_size:
            padding = np.zeros((batch_size - rows, *batch.shape[1:]), dtype=batch.dtype)
            batch = np.concatenate([batch, padding])
        outputs = model.predict_on_batch(batch)
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        chunks.append([np.asarray(o)[:rows] for o in outputs])
    return [np.concatenate(parts, axis=0) for parts in zip(*chunks, strict=True)]


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]`` as an int32 ``[k, k]`` matrix."""
    flat = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int32)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy of float logits against integer labels."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def _norm(arrays: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays)))


def layer_statistics(
    taps: ModelTaps,
    stats_images: np.ndarray,
    stats_labels: np.ndarray,
    weights_before: dict[str, list[np.ndarray]] | None,
) -> dict[str, np.ndarray]:
    """Per-layer statistics of the model as it is now.

    Args:
        taps: The run's inference models.
        stats_images: A fixed batch of probe images.
        stats_labels: Their labels.
        weights_before: Each layer's weights before the last optimizer step (for the
            update-to-weight ratio), or None when not captured.

    Returns:
        ``layer_names`` (unicode) and one float32 array per statistic in
        :data:`LAYER_STAT_KEYS`, NaN where a statistic does not apply to a layer.
    """
    layers = taps.stat_layers
    stats = {key: np.full(len(layers), np.nan, dtype=np.float32) for key in LAYER_STAT_KEYS}
    gradients, measures = loss_gradients_and_outputs(
        taps.stats, stats_images, stats_labels, from_logits=not taps.outputs_probabilities
    )
    gradient_of = {id(w): g for w, g in zip(taps.stats.trainable_weights, gradients, strict=True)}
    for i, layer in enumerate(layers):
        mean, std, unit_max = measures[3 * i : 3 * i + 3]
        stats["activation_mean"][i] = float(mean)
        stats["activation_std"][i] = float(std)
        if _is_relu(layer):
            # A unit (channel) is dead when it is zero for every image and position.
            stats["dead_fraction"][i] = float(np.mean(unit_max <= 0))
        trainable = layer.trainable_weights
        if not trainable:
            continue
        current = [np.asarray(w.numpy()) for w in trainable]
        weight_norm = _norm(current)
        stats["weight_norm"][i] = weight_norm
        grads = [gradient_of[id(w)] for w in trainable if id(w) in gradient_of]
        if grads:
            stats["grad_norm"][i] = _norm(grads)
        before = (weights_before or {}).get(layer.name)
        if before is not None and len(before) == len(current) and weight_norm > 0:
            delta = [c - b for c, b in zip(current, before, strict=True)]
            stats["update_ratio"][i] = _norm(delta) / weight_norm
    result: dict[str, np.ndarray] = {"layer_names": np.array([layer.name for layer in layers])}
    result.update({f"layer_{key}": value for key, value in stats.items()})
    return result


def trainable_weights_by_layer(model: keras.Model) -> dict[str, list[np.ndarray]]:
    """A copy of every layer's trainable weights, keyed by layer name."""
    return {
        layer.name: [np.array(w.numpy()) for w in layer.trainable_weights]
        for layer in model.layers
        if layer.trainable_weights
    }
