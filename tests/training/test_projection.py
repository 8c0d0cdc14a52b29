import numpy as np

from convscope.training.projection import (
    EXACT_PCA_LIMIT,
    AlignedProjection,
    align_maps,
    pca_2d,
    procrustes_rotation,
    top_axes,
)


def test_pca_keeps_the_two_directions_of_largest_variance():
    rng = np.random.default_rng(0)
    embedding = np.zeros((500, 6))
    embedding[:, 2] = rng.normal(0, 10, 500)
    embedding[:, 4] = rng.normal(0, 5, 500)
    embedding += rng.normal(0, 0.01, embedding.shape)
    positions = pca_2d(embedding)
    assert positions.shape == (500, 2)
    np.testing.assert_allclose(np.mean(np.sum(positions**2, axis=1)), 1.0, rtol=1e-6)
    # The first axis follows column 2 (up to sign), the second column 4.
    assert abs(np.corrcoef(positions[:, 0], embedding[:, 2])[0, 1]) > 0.999
    assert abs(np.corrcoef(positions[:, 1], embedding[:, 4])[0, 1]) > 0.999


def test_procrustes_recovers_a_rotation_and_reflection():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(200, 2))
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    reflection = np.diag([1.0, -1.0])
    source = target @ rotation @ reflection
    aligned = source @ procrustes_rotation(source, target)
    np.testing.assert_allclose(aligned, target, atol=1e-9)


def test_a_rotated_embedding_lands_where_the_previous_one_was():
    rng = np.random.default_rng(2)
    embedding = rng.normal(size=(300, 8)) * np.arange(1, 9)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))  # a random rotation of feature space
    projection = AlignedProjection()
    first = projection(embedding)
    second = projection(embedding @ q)
    assert first.dtype == np.float32
    np.testing.assert_allclose(second, first, atol=1e-4)


def test_a_mirrored_embedding_is_mirrored_back():
    rng = np.random.default_rng(3)
    embedding = rng.normal(size=(300, 4)) * np.array([4, 2, 1, 0.5])
    aligned = AlignedProjection(previous=pca_2d(embedding))(-embedding)
    np.testing.assert_allclose(aligned, pca_2d(embedding), atol=1e-5)


def test_wide_data_finds_the_same_axes_as_the_exact_svd():
    rng = np.random.default_rng(2)
    # 400 images of 600 features: wider and longer than the exact solver's limit.
    scales = np.concatenate([[10.0, 6.0], np.full(598, 1.0)])
    data = rng.normal(size=(400, 600)) * scales @ np.linalg.qr(rng.normal(size=(600, 600)))[0]
    centred = data - data.mean(axis=0)
    assert min(centred.shape) > EXACT_PCA_LIMIT
    exact = np.linalg.svd(centred, full_matrices=False)[2][:2]
    found = top_axes(centred, 2)
    # The same plane: each found axis lies in the span of the exact ones.
    np.testing.assert_allclose(np.linalg.norm(found @ exact.T, axis=1), 1.0, atol=1e-6)


def rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def test_a_grid_of_maps_is_aligned_across_layers_then_snapshots():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(50, 2))
    base -= base.mean(axis=0)
    # Snapshots x layers, every map the same points turned or mirrored differently.
    turns = [[0.0, 1.0, 2.0], [0.5, -1.2, 3.0]]
    maps = np.stack([np.stack([base @ rotation(t) for t in row]) for row in turns])
    maps[1, 2] = maps[1, 2] @ np.diag([1.0, -1.0])
    aligned = align_maps(maps)
    assert aligned.shape == maps.shape and aligned.dtype == np.float32
    for snapshot in range(2):
        for layer in range(3):
            np.testing.assert_allclose(aligned[snapshot, layer], base, atol=1e-5)
