import numpy as np

from convscope.training.projection import AlignedProjection, pca_2d, procrustes_rotation


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
