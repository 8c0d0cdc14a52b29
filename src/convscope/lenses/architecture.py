"""The network at a glance: its layers, their output shapes, parameters and connections.

A network is a graph of layers: each takes the output of one or more earlier layers (a
residual block adds its input back to its output: a *skip connection*). The diagram shows
every layer with the shape of what it outputs (height x width x channels for a feature
map, units for a dense layer) and the number of weights it learns.

References:
    François Chollet. "Deep Learning with Python", chapter 7.1, "Going beyond the
    Sequential model: the Keras functional API". Manning, 2017.
    Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. "Deep Residual Learning for Image
    Recognition". CVPR 2016. https://arxiv.org/abs/1512.03385

Caveat: parameter counts include weights that are not learned by gradient descent
(batch normalisation's running mean and variance), counted apart as non-trainable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, register_lens

if TYPE_CHECKING:
    import keras


@register_lens(
    "architecture",
    title="The network at a glance",
    kind="table",
    description=(
        "Every layer in order, with the shape of its output, the number of weights it "
        "learns, and the layers it takes its input from (skip connections included)."
    ),
)
class Architecture(Lens):
    """One row per layer: output shape, parameter counts, inputs."""

    Params = LensParams
    scope = "model"
    references = (
        "François Chollet. Deep Learning with Python, 7.1: the Keras functional API. "
        "Manning, 2017.",
        "He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016. "
        "https://arxiv.org/abs/1512.03385",
    )

    def compute(self, model: keras.Model, inputs: LensInputs, params: LensParams) -> LensResult:
        import keras

        layers = list(model.layers)
        # A Sequential model does not list its input layer among its layers.
        for tensor in reversed(model.inputs):
            source = getattr(getattr(tensor, "_keras_history", None), "operation", None)
            if source is not None and source not in layers:
                layers.insert(0, source)
        names = {layer.name for layer in layers}
        rows = []
        for layer in layers:
            trainable = _count(layer.trainable_weights)
            rows.append(
                {
                    "name": layer.name,
                    "class_name": type(layer).__name__,
                    "output_shape": _shape(layer),
                    "trainable_params": trainable,
                    "params": trainable + _count(layer.non_trainable_weights),
                    "inputs": []
                    if isinstance(layer, keras.layers.InputLayer)
                    else _inputs(layer, names),
                    "activation": _activation(layer),
                }
            )
        return LensResult(
            arrays={
                "params": np.array([row["params"] for row in rows], np.int64),
                "trainable_params": np.array([row["trainable_params"] for row in rows], np.int64),
            },
            meta={
                "layers": rows,
                "total_params": int(sum(row["params"] for row in rows)),
                "trainable_params": int(sum(row["trainable_params"] for row in rows)),
            },
        )


def _count(weights: list[Any]) -> int:
    return int(sum(int(np.prod(weight.shape)) for weight in weights))


def _shape(layer: Any) -> list[int | None] | None:
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None
    if isinstance(output, list | tuple):
        return None
    return [None if side is None else int(side) for side in output.shape[1:]]


def _inputs(layer: Any, names: set[str]) -> list[str]:
    """Names of the layers of this model whose outputs ``layer`` takes, in order."""
    found: list[str] = []
    for node in getattr(layer, "_inbound_nodes", []):
        for tensor in node.input_tensors:
            history = getattr(tensor, "_keras_history", None)
            source = getattr(getattr(history, "operation", None), "name", None)
            # Nodes of the layer in other models (a tap model) are not this model's.
            if source in names and source not in found:
                found.append(source)
    return found


def _activation(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return None if name in (None, "linear") else str(name)
