"""The edge detector: Sobel magnitude of the image, the same whatever the model."""

from __future__ import annotations

import numpy as np

from convscope import lenses
from convscope.lenses.edge_detector import sobel_magnitude


def test_a_vertical_step_gives_a_vertical_edge() -> None:
    image = np.zeros((1, 6, 6, 3), np.float32)
    image[:, :, 3:] = 100.0
    edges = sobel_magnitude(image)[0]
    # Sobel's horizontal kernel sums to 4 x the step across the two columns it straddles.
    np.testing.assert_allclose(edges[:, 2:4], 400.0)
    np.testing.assert_allclose(edges[:, :2], 0.0)
    np.testing.assert_allclose(edges[:, 4:], 0.0)


def test_the_map_ignores_the_model_and_the_target(conv_model, softmax_model, images) -> None:
    first = lenses.compute("edge_detector", conv_model, images, target=0).arrays["map"]
    second = lenses.compute("edge_detector", softmax_model, images, target=2).arrays["map"]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, sobel_magnitude(images))
