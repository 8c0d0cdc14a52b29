"""Similar images: the query first at distance 0, neighbours sorted, the search score."""

from __future__ import annotations

import numpy as np
import pytest

from convscope import lenses
from convscope.depth.measures import search_score
from convscope.errors import InvalidInput


def cosine_distances(features: np.ndarray, query: int) -> np.ndarray:
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-30)
    return 1.0 - unit @ unit[query]


def test_the_query_comes_first_then_its_neighbours_in_order(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    query = 17
    result = lenses.compute("similar_images", model, images, labels=labels, query=query, k=8)
    features = lenses.compute("layer_features", model, images)
    layers = result.meta["layers"]
    assert result.arrays["indices"].shape == (len(layers), 9)
    for row, name in enumerate(layers):
        indices, distances = result.arrays["indices"][row], result.arrays["distances"][row]
        assert indices[0] == query and distances[0] == 0.0
        assert np.all(np.diff(distances) >= 0), name
        assert len(set(indices.tolist())) == len(indices)
        expected = cosine_distances(features.arrays[name].astype(np.float64), query)
        np.testing.assert_allclose(distances[1:], expected[indices[1:]], atol=1e-5, err_msg=name)
        # Nothing outside the list is nearer than its last neighbour.
        outside = np.setdiff1d(np.arange(len(labels)), indices)
        assert expected[outside].min() >= distances[-1] - 1e-5, name
        np.testing.assert_array_equal(result.arrays["classes"][row], labels[indices])


def test_scores_name_the_best_layer(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = lenses.compute("similar_images", model, images, labels=labels, query=3, k=10)
    scores = result.arrays["score"]
    for row in range(len(scores)):
        neighbours = result.arrays["classes"][row, 1:]
        assert scores[row] == pytest.approx(search_score(neighbours, labels[3]))
    assert result.meta["best_layer"] == result.meta["layers"][int(np.argmax(scores))]
    assert result.meta["layer"] == result.meta["best_layer"]
    assert result.meta["query_class"] == labels[3]
    print("search scores, image 3:", dict(zip(result.meta["layers"], scores.round(2), strict=True)))


def test_a_chosen_layer_lists_its_neighbours(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = lenses.compute(
        "similar_images", model, images, labels=labels, query=5, k=4, layer="conv1"
    )
    row = result.meta["layers"].index("conv1")
    assert [n["index"] for n in result.meta["neighbours"]] == result.arrays["indices"][row].tolist()
    assert result.meta["layer"] == "conv1"


def test_the_search_score_weighs_the_nearest_most() -> None:
    assert search_score(np.array([1, 1, 1]), 1) == 1.0
    assert search_score(np.array([0, 0, 0]), 1) == 0.0
    # Weights 3/3, 2/3, 1/3: the nearest alone of the query's class scores 3/6.
    assert search_score(np.array([1, 0, 0]), 1) == pytest.approx(0.5)
    assert search_score(np.array([0, 0, 1]), 1) == pytest.approx(1 / 6)


@pytest.mark.parametrize(("params", "field"), [({"query": 6}, "query"), ({"layer": "x"}, "layer")])
def test_bad_queries_are_refused(conv_model, images, labels, params, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("similar_images", conv_model, images, labels=labels, **params)
    assert caught.value.field == field
