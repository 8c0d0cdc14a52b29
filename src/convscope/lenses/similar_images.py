"""Similar images per layer: a query image's nearest neighbours in each layer's features.

As in ConvNet Playground's similarity search, the query's features at a layer are compared
with those of every image of the set, and the nearest come back with their distances and
classes, at every layer, from the raw pixels to the logits. Early layers find images that
*look* alike (same brightness, same strokes); deep layers find images of the same *class*.
The **search score** of a layer sums it up: the share of same-class images among the top
``k`` neighbours, the nearest weighing most (rank ``i`` of ``k`` weighs ``(k - i) / k``);
the layer with the highest score is named in ``meta["best_layer"]``.

The query is one of the images, by its index: ``query=17`` (over HTTP, its index in the
run's probe set, as the Depth view sends it when an image is clicked). To search with an
image of your own from Python, append it to the images with its class and give its index.

Reference:
    Victor Dibia. "ConvNet Playground: learning convolutional neural networks through
    interactive visualization". Cloudera Fast Forward Labs, 2019.

Caveat: the score counts classes, not visual similarity: neighbours of another class may
be the more interesting ones (what the layer confuses), and a set with few images per
class caps what any layer can score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from convscope.errors import InvalidInput
from convscope.lenses._depth import REFERENCE_PLAYGROUND, DistanceParams, features_meta, features_of
from convscope.lenses.base import Lens, LensInputs, LensResult, register_lens

if TYPE_CHECKING:
    import keras

#: Neighbours returned (the query excluded), by default.
DEFAULT_NEIGHBOURS = 10


class SimilarImagesParams(DistanceParams):
    """The query, how many neighbours, and the layer shown first."""

    query: int = Field(default=0, ge=0, description="Index of the query among the images.")
    k: int = Field(
        default=DEFAULT_NEIGHBOURS,
        ge=1,
        le=100,
        description="Neighbours returned and scored, the query excluded.",
    )
    layer: str | None = Field(
        default=None,
        description="The layer whose neighbours are listed in meta; default the best layer.",
    )


@register_lens(
    "similar_images",
    title="Similar images per layer",
    kind="images",
    description=(
        "The probe images nearest to a query image in each layer's features, with their "
        "distances and classes, and each layer's search score: the share of the query's "
        "class among its nearest neighbours, the nearest weighing most."
    ),
)
class SimilarImages(Lens):
    """``indices``, ``distances``, ``classes``: ``(layers, k + 1)``, the query first;
    ``score``: ``(layers,)``."""

    Params = SimilarImagesParams
    references = (REFERENCE_PLAYGROUND,)
    needs_labels = True
    scope = "probe_set"
    example_params: ClassVar[dict[str, Any]] = {"query": 1, "k": 3, "max_features": 64}

    def compute(
        self, model: keras.Model, inputs: LensInputs, params: SimilarImagesParams
    ) -> LensResult:
        from convscope.depth.measures import nearest, search_score

        assert inputs.labels is not None
        labels = inputs.labels
        count = len(labels)
        if params.query >= count:
            raise InvalidInput("query", f"there are {count} images (0..{count - 1})")
        features = features_of(model, inputs, params)
        if params.layer is not None and params.layer not in features.names:
            raise InvalidInput("layer", f"no layer named {params.layer!r}", choices=features.names)
        width = min(params.k + 1, count)
        count_rows = len(features.names)
        indices = np.zeros((count_rows, width), dtype=np.int64)
        found = np.zeros((count_rows, width), dtype=np.float32)
        scores = np.zeros(count_rows, dtype=np.float32)
        query_class = int(labels[params.query])
        found_rows = features.each(lambda rows: nearest(rows, params.query, width, params.metric))
        for row, (order, gaps) in enumerate(found_rows):
            indices[row], found[row] = order, gaps
            scores[row] = search_score(labels[order[1:]], query_class)
        best = features.names[int(np.argmax(scores))]
        chosen = params.layer or best
        row = features.names.index(chosen)
        return LensResult(
            arrays={
                "indices": indices,
                "distances": found,
                "classes": labels[indices],
                "score": scores,
            },
            meta={
                **features_meta(features),
                "query": params.query,
                "query_class": query_class,
                "query_predicted": int(features.logits[params.query].argmax()),
                "k": width - 1,
                "metric": params.metric,
                "best_layer": best,
                "layer": chosen,
                "neighbours": [
                    {"index": int(i), "distance": float(d), "class": int(labels[i])}
                    for i, d in zip(indices[row], found[row], strict=True)
                ],
            },
        )
