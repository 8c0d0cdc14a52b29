"""k-NN accuracy per layer equals scikit-learn's leave-one-out on the same features."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from convscope import lenses
from convscope.depth.measures import knn_predictions
from convscope.errors import InvalidInput


@pytest.mark.parametrize(("k", "metric"), [(5, "cosine"), (3, "euclidean")])
def test_equals_scikit_learn_leave_one_out(trained_shapes, k, metric) -> None:
    # 100 images keep scikit-learn's 100 fits per row quick.
    model = trained_shapes.model
    images, labels = trained_shapes.images[:100], trained_shapes.labels[:100]
    result = lenses.compute("knn_accuracy", model, images, labels=labels, k=k, metric=metric)
    features = lenses.compute("layer_features", model, images)
    assert result.meta["layers"] == features.meta["layers"]
    layers = result.meta["layers"]
    for name, source in result.meta["same_as"].items():
        assert (
            result.arrays["accuracy"][layers.index(name)]
            == (result.arrays["accuracy"][layers.index(source)])
        )
    for name in ("input", "conv1", "pool2", "dense1", "logits"):
        row = layers.index(name)
        classifier = KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute")
        # One thread: on a busy machine scikit-learn's thread pools mostly wait.
        with threadpool_limits(limits=1):
            expected = cross_val_score(classifier, features.arrays[name], labels, cv=LeaveOneOut())
        assert result.arrays["accuracy"][row] == pytest.approx(expected.mean(), abs=1e-6), name


def test_network_accuracy_is_the_models_own(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = lenses.compute("knn_accuracy", model, images, labels=labels)
    predicted = np.asarray(model(images, training=False)).argmax(axis=1)
    assert result.meta["network_accuracy"] == pytest.approx(np.mean(predicted == labels))
    assert result.meta["images"] == len(labels) and result.meta["k"] == 5


def test_votes_on_points_on_a_line() -> None:
    # Two groups on a line. With k=2, the point at 3.5 sees 4.6 (class 1) and 2.0 (class 0):
    # a tie, won by the smaller class, as in scikit-learn.
    features = np.array([[0.0], [1.0], [2.0], [3.5], [4.6], [5.5]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert knn_predictions(features, labels, 1, "euclidean").tolist() == [0, 0, 0, 1, 1, 1]
    assert knn_predictions(features, labels, 2, "euclidean").tolist() == [0, 0, 0, 0, 1, 1]


def test_labels_are_needed(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("knn_accuracy", conv_model, images)
    assert caught.value.field == "labels"
