"""Channel importance: the accuracy each channel of a layer costs when switched off alone.

For every channel of a layer, the ``ablation`` lens with that channel alone: the drop in
the probe set's accuracy, overall and per class, from the intact network's. The layers
before the cut run once; the rest of the network runs on altered copies of the layer's
output, several channels' copies in one batch, so a layer of 64 channels costs at most
one pass of the rest of the network per channel.

A large drop for one class and none for the others marks a channel that class relies on;
counting the channels whose drop exceeds 1% at every snapshot shows the network coming to
rely on some of them during training.

References:
    Ari S. Morcos et al. "On the importance of single directions for generalization".
    ICLR 2018. https://arxiv.org/abs/1803.06959
    Bolei Zhou et al. "Revisiting the importance of individual units in CNNs via
    ablation". 2018. https://arxiv.org/abs/1806.02891

Caveats: as for ``ablation``; and single-channel drops do not add up: channels that carry
the same information each look unimportant, while switching them off together costs a lot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from convscope.lenses._ablation import (
    REFERENCE_MORCOS,
    REFERENCE_ZHOU,
    AblationParams,
    ablator,
    accuracies,
    split_meta,
)
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras


@register_lens(
    "channel_importance",
    title="Channel importance",
    kind="bars",
    description=(
        "For every channel of a layer, the drop in the probe set's accuracy, overall and "
        "per class, when that channel alone is switched off: which channels the network "
        "relies on, and for which classes."
    ),
)
class ChannelImportance(Lens):
    """``arrays``: ``drop`` float32 ``(channels, 1 + classes)`` (intact minus ablated
    accuracy: overall, then each class), ``intact`` float32 ``(1 + classes,)``;
    ``meta["ranking"]`` the channels by overall drop, largest first, and
    ``meta["ranking_per_class"]`` one such list per class."""

    Params = AblationParams
    references = (REFERENCE_MORCOS, REFERENCE_ZHOU)
    needs_labels = True
    scope = "probe_set"
    example_params: ClassVar[dict[str, Any]] = {}

    def compute(self, model: keras.Model, inputs: LensInputs, params: AblationParams) -> LensResult:
        from convscope.models import inspect

        assert inputs.labels is not None
        labels = inputs.labels
        classes = inspect.num_classes(model)
        cut = ablator(model, inputs, params)
        intact = accuracies(cut.logits([]).argmax(axis=-1), labels, classes)
        drop = np.empty((cut.channels, 1 + classes), np.float32)
        for channel, logits in cut.each_channel(range(cut.channels)):
            drop[channel] = intact - accuracies(logits.argmax(axis=-1), labels, classes)

        def ranking(column: int) -> list[int]:
            # Largest drop first; equal drops keep the channels' order.
            return np.argsort(-drop[:, column], kind="stable").tolist()

        return LensResult(
            arrays={"drop": drop, "intact": intact},
            meta={
                **split_meta(cut, labels, classes),
                "ranking": ranking(0),
                "ranking_per_class": [ranking(1 + c) for c in range(classes)],
            },
        )
