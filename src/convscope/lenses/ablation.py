"""Ablation: switch chosen channels of a layer off and measure what breaks.

Probes show what a layer *holds*; ablation shows what the network *uses*: the chosen
channels of one layer are set to zero (or to their mean over the probe images), the rest
of the network runs on, and the probe set's accuracy, overall and per class, is measured
against the intact network's. The ablated network's predictions and probabilities for
every probe image, and both confusion matrices, come with it, so a view can redraw the
classification map and show which classes collapse.

``channels="all"`` switches the whole layer off; on a residual block's output (its ``Add``
or the activation after it) the block's *branch* is switched off and the skip connection
kept, so the block passes its input on unchanged.

References:
    Ari S. Morcos et al. "On the importance of single directions for generalization".
    ICLR 2018. https://arxiv.org/abs/1803.06959
    Bolei Zhou et al. "Revisiting the importance of individual units in CNNs via
    ablation". 2018. https://arxiv.org/abs/1806.02891

Caveats: zero is not always "off" (a channel whose usual value is far from zero is pushed
somewhere it never was; ``mode="mean"`` is the gentler test); channels that carry the same
information hide each other's importance, so switching off one of them costs little.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from convscope.lenses._ablation import (
    REFERENCE_MORCOS,
    REFERENCE_ZHOU,
    AblationParams,
    ablator,
    accuracies,
    check_channels,
    confusion,
    softmax,
    split_meta,
)
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras

#: Most channels a request may name (the widest layers convscope builds have 64; a flattened
#: layer can have thousands).
MAX_CHANNELS = 65_536


class AblationLensParams(AblationParams):
    """The layer, the channels to switch off, and to what."""

    channels: list[int] | Literal["all"] = Field(
        default="all",
        description="The channels to switch off (indices along the layer's last axis; an "
        "empty list switches nothing off), or 'all'.",
    )

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: list[int] | str) -> list[int] | str:
        if isinstance(value, list):
            if len(value) > MAX_CHANNELS:
                raise ValueError(f"at most {MAX_CHANNELS} channels")
            if any(c < 0 for c in value):
                raise ValueError("channel indices must be 0 or more")
            if len(set(value)) != len(value):
                raise ValueError("a channel is named twice")
        return value


@register_lens(
    "ablation",
    title="Ablation",
    kind="bars",
    description=(
        "The probe set's accuracy, overall and per class, with chosen channels of a layer "
        "switched off (set to zero, or to their mean), beside the intact network's: what "
        "the network uses, not only what a layer holds. Returns the ablated predictions too."
    ),
)
class Ablation(Lens):
    """``arrays``: ``accuracy`` float32 ``(2, 1 + classes)`` (rows: ablated, intact;
    columns: overall, then each class), ``predicted`` int64 ``(2, N)``, ``probabilities``
    float32 ``(2, N, classes)``, ``confusion`` int64 ``(2, classes, classes)``."""

    Params = AblationLensParams
    references = (REFERENCE_MORCOS, REFERENCE_ZHOU)
    needs_labels = True
    scope = "probe_set"
    example_params: ClassVar[dict[str, Any]] = {"channels": [0, 2]}

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: AblationLensParams
    ) -> LensResult:
        from convscope.models import inspect

        assert inputs.labels is not None
        labels = inputs.labels
        classes = inspect.num_classes(model)
        cut = ablator(model, inputs, params)
        if params.channels == "all":
            switched_off = list(range(cut.channels))
        else:
            switched_off = sorted(params.channels)
            check_channels(switched_off, cut.channels)
        intact = cut.logits([])
        ablated = cut.logits(switched_off) if switched_off else intact
        logits = np.stack([ablated, intact])
        predicted = logits.argmax(axis=-1).astype(np.int64)
        return LensResult(
            arrays={
                "accuracy": accuracies(predicted, labels, classes),
                "predicted": predicted,
                "probabilities": softmax(logits),
                "confusion": np.stack([confusion(p, labels, classes) for p in predicted]),
            },
            meta={
                **split_meta(cut, labels, classes),
                "channels": params.channels,
                "switched_off": len(switched_off),
                "rows": ["ablated", "intact"],
            },
        )
