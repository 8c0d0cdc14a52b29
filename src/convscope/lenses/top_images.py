"""Top images: the probe images that make one channel respond most.

Feature visualisation shows what a channel responds to in the extreme, on a synthetic
image; the real images that activate it most show what it responds to in the data. The
two side by side are how a channel is usually read: a synthetic image alone can mislead,
and real images alone mix what the channel sees with everything else in them.

References:
    Matthew D. Zeiler, Rob Fergus. "Visualizing and Understanding Convolutional
    Networks". ECCV 2014. https://arxiv.org/abs/1311.2901
    Chris Olah, Alexander Mordvintsev, Ludwig Schubert. "Feature Visualization", section
    "Dataset examples". Distill, 2017. https://distill.pub/2017/feature-visualization/

Caveat: the ranking is over the probe set only, a sample of the test images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses.base import Lens, LensInputs, LensParams, LensResult, register_lens

if TYPE_CHECKING:
    import keras


class TopImagesParams(LensParams):
    """Which channel, and how many images."""

    layer: str | None = Field(
        default=None,
        description="The layer whose channel ranks the images; empty or null: the logits.",
    )
    channel: int = Field(
        default=0, ge=0, description="The channel (or unit, or class for the logits)."
    )
    count: int = Field(default=9, ge=1, le=100, description="How many images to return.")


@register_lens(
    "top_images",
    title="Top images",
    kind="images",
    description=(
        "The probe images that make one channel respond most (its mean activation over the "
        "image), best first: what the channel reacts to in real data, beside its feature "
        "visualisation."
    ),
)
class TopImages(Lens):
    """The probe images ranked by one channel's mean activation."""

    Params = TopImagesParams
    scope = "probe_set"
    references = (
        "Zeiler and Fergus. Visualizing and Understanding Convolutional Networks. ECCV 2014. "
        "https://arxiv.org/abs/1311.2901",
        "Olah, Mordvintsev, Schubert. Feature Visualization (Dataset examples). Distill, "
        "2017. https://distill.pub/2017/feature-visualization/",
    )
    example_params: ClassVar[dict[str, Any]] = {"channel": 1, "count": 4}

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: TopImagesParams
    ) -> LensResult:
        from convscope.models import inspect

        if params.layer is None:
            layer_name = None
            values = inspect.logits(model, inputs.images)
        else:
            layer_name = inspect.find_layer(model, params.layer).name
            values = inspect.forward(inspect.tap_model(model, [layer_name]), inputs.images)[0]
        width = values.shape[-1]
        if params.channel >= width:
            raise InvalidInput("channel", f"the layer has channels 0..{width - 1}")
        channel = values[..., params.channel]
        scores = channel.reshape(len(channel), -1).mean(axis=1)
        # Best first; equal scores keep the probe set's order.
        order = np.argsort(-scores, kind="stable")[: params.count]
        return LensResult(
            arrays={
                "indices": order.astype(np.int64),
                "scores": scores[order].astype(np.float32),
                "all_scores": scores.astype(np.float32),
            },
            meta={
                "layer": layer_name,
                "channel": params.channel,
                "labels": inputs.labels[order].tolist() if inputs.labels is not None else None,
            },
        )
