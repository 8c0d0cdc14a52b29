"""Cutting a Keras model in two at a layer: the part before it, and the rest of the network.

Ablation changes one layer's output and watches the logits. Running the whole model again
for every change repeats the layers before the cut; cutting the model there runs them
once (the *head*), and only the layers after the cut (the *tail*) for each altered copy
of the layer's output. The tail takes the layer's output and every other tensor computed
before the cut that later layers still read (a skip connection that jumps over the cut),
so the cut works on any functional graph, not only on a chain of layers.

A residual block's output (an ``Add`` layer, or an activation right after one) is cut on
its *branch*: the ``Add`` input furthest from the model's input, the other being the skip
connection. Switching a residual block off then removes what the block adds and keeps
what it passes on (He et al. 2016; Veit et al. 2016, "Residual networks behave like
ensembles of relatively shallow networks", https://arxiv.org/abs/1605.06431).

Both parts share the model's variables, so new weights (another snapshot) reach them;
they are built once per model and layer, and cached.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from convscope.errors import InvalidInput
from convscope.models import inspect

#: Floats per compiled call of the tail: bounds memory when many altered copies of a large
#: layer go through it at once, while keeping the calls large enough to amortise.
TAIL_BUDGET = 2**24


#: Layers that act on each channel apart (or copy it, or only reorder positions): after a
#: cut, they leave every channel but the switched-off one as it was.
_CHANNEL_WISE = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Dropout,
    keras.layers.Identity,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.BatchNormalization,
    keras.layers.Flatten,
)


@dataclass(frozen=True)
class DenseShortcut:
    """A tail that is channel-wise layers, then a ``Dense`` layer, then the rest.

    A channel switched off then changes only its own columns of the ``Dense`` layer's
    input (channels last: columns ``k, k + C, k + 2C...``), and to the same values for
    every image (the channel-wise layers' output for the fill), so the ``Dense`` layer's
    pre-activation changes by those columns' difference times their rows of the kernel:
    a product with ``1/C`` of the kernel, and the layers before it run on the fill alone.

    Attributes:
        before: Cut output -> the ``Dense`` layer's input, flattened; None if that input is
            the cut itself.
        dense: The ``Dense`` layer (its kernel, bias and activation).
        after: The ``Dense`` layer's output -> logits; None if it outputs the logits.
    """

    before: keras.Model | None
    dense: keras.layers.Dense
    after: keras.Model | None


@dataclass(frozen=True)
class ModelSplit:
    """A model cut at one tensor.

    Attributes:
        layer: The layer asked for.
        cut: The layer whose output the split exposes: ``layer``, or the last layer of a
            residual block's branch.
        branch: Whether ``cut`` is a residual branch (the skip connection stays intact).
        head: Model input -> ``[cut output, *frontier]``.
        tail: ``[cut output, *frontier]`` -> logits; None when the cut is the logits.
        frontier: How many other tensors the tail needs (skip connections over the cut).
    """

    layer: str
    cut: str
    branch: bool
    head: keras.Model
    tail: keras.Model | None
    frontier: int
    shortcut: DenseShortcut | None = None

    def run_head(self, images: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The cut's output and the frontier tensors of ``images`` (float32, batch first)."""
        outputs = inspect.forward(self.head, images)
        return outputs[0], outputs[1:]

    def run_tail(self, values: np.ndarray, frontier: Sequence[np.ndarray]) -> np.ndarray:
        """The logits for the cut's output ``values`` (float32 ``(rows, classes)``).

        ``frontier`` holds the frontier tensors of the same rows.
        """
        if self.tail is None:
            return np.asarray(values, np.float32)
        width = int(np.prod(values.shape[1:])) + sum(int(np.prod(f.shape[1:])) for f in frontier)
        rows = max(1, min(len(values), TAIL_BUDGET // max(1, width)))
        chunks = []
        for start in range(0, len(values), rows):
            piece = slice(start, start + rows)
            inputs = [values[piece], *(f[piece] for f in frontier)]
            chunks.append(np.asarray(self.tail.predict_on_batch(inputs), np.float32))
        return np.concatenate(chunks, axis=0)


_SPLITS: weakref.WeakKeyDictionary[keras.Model, dict[str, ModelSplit]] = weakref.WeakKeyDictionary()


def _producer(tensor: Any) -> tuple[Any, Any] | None:
    """The operation that made ``tensor`` and the node of that call; None for an input."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    operation = history.operation
    if isinstance(operation, keras.layers.InputLayer):
        return None
    return operation, operation._inbound_nodes[history.node_index]


def _inputs_of(tensor: Any) -> list[Any]:
    made = _producer(tensor)
    return [] if made is None else list(made[1].input_tensors)


def _depths(outputs: Sequence[Any]) -> dict[int, int]:
    """Longest path, in operations, from the model's input to every tensor behind ``outputs``."""
    depths: dict[int, int] = {}

    def depth(tensor: Any) -> int:
        key = id(tensor)
        if key not in depths:
            parents = _inputs_of(tensor)
            depths[key] = 1 + max((depth(p) for p in parents), default=-1)
        return depths[key]

    for output in outputs:
        depth(output)
    return depths


def _residual_branch(layer: keras.layers.Layer, logits: Any) -> Any | None:
    """The branch tensor of the residual block ending at ``layer``, or None if it is none."""
    add = layer
    if isinstance(layer, keras.layers.Activation):
        parents = _inputs_of(layer.output)
        made = _producer(parents[0]) if len(parents) == 1 else None
        add = made[0] if made is not None else None
    if not isinstance(add, keras.layers.Add):
        return None
    branches = _inputs_of(add.output)
    if len(branches) != 2:
        return None
    depths = _depths([logits])
    first, second = (depths.get(id(t), 0) for t in branches)
    if first == second:
        return None  # no input is plainly the longer path: no skip connection to keep
    return branches[0] if first > second else branches[1]


def _frontier(cut: Any, logits: Any) -> tuple[bool, list[Any]]:
    """Whether ``logits`` depend on ``cut``, and the tensors the tail needs besides it."""
    depends: dict[int, bool] = {}

    def visit(tensor: Any) -> bool:
        key = id(tensor)
        if key not in depends:
            depends[key] = tensor is cut or any([visit(p) for p in _inputs_of(tensor)])
        return depends[key]

    if not visit(logits):
        return False, []
    frontier: dict[int, Any] = {}
    seen: set[int] = set()
    stack = [logits]
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen or tensor is cut:
            continue
        seen.add(id(tensor))
        for parent in _inputs_of(tensor):
            if depends[id(parent)]:
                stack.append(parent)
            else:
                frontier.setdefault(id(parent), parent)
    return True, list(frontier.values())


def _dense_shortcut(cut: Any, logits: Any) -> DenseShortcut | None:
    """The :class:`DenseShortcut` of the tail from ``cut``, if it has that shape."""
    chain: list[tuple[Any, Any]] = []  # (operation, its output), from the logits back
    tensor = logits
    while tensor is not cut:
        made = _producer(tensor)
        if made is None or len(made[1].input_tensors) != 1:
            return None  # not a chain of single-input layers
        chain.append((made[0], tensor))
        tensor = made[1].input_tensors[0]
    chain.reverse()
    for operation, output in chain:
        if isinstance(operation, keras.layers.Dense):
            break
        if not isinstance(operation, _CHANNEL_WISE):
            return None
        if getattr(operation, "data_format", "channels_last") == "channels_first":
            return None  # channels on the second axis: a flattened channel is not k::C
        axis = getattr(operation, "axis", -1)
        if isinstance(operation, keras.layers.BatchNormalization) and axis not in (
            -1,
            len(output.shape) - 1,
        ):
            return None
    else:
        return None
    position = [op for op, _ in chain].index(operation)
    dense_input = cut if position == 0 else chain[position - 1][1]
    channels = cut.shape[-1]
    if len(dense_input.shape) != 2 or not channels or dense_input.shape[-1] % channels:
        return None
    return DenseShortcut(
        before=None if position == 0 else keras.Model(cut, dense_input),
        dense=operation,
        after=None if output is logits else keras.Model(output, logits),
    )


def split_at(model: keras.Model, layer_name: str, *, field: str = "layer") -> ModelSplit:
    """Cut ``model`` at the output of the layer ``layer_name`` (see the module's docstring).

    Args:
        model: A built Keras model with one image input and one output of class scores.
        layer_name: An inspectable layer (:func:`convscope.models.inspect.find_layer`).
        field: The argument's name, for error messages.

    Returns:
        The :class:`ModelSplit` (cached: the same object for the same model and layer).

    Raises:
        InvalidInput: No such layer, or the logits do not depend on it.
    """
    per_model = _SPLITS.setdefault(model, {})
    if layer_name in per_model:
        return per_model[layer_name]
    layer = inspect.find_layer(model, layer_name, field=field)
    logits_model = inspect.logits_model(model)
    logits = logits_model.outputs[0]
    branch = _residual_branch(layer, logits)
    cut = branch if branch is not None else layer.output
    reaches, frontier = _frontier(cut, logits)
    if not reaches:
        raise InvalidInput(field, f"the logits do not depend on the layer {layer_name!r}")
    image = logits_model.inputs[0]
    head = keras.Model(image, [cut, *frontier])
    tail = None if cut is logits else keras.Model([cut, *frontier], logits)
    made = _producer(cut)
    split = ModelSplit(
        layer=layer.name,
        cut=made[0].name if made is not None else layer.name,
        branch=branch is not None,
        head=head,
        tail=tail,
        frontier=len(frontier),
        shortcut=_dense_shortcut(cut, logits) if not frontier and tail is not None else None,
    )
    per_model[layer_name] = split
    return split
