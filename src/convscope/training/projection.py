"""The classification map's 2-D positions, aligned across snapshots.

Each snapshot's penultimate-layer embedding of the probe set is projected on its own two
principal components (PCA), scaled to unit root-mean-square radius, and then rotated (or
reflected) onto the previous snapshot's positions by orthogonal Procrustes analysis
(Schönemann, 1966). The PCA fits the network as it is *now*, so each map shows the
structure of that moment; the Procrustes step removes the arbitrary rotation and sign of
principal components, so an image that moves from one snapshot to the next moved because
the network changed, not because the projection did.

A PCA fitted once and extended with ``transform`` would keep the axes of an early,
untrained network; t-SNE or UMAP would cost seconds per snapshot and would not be stable
across snapshots. PCA plus Procrustes costs a few milliseconds for 1,000 images: the PCA
comes from the eigenvectors of the small ``d x d`` covariance matrix, and the linear
algebra runs on one thread. (OpenBLAS's own threads, woken for such small matrices while
TensorFlow trains on every core, made the same work take half a second.)

The maps of every layer (the Depth view) start from wide features (a convolution's pooled
maps, thousands of numbers per image), whose exact SVD would cost a large fraction of a
second per map; above :data:`EXACT_PCA_LIMIT` columns
and rows the two principal axes are found by randomized subspace iteration (Halko,
Martinsson and Tropp, 2011), seeded, whose error is far below what a map can show.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import ThreadpoolController

_BLAS = ThreadpoolController()

#: Up to this many columns (or rows), principal axes come from an exact SVD.
EXACT_PCA_LIMIT = 256
#: Extra directions and power iterations of the randomized range finder.
_OVERSAMPLING = 8
_POWER_ITERATIONS = 4


def top_axes(centred: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` leading principal axes (rows) of already centred data.

    Exact (SVD) for narrow or short data, else randomized subspace iteration with a fixed
    seed: N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness",
    SIAM Review 53(2), 2011, algorithm 4.4.

    Returns:
        ``[count, d]`` orthonormal rows, by decreasing variance.
    """
    if min(centred.shape) <= EXACT_PCA_LIMIT:
        return np.linalg.svd(centred, full_matrices=False)[2][:count]
    rng = np.random.default_rng(0)
    probe = rng.standard_normal((centred.shape[1], count + _OVERSAMPLING))
    basis = np.linalg.qr(centred @ probe)[0]
    for _ in range(_POWER_ITERATIONS):
        basis = np.linalg.qr(centred.T @ basis)[0]
        basis = np.linalg.qr(centred @ basis)[0]
    return np.linalg.svd(basis.T @ centred, full_matrices=False)[2][:count]


def pca_2d(embedding: np.ndarray) -> np.ndarray:
    """Project rows on their first two principal components, at unit RMS radius.

    Args:
        embedding: ``[n, d]`` array, any float dtype.

    Returns:
        ``[n, 2]`` float64 array, centred, with ``mean(sum(row**2)) == 1`` (zeros if the
        embedding has no variance).
    """
    x = np.asarray(embedding, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    if x.shape[1] < 2:
        x = np.concatenate([x, np.zeros((x.shape[0], 2 - x.shape[1]))], axis=1)
    with _BLAS.limit(limits=1, user_api="blas"):
        # The principal axes are the eigenvectors of the covariance, largest first.
        _, vectors = np.linalg.eigh(x.T @ x)
        projected = x @ vectors[:, ::-1][:, :2]
    rms = float(np.sqrt(np.mean(np.sum(projected**2, axis=1))))
    return projected / rms if rms > 0 else projected


def procrustes_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal 2x2 matrix ``r`` that minimises ``||source @ r - target||``.

    Args:
        source: ``[n, 2]`` centred positions to move.
        target: ``[n, 2]`` centred positions to move them onto.

    Returns:
        ``[2, 2]`` orthogonal matrix (a rotation, possibly with a reflection).
    """
    with _BLAS.limit(limits=1, user_api="blas"):
        u, _, vt = np.linalg.svd(source.T @ target)
        return u @ vt


class AlignedProjection:
    """Projects successive embeddings of the same images, each aligned to the previous one."""

    def __init__(self, previous: np.ndarray | None = None) -> None:
        self.previous = None if previous is None else np.asarray(previous, dtype=np.float64)

    def __call__(self, embedding: np.ndarray) -> np.ndarray:
        """Positions ``[n, 2]`` (float32) of this snapshot's embedding."""
        positions = pca_2d(embedding)
        if self.previous is not None and self.previous.shape == positions.shape:
            rotation = procrustes_rotation(positions, self.previous)
            with _BLAS.limit(limits=1, user_api="blas"):
                positions = positions @ rotation
        self.previous = positions
        return positions.astype(np.float32)


def align_maps(maps: np.ndarray) -> np.ndarray:
    """Align a grid of maps of the same images: snapshots (rows) by layers (columns).

    At the first snapshot each layer's map is rotated (or reflected) onto the map of the
    layer before it; at every later snapshot each layer's map onto the same layer's map at
    the snapshot before. Maps keep their shape and scale; an image that moves between two
    neighbouring maps moved because the features changed, not because the axes did.

    Args:
        maps: ``[snapshots, layers, n, 2]`` centred positions (from :func:`pca_2d`).

    Returns:
        The aligned positions, float32, same shape.
    """
    aligned = np.array(maps, dtype=np.float64)
    for snapshot in range(aligned.shape[0]):
        for layer in range(aligned.shape[1]):
            if snapshot > 0:
                target = aligned[snapshot - 1, layer]
            elif layer > 0:
                target = aligned[0, layer - 1]
            else:
                continue
            source = aligned[snapshot, layer]
            aligned[snapshot, layer] = source @ procrustes_rotation(source, target)
    return aligned.astype(np.float32)
