"""Layer maps: every probe image placed in 2-D by its features at each layer.

The classification map of the training view, for any layer: each layer's features
(``layer_features``) are projected on their two principal components and scaled to unit
root-mean-square radius (:func:`convscope.training.projection.pca_2d`). Images close on a
layer's map have similar features there; classes that form separate clouds are separable
at that depth.

The positions of one snapshot are not aligned with anything: principal axes have no
preferred sign or rotation. The Depth view aligns them across layers and snapshots by
orthogonal Procrustes analysis, as the training view does (``/api/runs/{id}/depth/maps``).

Reference:
    Karl Pearson. "On lines and planes of closest fit to systems of points in space".
    Philosophical Magazine, 1901 (principal component analysis).

Caveat: two dimensions keep only the largest directions of variation; classes that
overlap on a map may still be separable in the layer's full features (the probes say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from convscope.lenses._depth import FeatureParams, features_meta, features_of
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras


@register_lens(
    "layer_maps",
    title="Map of the images at every layer",
    kind="scatter",
    description=(
        "Every probe image placed in 2-D by the two principal components of its features "
        "at each layer, from the raw pixels to the logits: where the classes form separate "
        "clouds, the layer has separated them."
    ),
)
class LayerMaps(Lens):
    """``arrays["positions"]``: float32 ``(layers, N, 2)``, unit RMS radius per layer."""

    Params = FeatureParams
    references = (
        "Karl Pearson. On lines and planes of closest fit to systems of points in space. "
        "Philosophical Magazine 2(11), 1901.",
    )
    scope = "probe_set"
    example_params: ClassVar[dict[str, Any]] = {"max_features": 64}

    def compute(self, model: keras.Model, inputs: LensInputs, params: FeatureParams) -> LensResult:
        from convscope.depth.measures import one_blas_thread
        from convscope.training.projection import pca_2d

        features = features_of(model, inputs, params)
        with one_blas_thread():
            positions = np.stack(features.each(pca_2d)).astype(np.float32)
        return LensResult(arrays={"positions": positions}, meta=features_meta(features))
