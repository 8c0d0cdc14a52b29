"""Layer features: every layer's activations as one vector per image, of bounded length.

Each layer's output is reduced by adaptive average pooling to at most ``max_features``
numbers per image (2,048 by default), and the raw pixels by the same rule (the rule is
in :mod:`convscope.depth.features` and in the result's ``meta``). These are the arrays
that ``knn_accuracy``, ``linear_probes``, ``similar_images`` and ``layer_maps`` measure,
so anyone can re-check their numbers with another library.

Reference:
    Guillaume Alain, Yoshua Bengio. "Understanding intermediate layers using linear
    classifier probes". https://arxiv.org/abs/1610.01644

Caveat: pooling keeps *what* was found and roughly *where*, not the finest positions; a
layer's full output is what the ``activations`` lens returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from convscope.lenses._depth import REFERENCE_PROBES, FeatureParams, features_meta
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras


class LayerFeaturesParams(FeatureParams):
    """Which layers, and how many features each."""

    layers: list[str] | None = Field(
        default=None,
        max_length=256,
        description="Layer names to return (the raw pixels always come first); empty or "
        "null means every layer.",
    )


@register_lens(
    "layer_features",
    title="Layer features",
    kind="activations",
    description=(
        "Every layer's output for the image reduced to at most 2,048 numbers by adaptive "
        "average pooling, after the raw pixels reduced the same way: the features on which "
        "the probes, the neighbours and the similarity search are measured."
    ),
)
class LayerFeatures(Lens):
    """``arrays["input"]`` then ``arrays[layer]``: float32 ``(N, features)``."""

    Params = LayerFeaturesParams
    references = (REFERENCE_PROBES,)
    example_params: ClassVar[dict[str, Any]] = {"max_features": 64}

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: LayerFeaturesParams
    ) -> LensResult:
        from convscope.depth.features import layer_features

        features = layer_features(
            model,
            inputs.images,
            max_features=params.max_features,
            layers=params.layers,
            cache=False,
        )
        return LensResult(
            arrays={name: features.features[name] for name in features.names},
            meta=features_meta(features),
        )
