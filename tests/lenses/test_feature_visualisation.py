"""Feature visualisation raises its channel well above what random images give, reproducibly."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import convscope
from convscope import lenses
from convscope.errors import InvalidInput
from convscope.models.gradients import channel_gradients
from convscope.models.inspect import logits_model


def channel_mean(model: keras.Model, layer: str, image: np.ndarray, channel: int) -> float:
    tap = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return float(np.asarray(tap(image[None], training=False))[0, ..., channel].mean())


@pytest.fixture(scope="module")
def trained_model(trained_run):
    with convscope.open_store(trained_run.store_dir) as store:
        model = convscope.load_model(store, trained_run.run_id)
        probe = store.read_run_arrays(trained_run.run_id, "probe")["images"]
    return model, probe.astype(np.float32)


@pytest.mark.parametrize("parameterisation", ["fourier", "pixels"])
@pytest.mark.parametrize(("layer", "channel"), [("conv2", 2), ("dense1", 2)])
def test_the_channel_rises_above_every_random_input(
    trained_model, parameterisation, layer, channel
) -> None:
    model, probe = trained_model
    result = lenses.compute(
        "feature_visualisation",
        model,
        probe,
        layer=layer,
        channel=channel,
        parameterisation=parameterisation,
    )
    image = result.arrays["image"]
    assert image.shape == (8, 8, 1) and image.dtype == np.float32
    assert result.meta["input_range"] == [float(probe.min()), float(probe.max())]
    assert image.min() >= probe.min() and image.max() <= probe.max()
    # The number shown is the model's own value for the image shown.
    achieved = channel_mean(model, layer, image, channel)
    assert result.meta["objective"] == pytest.approx(achieved, rel=1e-4, abs=1e-5)
    noise = np.random.default_rng(1).uniform(0, probe.max(), (32, 8, 8, 1)).astype(np.float32)
    random = [channel_mean(model, layer, each, channel) for each in noise]
    assert achieved > 1.3 * max(random), (achieved, max(random))
    assert result.arrays["trace"].shape == (128,)


def test_the_same_seed_gives_the_same_image(conv_model, images) -> None:
    run = lambda seed: lenses.compute(  # noqa: E731
        "feature_visualisation", conv_model, images, layer="conv1", channel=1, steps=16, seed=seed
    )
    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first.arrays["image"], again.arrays["image"])
    assert not np.array_equal(first.arrays["image"], other.arrays["image"])


def test_a_class_is_visualised_through_its_logit(softmax_model, images) -> None:
    result = lenses.compute("feature_visualisation", softmax_model, images, channel=1, steps=32)
    assert result.meta["layer"] is None
    logit = np.asarray(logits_model(softmax_model)(result.arrays["image"][None]))[0, 1]
    assert result.meta["objective"] == pytest.approx(float(logit), rel=1e-4, abs=1e-5)
    assert logit > result.meta["random_objective"]


def test_the_gradient_matches_finite_differences(conv_model, images) -> None:
    image = images[:1] / 2 + 60
    _values, gradient = channel_gradients(conv_model, image, "dense1", 5)
    direction = np.random.default_rng(0).normal(size=image.shape).astype(np.float32)
    epsilon = 0.5
    plus, _ = channel_gradients(conv_model, image + epsilon * direction, "dense1", 5)
    minus, _ = channel_gradients(conv_model, image - epsilon * direction, "dense1", 5)
    numeric = (plus[0] - minus[0]) / (2 * epsilon)
    assert float(np.sum(gradient * direction)) == pytest.approx(float(numeric), rel=0.05, abs=1e-4)


def test_a_channel_beyond_the_layer_is_refused(conv_model, images) -> None:
    with pytest.raises(InvalidInput) as caught:
        lenses.compute("feature_visualisation", conv_model, images, layer="conv1", channel=9)
    assert caught.value.field == "channel" and "0..3" in caught.value.reason
