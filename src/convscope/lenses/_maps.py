"""NumPy helpers shared by the attribution lenses: resizing, blurring, reference maps, scores.

Pure functions on arrays, no Keras: the lenses that need them stay cheap to import, and
each helper is tested on its own.
"""

from __future__ import annotations

import numpy as np


def _interpolation_matrix(source: int, target: int) -> np.ndarray:
    """``(target, source)`` weights of linear interpolation with half-pixel centres."""
    position = (np.arange(target, dtype=np.float64) + 0.5) * source / target - 0.5
    position = np.clip(position, 0.0, source - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, source - 1)
    weight = position - low
    matrix = np.zeros((target, source))
    matrix[np.arange(target), low] += 1.0 - weight
    matrix[np.arange(target), high] += weight
    return matrix


def resize_bilinear(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``(N, h, w)`` maps to ``(N, height, width)`` by bilinear interpolation.

    Pixel centres are aligned as in ``tf.image.resize(..., "bilinear")`` (half-pixel
    centres, edges clamped), so a map upsampled here lines up with the image.
    """
    rows = _interpolation_matrix(maps.shape[1], height)
    columns = _interpolation_matrix(maps.shape[2], width)
    resized = np.einsum("yh,nhw,xw->nyx", rows, maps.astype(np.float64), columns)
    return resized.astype(np.float32)


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Blur ``(N, H, W, C)`` images with a Gaussian of ``sigma`` pixels (edges reflected)."""
    if sigma <= 0:
        return images.astype(np.float32, copy=True)
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    blurred = images.astype(np.float64)
    for axis in (1, 2):
        size = blurred.shape[axis]
        # Reflection needs the image to be wider than the kernel's radius; clamp otherwise.
        pad = [(0, 0)] * blurred.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(blurred, pad, mode="reflect" if size > radius else "edge")
        blurred = sum(
            weight * np.take(padded, np.arange(size) + shift, axis=axis)
            for shift, weight in enumerate(kernel)
        )
    return np.asarray(blurred, dtype=np.float32)


def default_blur_sigma(height: int, width: int) -> float:
    """The blur used when none is given: an eighth of the image's larger side."""
    return max(height, width) / 8.0


def random_maps(count: int, height: int, width: int, seed: int) -> np.ndarray:
    """``count`` maps of uniform random values, the same for the same seed and size."""
    return np.random.default_rng(seed).random((count, height, width), dtype=np.float32)


def centre_prior(height: int, width: int) -> np.ndarray:
    """A Gaussian bump on the image's centre (a quarter of its size wide), ``(H, W)``.

    The map of a method that knows nothing but "objects tend to be near the middle".
    """
    ys = np.arange(height) + 0.5 - height / 2
    xs = np.arange(width) + 0.5 - width / 2
    spread_y, spread_x = height / 4, width / 4
    bump = np.exp(-0.5 * ((ys[:, None] / spread_y) ** 2 + (xs[None, :] / spread_x) ** 2))
    return bump.astype(np.float32)


def importance_order(maps: np.ndarray, seed: int = 0) -> np.ndarray:
    """Rank of every pixel of each map, 0 for the most important (the highest value).

    Ties (flat regions of a Grad-CAM map, zeros) are broken in a fixed random order, not
    from the top-left corner, which would favour one part of the image.

    Args:
        maps: ``(N, H, W)``.
        seed: Seed of the tie-breaking order.

    Returns:
        int ``(N, H, W)`` ranks.
    """
    count, height, width = maps.shape
    flat = maps.reshape(count, -1)
    tiebreak = np.random.default_rng(seed).permutation(height * width)
    ranks = np.empty_like(flat, dtype=np.int64)
    for index, values in enumerate(flat):
        order = np.lexsort((tiebreak, -values.astype(np.float64)))
        ranks[index, order] = np.arange(order.size)
    return ranks.reshape(count, height, width)


def area_under_curve(values: np.ndarray) -> np.ndarray:
    """Area under curves sampled at evenly spaced points of [0, 1] (trapezoidal rule).

    Args:
        values: ``(..., points)``.

    Returns:
        ``(...)`` areas, between the curve's minimum and maximum.
    """
    points = values.shape[-1]
    weights = np.full(points, 1.0 / (points - 1))
    weights[[0, -1]] *= 0.5
    return np.asarray(values @ weights, dtype=np.float64)


def dilate(masks: np.ndarray, radius: int) -> np.ndarray:
    """Grow ``(N, H, W)`` bool masks by ``radius`` pixels (a disc)."""
    if radius <= 0:
        return masks.astype(bool)
    grown = masks.astype(bool).copy()
    height, width = masks.shape[1:]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            shifted = np.zeros_like(grown)
            shifted[:, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = masks[
                :, max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
            ]
            grown |= shifted
    return grown


def pointing_hits(maps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Whether each map's highest pixel falls on the object (the pointing game).

    Args:
        maps: ``(N, H, W)`` attribution maps.
        masks: ``(N, H, W)`` bool true object masks.
        tolerance: Pixels around the object that still count as a hit.

    Returns:
        bool ``(N,)``. Ties go to the first highest pixel in reading order.

    References:
        Jianming Zhang et al. "Top-down Neural Attention by Excitation Backprop". ECCV
        2016. https://arxiv.org/abs/1608.00507
    """
    count = maps.shape[0]
    peaks = maps.reshape(count, -1).argmax(axis=1)
    return dilate(masks, tolerance).reshape(count, -1)[np.arange(count), peaks]


def mask_overlap(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Share of each map's positive mass that lies on the object, in [0, 1].

    A map spread evenly over the image scores the object's share of the image; a map with
    no positive value scores 0.

    Args:
        maps: ``(N, H, W)`` attribution maps.
        masks: ``(N, H, W)`` bool true object masks.

    Returns:
        float64 ``(N,)``.
    """
    positive = np.maximum(maps.astype(np.float64), 0.0)
    total = positive.sum(axis=(1, 2))
    inside = (positive * masks).sum(axis=(1, 2))
    return np.where(total > 0, inside / np.where(total > 0, total, 1.0), 0.0)


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps' values (ties get their mean rank).

    Returns 0 when either map is constant, where the correlation is undefined: a flat map
    keeps nothing of the other's ranking.
    """
    from scipy.stats import rankdata

    a = rankdata(first.ravel())
    b = rankdata(second.ravel())
    a -= a.mean()
    b -= b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 0 else 0.0
