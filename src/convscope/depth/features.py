"""Every layer's activations as one feature vector per image, of bounded length.

Comparing layers needs one vector per image and layer; a convolution's output map is far
longer than its information warrants (28 x 28 x 16 = 12,544 numbers for Fashion-MNIST's
first layer), which would make probes slow and neighbours noisy. So each layer's output
is reduced to at most ``max_features`` numbers (2,048 by default) by **adaptive average
pooling**, and the raw pixels by the same rule:

- an image-shaped output ``(H, W, C)`` is averaged over the cells of the largest grid
  ``(h, w)`` with ``h <= H``, ``w = max(1, min(W, round(h * W / H)))`` (the aspect ratio
  kept) and ``h * w * C <= max_features``; the features are the pooled map flattened in
  (row, column, channel) order. A map that already fits is kept as it is. When the channels
  alone exceed the limit, the map is averaged to ``1 x 1 x C`` and then pooled as a vector;
- any other output (a dense layer's units, a flattened map) is flattened, and a vector
  longer than the limit is averaged in ``max_features`` consecutive bins.

Adaptive average pooling is PyTorch's ``AdaptiveAvgPool``: output cell ``i`` of ``n``
along an axis of length ``L`` averages inputs ``floor(i * L / n)`` to
``ceil((i + 1) * L / n) - 1``, so cells overlap when ``n`` does not divide ``L``.

The pooling runs inside the Keras graph, so the full maps never leave it. Results are
cached per model, keyed by its weights and the images, so that several measures on the
same snapshot (kNN, probes, a search) run the network once.

Reference:
    Guillaume Alain, Yoshua Bengio. "Understanding intermediate layers using linear
    classifier probes". ICLR 2017 workshop. https://arxiv.org/abs/1610.01644 (probes on
    average-pooled convolutional features).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import keras
import numpy as np

from convscope.depth.reduction import INPUT, MAX_FEATURES, Reduction, pooling_matrix, reduction_for
from convscope.errors import InvalidInput
from convscope.models import inspect

T = TypeVar("T")

#: Most threads that measure rows at once.
MEASURE_THREADS = 4
#: Feature sets kept per model (each holds every layer's features for a set of images).
CACHE_ENTRIES = 2


class _Reduce(keras.layers.Layer):
    """Applies a :class:`Reduction` inside the graph.

    Pooling is a product with constant matrices, so any grid is exact (even one that does
    not divide the map): the rows are pooled as ``(h, H) @ (H, W * C)`` and then the
    columns as ``(w, W) @ (W, C)``, two batched products without a transpose.
    """

    def __init__(self, reduction: Reduction, **kwargs: Any) -> None:
        super().__init__(trainable=False, **kwargs)
        self.reduction = reduction
        shape = reduction.shape
        self._rows = self._columns = self._bins = None
        if reduction.grid is not None:
            rows, columns = reduction.grid
            self._rows = keras.ops.convert_to_tensor(pooling_matrix(shape[0], rows)[None])
            self._columns = keras.ops.convert_to_tensor(pooling_matrix(shape[1], columns)[None])
        if reduction.bins is not None:
            pooled = shape[-1] if reduction.grid is not None else int(np.prod(shape))
            self._bins = keras.ops.convert_to_tensor(pooling_matrix(pooled, reduction.bins).T)

    def call(self, inputs: Any) -> Any:
        x = keras.ops.cast(inputs, "float32")
        shape, grid = self.reduction.shape, self.reduction.grid
        flat = int(np.prod(shape))
        if grid is not None:
            height, width, channels = shape
            x = keras.ops.matmul(self._rows, keras.ops.reshape(x, (-1, height, width * channels)))
            x = keras.ops.matmul(self._columns, keras.ops.reshape(x, (-1, width, channels)))
            flat = grid[0] * grid[1] * channels
        x = keras.ops.reshape(x, (-1, flat))
        if self._bins is not None:
            x = keras.ops.matmul(x, self._bins)
        return x

    def compute_output_shape(self, input_shape: Any) -> tuple[int | None, int]:
        return (input_shape[0], self.reduction.features)


@dataclass(frozen=True)
class LayerFeatures:
    """Every layer's reduced features for a batch of images.

    Attributes:
        names: ``"input"`` (the raw pixels) then the layers, in the model's order.
        class_names: The Keras class of each layer (``"InputLayer"`` for the pixels).
        reductions: How each one was reduced.
        features: Name to float32 ``(N, features)``.
        same_as: Layers whose features equal those of the layer before them (a flatten, a
            dropout at inference), mapped to the first layer with those features.
        logits: The model's logits for the images (its own predictions).
        max_features: The limit the features were reduced to.
    """

    names: list[str]
    class_names: list[str]
    reductions: list[Reduction]
    features: dict[str, np.ndarray]
    same_as: dict[str, str]
    logits: np.ndarray
    max_features: int

    def each(self, measure: Callable[[np.ndarray], T]) -> list[T]:
        """``measure(features)`` of every row, in order; rows that repeat an earlier one
        (``same_as``) take its value instead of being measured again.

        Rows are measured in parallel threads, one per core (up to :data:`MEASURE_THREADS`),
        each with one BLAS thread: NumPy releases the interpreter while it computes, so the
        rows share the cores without BLAS threads waiting on each other.
        """
        from convscope.depth.measures import one_blas_thread

        distinct = [name for name in self.names if name not in self.same_as]
        workers = max(1, min(MEASURE_THREADS, os.cpu_count() or 1, len(distinct)))
        with one_blas_thread(), ThreadPoolExecutor(workers) as pool:
            measured = dict(
                zip(distinct, pool.map(lambda n: measure(self.features[n]), distinct), strict=True)
            )
        return [measured[self.same_as.get(name, name)] for name in self.names]

    def describe(self) -> list[dict[str, Any]]:
        """One plain dict per row: name, class, shape, pooling and ``same_as``."""
        return [
            {
                "name": name,
                "class_name": class_name,
                **reduction.to_json(),
                "same_as": self.same_as.get(name),
            }
            for name, class_name, reduction in zip(
                self.names, self.class_names, self.reductions, strict=True
            )
        ]


_MODELS: weakref.WeakKeyDictionary[keras.Model, dict[Any, keras.Model]] = (
    weakref.WeakKeyDictionary()
)
_RESULTS: weakref.WeakKeyDictionary[keras.Model, OrderedDict[Any, LayerFeatures]] = (
    weakref.WeakKeyDictionary()
)


def clear_cache() -> None:
    """Forget every cached feature set (to time a first computation, or free memory)."""
    _RESULTS.clear()


def feature_layers(model: keras.Model, layers: Sequence[str] | None = None) -> list[str]:
    """The layers whose features are measured: every inspectable layer, or the named ones
    (in the model's order).

    Raises:
        InvalidInput: An unknown layer (``field`` is ``"layers"``), or a layer named
            ``"input"``, the name of the pixels' row.
    """
    every = [layer.name for layer in inspect.inspectable_layers(model)]
    if INPUT in every:
        raise InvalidInput("model", f"a layer is named {INPUT!r}, the name of the pixels' row")
    if not layers:
        return every
    wanted = {inspect.find_layer(model, name, field="layers").name for name in layers}
    return [name for name in every if name in wanted]


def _feature_model(
    model: keras.Model, names: tuple[str, ...], max_features: int
) -> tuple[keras.Model, list[Reduction]]:
    per_model = _MODELS.setdefault(model, {})
    key = (names, max_features)
    if key not in per_model:
        image = model.inputs[0]
        outputs = [image, *(inspect.find_layer(model, name).output for name in names)]
        reductions = [reduction_for(tuple(o.shape[1:]), max_features) for o in outputs]
        reduced = [_Reduce(r)(o) for r, o in zip(reductions, outputs, strict=True)]
        logits = inspect.logits_model(model).outputs[0]
        per_model[key] = (keras.Model(image, [*reduced, logits]), reductions)
    return per_model[key]


def array_digest(arrays: Sequence[np.ndarray]) -> str:
    """A short hash of arrays' dtypes, shapes and bytes: equal arrays, equal digests."""
    hasher = hashlib.blake2b(digest_size=16)
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        hasher.update(str((contiguous.dtype, contiguous.shape)).encode())
        hasher.update(contiguous.data)
    return hasher.hexdigest()


def layer_features(
    model: keras.Model,
    images: np.ndarray,
    *,
    max_features: int = MAX_FEATURES,
    layers: Sequence[str] | None = None,
    cache: bool = True,
) -> LayerFeatures:
    """Every layer's activations for ``images``, each reduced to at most ``max_features``.

    Args:
        model: A built Keras model.
        images: float32 ``(N, H, W, C)`` as the model takes them (checked by the caller).
        max_features: The limit per image and layer (see the module's rule).
        layers: Layer names to measure (default every inspectable layer).
        cache: Keep the result for the next call with the same weights and images.

    Returns:
        The features, with the raw pixels first as ``"input"``.

    Raises:
        InvalidInput: An unknown layer, or a model whose outputs are not fully known.
    """
    names = tuple(feature_layers(model, layers))
    key = None
    if cache:
        key = (names, max_features, array_digest(model.get_weights()), array_digest([images]))
    cached = _RESULTS.get(model)
    if key is not None and cached is not None and key in cached:
        cached.move_to_end(key)
        return cached[key]
    feature_model, reductions = _feature_model(model, names, max_features)
    *arrays, logits = inspect.forward(feature_model, images)
    all_names = [INPUT, *names]
    classes = ["InputLayer", *(type(model.get_layer(name)).__name__ for name in names)]
    features = dict(zip(all_names, arrays, strict=True))
    same_as: dict[str, str] = {}
    for previous, name in itertools.pairwise(all_names):
        if np.array_equal(features[previous], features[name]):
            same_as[name] = same_as.get(previous, previous)
            features[name] = features[previous]
    result = LayerFeatures(all_names, classes, reductions, features, same_as, logits, max_features)
    if key is not None:
        entries = _RESULTS.setdefault(model, OrderedDict())
        entries[key] = result
        while len(entries) > CACHE_ENTRIES:
            entries.popitem(last=False)
    return result
