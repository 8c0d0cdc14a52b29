"""What the depth lenses share: their feature and distance parameters, and their features.

``layer_features``, ``knn_accuracy``, ``linear_probes``, ``similar_images`` and
``layer_maps`` all measure the same features (:mod:`convscope.depth.features`), so the
numbers of one can be checked against the arrays of another. The module's name starts
with an underscore: it registers no lens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from convscope.depth.reduction import MAX_FEATURES, RULE
from convscope.lenses.base import LensInputs, LensParams

if TYPE_CHECKING:
    import keras

    from convscope.depth.features import LayerFeatures

REFERENCE_PROBES = (
    "Guillaume Alain, Yoshua Bengio. Understanding intermediate layers using linear "
    "classifier probes. ICLR 2017 workshop. https://arxiv.org/abs/1610.01644"
)
REFERENCE_KNN = (
    "Thomas Cover, Peter Hart. Nearest neighbor pattern classification. IEEE Transactions "
    "on Information Theory 13(1), 1967."
)
REFERENCE_PLAYGROUND = (
    "Victor Dibia. ConvNet Playground: learning convolutional neural networks through "
    "interactive visualization. Cloudera Fast Forward Labs, 2019. "
    "https://github.com/fastforwardlabs/convnetplayground"
)


class FeatureParams(LensParams):
    """The features every depth lens measures."""

    max_features: int = Field(
        default=MAX_FEATURES,
        ge=1,
        le=MAX_FEATURES,
        description="Features per image and layer, after adaptive average pooling.",
    )


class DistanceParams(FeatureParams):
    """Features compared by a distance."""

    metric: Literal["cosine", "euclidean"] = Field(
        default="cosine", description="How two images' features are compared."
    )


class SampledParams(FeatureParams):
    """Features measured on all the images, or on a class-stratified sample of them."""

    sample_size: int | None = Field(
        default=None,
        ge=2,
        le=1_000_000,
        description="Measure on a class-stratified sample of this many images, drawn with "
        "seed 0 as a probe set is (default: all the images).",
    )


def features_of(model: keras.Model, inputs: LensInputs, params: FeatureParams) -> LayerFeatures:
    """Every layer's features of the lens's images (cached for the same weights and images)."""
    from convscope.depth.features import layer_features

    return layer_features(model, inputs.images, max_features=params.max_features)


def sampled(inputs: LensInputs, params: SampledParams) -> LensInputs:
    """The lens's images and labels, or the sample of them that ``params`` asks for."""
    from convscope.depth.measures import stratified_sample

    assert inputs.labels is not None
    chosen = stratified_sample(inputs.labels, params.sample_size)
    if len(chosen) == len(inputs.labels):
        return inputs
    return LensInputs(inputs.images[chosen], None, inputs.labels[chosen])


def features_meta(features: LayerFeatures) -> dict[str, Any]:
    """What every depth lens says about its features: rows, pooling and duplicates."""
    return {
        "layers": list(features.names),
        "max_features": features.max_features,
        "rule": RULE.format(max_features=features.max_features),
        "reductions": features.describe(),
        "same_as": dict(features.same_as),
    }
