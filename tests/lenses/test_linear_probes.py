"""Linear probes: decodability per layer, on trained and untrained networks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from convscope import lenses
from convscope.depth.measures import _standardised, fit_probe, probe_split, stratified_sample


def table(title: str, result: lenses.LensResult) -> str:
    rows = [f"{title} (network: {result.meta['network_accuracy']:.3f})"]
    for name, value in zip(result.meta["layers"], result.arrays["accuracy"], strict=True):
        rows.append(f"  {name:<10} {value:.3f}")
    return "\n".join(rows)


def test_the_last_hidden_layer_decodes_what_the_network_decides(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = lenses.compute("linear_probes", model, images, labels=labels)
    print(table("linear probes, small_cnn trained on shapes", result))
    accuracy = dict(zip(result.meta["layers"], result.arrays["accuracy"], strict=True))
    network = result.meta["network_accuracy"]
    assert network > 0.8, "the network learned the shapes"
    assert abs(accuracy["dense1"] - network) <= 0.05
    # The class is in the outline alone: no straight line through the pixels finds it.
    assert accuracy["dense1"] > accuracy["input"] + 0.3
    assert result.meta["train_images"] + result.meta["test_images"] == len(labels)


def test_an_untrained_network_adds_nothing_to_the_pixels(untrained_digits) -> None:
    model, images, labels = untrained_digits.model, untrained_digits.images, untrained_digits.labels
    result = lenses.compute("linear_probes", model, images, labels=labels)
    print(table("linear probes, small_cnn as initialised, digits", result))
    accuracy = dict(zip(result.meta["layers"], result.arrays["accuracy"], strict=True))
    pixels = accuracy["input"]
    # Random filters keep what the pixels hold but find nothing new; the narrow random
    # dense layers (64 and 10 units) lose some of it.
    for name in ("conv1", "pool1", "conv2", "pool2"):
        assert abs(accuracy[name] - pixels) <= 0.05, name
    assert max(accuracy.values()) <= pixels + 0.03
    assert result.meta["network_accuracy"] < 0.3, "an untrained network guesses"


def test_the_probe_is_scikit_learns_logistic_regression() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 120)
    features = rng.normal(size=(120, 5)).astype(np.float32) + labels[:, None] * 0.8
    regularization = 0.01
    weights, bias = fit_probe(features, labels, 3, regularization, tolerance=1e-8)
    # Mean loss + r/2 |W|^2 is scikit-learn's C * total loss + 1/2 |W|^2 with C = 1 / (n r).
    reference = LogisticRegression(C=1 / (len(labels) * regularization), tol=1e-10, max_iter=5000)
    with threadpool_limits(limits=1):
        reference.fit(features, labels)
    ours = features @ weights + bias
    theirs = reference.decision_function(features)
    # Softmax scores are defined up to a constant per image.
    np.testing.assert_allclose(
        ours - ours.mean(axis=1, keepdims=True),
        theirs - theirs.mean(axis=1, keepdims=True),
        atol=2e-3,
    )


def test_the_split_halves_every_class_with_its_seed() -> None:
    labels = np.repeat(np.arange(4), [10, 7, 1, 6])
    train = probe_split(labels, seed=0)
    assert [int(train[labels == c].sum()) for c in range(4)] == [5, 3, 0, 3]
    np.testing.assert_array_equal(train, probe_split(labels, seed=0))
    assert not np.array_equal(train, probe_split(labels, seed=1))


def test_features_are_scaled_on_the_training_half() -> None:
    features = np.random.default_rng(0).normal(3.0, 5.0, (40, 6)).astype(np.float32)
    train = np.arange(40) < 20
    scaled = _standardised(features, train)
    np.testing.assert_allclose(scaled[train].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(np.mean(np.sum(scaled[train] ** 2, axis=1)), 1, rtol=1e-5)


def test_a_sample_is_measured_as_that_sample_alone(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = lenses.compute("linear_probes", model, images, labels=labels, sample_size=120)
    chosen = stratified_sample(labels, 120)
    assert len(chosen) == 120 and np.bincount(labels[chosen]).min() == 20
    alone = lenses.compute("linear_probes", model, images[chosen], labels=labels[chosen])
    np.testing.assert_array_equal(result.arrays["accuracy"], alone.arrays["accuracy"])
    assert result.meta["train_images"] + result.meta["test_images"] == 120


def test_network_accuracy_is_on_the_test_half(trained_shapes) -> None:
    model, images, labels = trained_shapes.model, trained_shapes.images, trained_shapes.labels
    result = lenses.compute("linear_probes", model, images, labels=labels, seed=3)
    test = ~probe_split(labels, 3)
    predicted = np.asarray(model(images, training=False)).argmax(axis=1)
    assert result.meta["network_accuracy"] == pytest.approx(
        np.mean(predicted[test] == labels[test])
    )
    assert result.meta["test_images"] == int(test.sum()) and result.meta["seed"] == 3
