"""Layer maps: each layer's features on their two principal components."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from convscope import lenses


def test_maps_are_the_principal_components_of_the_features(trained_shapes) -> None:
    # 300 images: layers wider than 256 features take the randomized solver.
    model, images = trained_shapes.model, trained_shapes.images
    result = lenses.compute("layer_maps", model, images)
    features = lenses.compute("layer_features", model, images)
    positions = result.arrays["positions"]
    assert positions.shape == (len(result.meta["layers"]), len(images), 2)
    for row, name in enumerate(result.meta["layers"]):
        np.testing.assert_allclose(positions[row].mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(np.mean(np.sum(positions[row] ** 2, axis=1)), 1, rtol=1e-4)
        # The map's plane holds as much of the features' variance as the best plane (the
        # exact principal components); wide layers use the randomized solver.
        values = features.arrays[name].astype(np.float64)
        centred = values - values.mean(axis=0)
        with threadpool_limits(limits=1):
            singular = np.linalg.svd(centred, compute_uv=False)
            plane = np.linalg.lstsq(positions[row].astype(np.float64), centred, rcond=None)[0]
        explained = np.sum((positions[row] @ plane) ** 2)
        best = np.sum(singular[:2] ** 2)
        print(f"{name}: {explained / best:.6f} of the best plane's variance")
        assert explained >= 0.999 * best, name
