"""What the ablation lenses share: their parameters, the switched-off copies, the accuracies.

``ablation`` switches chosen channels of a layer off and measures the probe set again;
``channel_importance`` does it for every channel alone. Both cut the model at the layer
(:mod:`convscope.models.split`), run the layers before it once, and run only the rest of
the network on the altered outputs, so that the intact numbers and the ablated ones come
from the same computation and one can be checked against the other. The module's name
starts with an underscore: it registers no lens.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses.base import LensInputs, LensParams

if TYPE_CHECKING:
    import keras

    from convscope.models.split import ModelSplit

REFERENCE_MORCOS = (
    "Ari S. Morcos, David G. T. Barrett, Neil C. Rabinowitz, Matthew Botvinick. On the "
    "importance of single directions for generalization. ICLR 2018. "
    "https://arxiv.org/abs/1803.06959"
)
REFERENCE_ZHOU = (
    "Bolei Zhou, Yiyou Sun, David Bau, Antonio Torralba. Revisiting the importance of "
    "individual units in CNNs via ablation. 2018. https://arxiv.org/abs/1806.02891"
)

#: Floats of altered copies built at once by ``channel_importance`` (several channels'
#: copies of the layer's output go through the tail in one batch).
COPIES_BUDGET = 2**25

AblationMode = Literal["zero", "mean"]


class AblationParams(LensParams):
    """Where to switch channels off, and to what."""

    layer: str | None = Field(
        default=None,
        description="The layer whose channels are switched off (default: the last "
        "convolution). A residual block's output switches off its branch, keeping the skip "
        "connection.",
    )
    mode: AblationMode = Field(
        default="zero",
        description="'zero' sets a switched-off channel to 0; 'mean' to its mean over the "
        "probe images, value by value (the gentler test).",
    )


def accuracies(predicted: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Accuracy overall, then per true class (NaN for a class without images).

    Args:
        predicted: int ``(..., N)`` predicted classes (any leading axes).
        labels: int ``(N,)`` true classes.
        classes: How many classes.

    Returns:
        float32 ``(..., 1 + classes)``.
    """
    right = predicted == labels
    out = np.empty((*predicted.shape[:-1], 1 + classes), np.float32)
    out[..., 0] = right.mean(axis=-1)
    for c in range(classes):
        members = labels == c
        out[..., 1 + c] = right[..., members].mean(axis=-1) if members.any() else np.nan
    return out


def confusion(predicted: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """int64 ``(classes, classes)`` counts: rows the true class, columns the predicted one."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably in float64 and returned as float32."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class Ablator:
    """The probe set run up to a layer once, ready to have channels switched off.

    Attributes:
        split: The model cut at the layer.
        values: The cut's output on the images, float32 ``(N, ..., channels)``.
        frontier: The other tensors the rest of the network reads (skip connections).
        fill: What a switched-off channel takes: zeros, or the mean over the images.
        mode: ``"zero"`` or ``"mean"``.
        intact: The intact network's logits, through the same two halves.
    """

    split: ModelSplit
    values: np.ndarray
    frontier: list[np.ndarray]
    fill: np.ndarray
    mode: AblationMode
    intact: np.ndarray

    @property
    def channels(self) -> int:
        """How many channels the cut has (its last axis)."""
        return int(self.values.shape[-1])

    def logits(self, switched_off: Sequence[int]) -> np.ndarray:
        """The logits with the channels ``switched_off`` set to :attr:`fill`."""
        if not len(switched_off):
            return self.intact
        altered = self.values.copy()
        altered[..., list(switched_off)] = self.fill[..., list(switched_off)]
        return self.split.run_tail(altered, self.frontier)

    def each_channel(self, channels: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """``(channel, logits)`` with each of ``channels`` switched off alone.

        Several channels' altered copies go through the rest of the network in one batch;
        where the rest starts with channel-wise layers and a ``Dense`` layer, only the
        switched-off channel's share of that layer is computed again
        (:class:`convscope.models.split.DenseShortcut`).
        """
        if self.split.shortcut is not None:
            yield from self._each_channel_through_dense(channels)
            return
        count = len(self.values)
        per_copy = max(1, self.values.size + sum(f.size for f in self.frontier))
        group = max(1, min(len(channels), COPIES_BUDGET // per_copy))
        for start in range(0, len(channels), group):
            chosen = list(channels[start : start + group])
            copies = np.repeat(self.values[None], len(chosen), axis=0)
            for slot, channel in enumerate(chosen):
                copies[slot, ..., channel] = self.fill[..., channel]
            frontier = [np.concatenate([f] * len(chosen), axis=0) for f in self.frontier]
            logits = self.split.run_tail(copies.reshape(-1, *self.values.shape[1:]), frontier)
            for slot, channel in enumerate(chosen):
                yield channel, logits[slot * count : (slot + 1) * count]

    def _each_channel_through_dense(
        self, channels: Sequence[int]
    ) -> Iterator[tuple[int, np.ndarray]]:
        import keras

        shortcut = self.split.shortcut
        assert shortcut is not None

        def dense_input(values: np.ndarray) -> np.ndarray:
            if shortcut.before is None:
                return values
            return inspect_forward(shortcut.before, values)

        dense = shortcut.dense
        kernel, bias = (np.asarray(w, np.float32) for w in (dense.kernel, dense.bias))
        intact_input = dense_input(self.values)
        intact = intact_input @ kernel + bias
        # The layers before the Dense one act on each channel apart, so channel k of their
        # output for a copy with channel k switched off is their output for the fill alone.
        filled = dense_input(self.fill[None])[0]
        width, count = self.channels, len(self.values)
        group = max(1, min(len(channels), COPIES_BUDGET // max(1, intact.size)))
        for start in range(0, len(channels), group):
            chosen = list(channels[start : start + group])
            changed = []
            for channel in chosen:
                columns = slice(channel, None, width)
                change = (filled[columns] - intact_input[:, columns]) @ kernel[columns]
                changed.append(intact + change)
            activated = keras.ops.convert_to_numpy(dense.activation(np.concatenate(changed)))
            activated = activated.astype(np.float32)
            after = shortcut.after
            logits = activated if after is None else inspect_forward(after, activated)
            for slot, channel in enumerate(chosen):
                yield channel, logits[slot * count : (slot + 1) * count]


#: Cut models with their images run up to the cut, per model, most recent last: a toggle
#: in the web app asks again for the same layer, snapshot and images.
_ABLATORS: weakref.WeakKeyDictionary[keras.Model, OrderedDict[Any, Ablator]] = (
    weakref.WeakKeyDictionary()
)
ABLATORS_KEPT = 2


def inspect_forward(model: keras.Model, values: np.ndarray) -> np.ndarray:
    """``model``'s single output on ``values``, in batches as large as the tail's."""
    from convscope.models import inspect
    from convscope.models.split import TAIL_BUDGET

    rows = max(inspect.FORWARD_BATCH, TAIL_BUDGET // max(1, values[0].size))
    return inspect.forward(model, values, batch_size=rows)[0]


def ablator(model: keras.Model, inputs: LensInputs, params: AblationParams) -> Ablator:
    """Cut ``model`` at ``params.layer`` and run the lens's images up to it.

    The result is kept for the next call with the same layer, mode, weights and images.

    Raises:
        InvalidInput: Unknown layer (``field`` is ``"layer"``), one the logits do not
            depend on, or a model without convolution and no layer named.
    """
    from convscope.models import inspect
    from convscope.models.split import split_at

    if params.layer is None:
        try:
            name = inspect.last_convolution(model).name
        except InvalidInput:
            raise InvalidInput(
                "layer", "the model has no convolution: name the layer to switch off"
            ) from None
    else:
        name = params.layer
    from convscope.depth.features import array_digest

    key = (name, params.mode, array_digest(model.get_weights()), array_digest([inputs.images]))
    kept = _ABLATORS.setdefault(model, OrderedDict())
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    split = split_at(model, name)
    values, frontier = split.run_head(inputs.images)
    if params.mode == "mean":
        fill = values.mean(axis=0, dtype=np.float64).astype(np.float32)
    else:
        fill = np.zeros(values.shape[1:], np.float32)
    result = Ablator(split, values, frontier, fill, params.mode, split.run_tail(values, frontier))
    kept[key] = result
    while len(kept) > ABLATORS_KEPT:
        kept.popitem(last=False)
    return result


def check_channels(channels: Sequence[int], width: int) -> None:
    """Raise ``InvalidInput("channels")`` if a channel is outside ``0..width - 1``."""
    outside = [c for c in channels if c >= width]
    if outside:
        raise InvalidInput(
            "channels", f"the layer has channels 0..{width - 1}; got {', '.join(map(str, outside))}"
        )


def split_meta(ablation: Ablator, labels: np.ndarray, classes: int) -> dict[str, object]:
    """What both lenses say about where they cut and what they switch off."""
    split = ablation.split
    return {
        "layer": split.layer,
        "ablated_layer": split.cut,
        "residual_branch": split.branch,
        "mode": ablation.mode,
        "layer_channels": ablation.channels,
        "images": len(labels),
        "class_counts": np.bincount(labels, minlength=classes).tolist(),
    }
