"""Forgetting statistics (Toneva et al. 2019) over snapshots of the probe set."""

from __future__ import annotations

import numpy as np
import pytest

from convscope.lenses import forgetting


def test_softmax_is_stable_and_normalised() -> None:
    logits = np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), 0.0]], dtype=np.float32)
    probabilities = forgetting.softmax(logits)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities[0], [0.5, 0.5, 0.0], atol=1e-7)
    np.testing.assert_allclose(probabilities[1], [0.2, 0.6, 0.2], rtol=1e-6)
    half = forgetting.softmax(logits.astype(np.float16))
    assert np.isfinite(half).all()


def test_correctness_rows() -> None:
    logits = np.array([[2.0, 0.0], [2.0, 0.0], [0.0, 0.0]], dtype=np.float16)
    correct, true_probability = forgetting.correctness_rows(logits, np.array([0, 1, 1]))
    assert correct.dtype == np.uint8 and correct.tolist() == [1, 0, 0]  # ties go to class 0
    expected = 1 / (1 + np.exp(-2.0))
    np.testing.assert_allclose(true_probability, [expected, 1 - expected, 0.5], rtol=1e-3)


def test_forgetting_events_count_correct_to_wrong_transitions() -> None:
    correct = np.array(
        [
            [1, 0, 0, 1],
            [0, 0, 1, 1],
            [1, 0, 0, 1],
            [0, 0, 1, 1],
        ]
    )
    assert forgetting.forgetting_events(correct).tolist() == [2, 0, 1, 0]
    assert forgetting.first_learned(correct).tolist() == [0, -1, 1, 0]


def test_fewer_than_two_snapshots_have_no_events() -> None:
    assert forgetting.forgetting_events(np.zeros((0, 3))).tolist() == [0, 0, 0]
    assert forgetting.forgetting_events(np.ones((1, 3))).tolist() == [0, 0, 0]
    assert forgetting.first_learned(np.zeros((0, 3))).tolist() == [-1, -1, -1]
    assert forgetting.first_learned(np.array([[1, 0, 1]])).tolist() == [0, -1, 0]


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="2-D"):
        forgetting.forgetting_events(np.zeros(3))
    with pytest.raises(ValueError, match="differ in shape"):
        forgetting.hardest_examples(np.zeros((2, 3)), np.zeros((2, 4)))


def test_hardest_never_learned_first_then_most_forgotten() -> None:
    correct = np.array(
        [
            [0, 1, 1, 0, 0, 1],
            [0, 0, 1, 0, 1, 0],
            [0, 1, 1, 0, 0, 1],
            [0, 0, 1, 0, 1, 0],
        ]
    )
    probability = np.where(correct, 0.9, 0.1)
    probability[:, 3] = 0.3  # never learned, but closer than image 0
    summary = forgetting.summarize(correct, probability)
    assert summary.forgetting_events.tolist() == [0, 2, 0, 0, 1, 2]
    # Never learned: 0 (mean 0.1) before 3 (mean 0.3); then forgotten twice: 1 and 5
    # (equal means, index order); then forgotten once: 4. Image 2 is unforgettable.
    assert summary.hardest.tolist() == [0, 3, 1, 5, 4]
    assert forgetting.hardest_examples(correct, probability, limit=2).tolist() == [0, 3]
    assert summary.correct.dtype == np.uint8
    assert summary.true_probability.dtype == np.float32


def test_hardest_is_capped_at_fifty_by_default() -> None:
    rng = np.random.default_rng(0)
    correct = rng.random((6, 400)) < 0.5
    hardest = forgetting.hardest_examples(correct, rng.random((6, 400)))
    assert len(hardest) == forgetting.DEFAULT_HARDEST == 50
    assert len(set(hardest.tolist())) == 50
    events = forgetting.forgetting_events(correct)
    never = ~correct.any(axis=0)
    keys = [(0 if never[i] else 1, -events[i]) for i in hardest]
    assert keys == sorted(keys)
