"""k-NN accuracy per layer: how often an image's nearest neighbours at a layer share its class.

For every layer (and the raw pixels first), each image of the set is classified by the
majority class of its ``k`` nearest *other* images in that layer's features (leave one
out), and the share of images classified right is the layer's accuracy. Where it rises,
images of a class have come close together: the layer has made the classes separable by
proximity, with no training at all.

References:
    Thomas Cover, Peter Hart. "Nearest neighbor pattern classification". IEEE Transactions
    on Information Theory, 1967.
    Nicolas Papernot, Patrick McDaniel. "Deep k-Nearest Neighbors". 2018.
    https://arxiv.org/abs/1803.04765

Caveat: nearness depends on the metric and on the pooling; a low k-NN accuracy does not
prove that a layer holds no class information (a linear probe may still decode it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.lenses._depth import (
    REFERENCE_KNN,
    DistanceParams,
    SampledParams,
    features_meta,
    features_of,
    sampled,
)
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras

#: Neighbours that vote, by default.
DEFAULT_K = 5


class KnnAccuracyParams(SampledParams, DistanceParams):
    """How many neighbours vote, and how they are found."""

    k: int = Field(default=DEFAULT_K, ge=1, le=100, description="Neighbours that vote.")


@register_lens(
    "knn_accuracy",
    title="k-NN accuracy per layer",
    kind="bars",
    description=(
        "For every layer, from the raw pixels to the logits, the share of probe images "
        "whose k nearest other images in that layer's features are mostly of their class "
        "(leave-one-out k-nearest neighbours): where it rises, the layer has brought each "
        "class together."
    ),
)
class KnnAccuracy(Lens):
    """``arrays["accuracy"]``: float32 ``(layers,)``, rows as ``meta["layers"]``."""

    Params = KnnAccuracyParams
    references = (
        REFERENCE_KNN,
        "Nicolas Papernot, Patrick McDaniel. Deep k-Nearest Neighbors. 2018. "
        "https://arxiv.org/abs/1803.04765",
    )
    needs_labels = True
    scope = "probe_set"
    example_params: ClassVar[dict[str, Any]] = {"k": 3, "max_features": 64}

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: KnnAccuracyParams
    ) -> LensResult:
        from convscope.depth.measures import knn_accuracy

        inputs = sampled(inputs, params)
        assert inputs.labels is not None
        labels = inputs.labels
        features = features_of(model, inputs, params)
        accuracy = np.array(
            features.each(lambda values: knn_accuracy(values, labels, params.k, params.metric)),
            dtype=np.float32,
        )
        network = float(np.mean(features.logits.argmax(axis=1) == labels))
        return LensResult(
            arrays={"accuracy": accuracy},
            meta={
                **features_meta(features),
                "k": params.k,
                "metric": params.metric,
                "images": len(labels),
                "sample_size": params.sample_size,
                "network_accuracy": network,
            },
        )
