"""How did it learn? Accuracy milestones, the classes learned last, the images forgotten
most and the pair of classes confused most, from the probe logits of every snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convscope.lenses.forgetting import correctness_rows, forgetting_events
from convscope.questions.facts import Answer, Fact

#: Probe accuracies whose first crossing is reported.
MILESTONES = (0.5, 0.9)
#: A class counts as learned once this share of its probe images is classified correctly.
CLASS_LEARNED = 0.8
#: Images named among those forgotten most.
TOP_FORGOTTEN = 3


def probe_accuracies(logits: Sequence[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """The probe set's accuracy at each snapshot, from the stored logits.

    Args:
        logits: One ``[n, classes]`` array per snapshot.
        labels: ``[n]`` true classes.

    Returns:
        float64 ``[snapshots]``.
    """
    return np.array([correctness_rows(each, labels)[0].mean() for each in logits], np.float64)


def accuracy_milestones(
    epochs: Sequence[float], steps: Sequence[int], accuracy: np.ndarray
) -> list[Fact]:
    """When the probe accuracy first passed 50% and 90%, or how close it came.

    Args:
        epochs: Each snapshot's epoch (fractional inside the first epoch).
        steps: Each snapshot's training step.
        accuracy: Probe accuracy per snapshot.

    Returns:
        One fact per milestone: ``learn.milestone`` (threshold, epoch, step, snapshot) or
        ``learn.milestone_missed`` (threshold, best accuracy and its snapshot).
    """
    facts = []
    for threshold in MILESTONES:
        passed = np.flatnonzero(accuracy >= threshold)
        if passed.size:
            at = int(passed[0])
            facts.append(
                Fact(
                    "learn.milestone",
                    {
                        "threshold": threshold,
                        "epoch": float(epochs[at]),
                        "step": int(steps[at]),
                        "snapshot": at,
                        "accuracy": float(accuracy[at]),
                    },
                    {"tab": "training", "snapshot": at},
                )
            )
        elif accuracy.size:
            best = int(np.argmax(accuracy))
            facts.append(
                Fact(
                    "learn.milestone_missed",
                    {
                        "threshold": threshold,
                        "best": float(accuracy[best]),
                        "epoch": float(epochs[best]),
                        "snapshot": best,
                    },
                    {"tab": "training", "snapshot": best},
                )
            )
    return facts


def classes_learned_last(
    correct: np.ndarray, labels: np.ndarray, class_names: Sequence[str], epochs: Sequence[float]
) -> Fact | None:
    """The classes learned last: the latest first snapshot at which a class's probe images
    were classified correctly at least 80% of the time (never learned counts as last).

    Args:
        correct: ``[snapshots, n]`` correctness of each probe image.
        labels: ``[n]`` true classes.
        class_names: One name per class.
        epochs: Each snapshot's epoch.

    Returns:
        ``learn.last_classes`` with up to two classes (name, epoch or None for never), or
        None without snapshots.
    """
    if correct.shape[0] == 0:
        return None
    order = []
    for c, name in enumerate(class_names):
        members = labels == c
        if not members.any():
            continue
        per_snapshot = correct[:, members].mean(axis=1)
        learned = np.flatnonzero(per_snapshot >= CLASS_LEARNED)
        first = int(learned[0]) if learned.size else None
        rank = correct.shape[0] if first is None else first
        order.append((rank, -float(per_snapshot[-1]), name, first))
    order.sort(reverse=True)
    last = [
        {
            "name": name,
            "epoch": None if first is None else float(epochs[first]),
            "snapshot": first,
        }
        for _, _, name, first in order[:2]
    ]
    snapshot = next((c["snapshot"] for c in last if c["snapshot"] is not None), None)
    link = {"tab": "training"} if snapshot is None else {"tab": "training", "snapshot": snapshot}
    return Fact("learn.last_classes", {"classes": last, "threshold": CLASS_LEARNED}, link)


def most_forgotten(correct: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> Fact:
    """The probe images forgotten most often (Toneva et al. 2019), or that none was.

    A forgetting event is a snapshot at which an image the network classified correctly at
    the snapshot before is misclassified.

    Args:
        correct: ``[snapshots, n]`` correctness of each probe image.
        labels: ``[n]`` true classes.
        class_names: One name per class.

    Returns:
        ``learn.most_forgotten`` (the image forgotten most, its class and events, images
        forgotten at least once, and ``top``: up to :data:`TOP_FORGOTTEN` images with their
        class and events, most first) or ``learn.none_forgotten``.
    """
    events = forgetting_events(correct) if correct.shape[0] else np.zeros(len(labels), int)
    if events.size == 0 or events.max() == 0:
        return Fact("learn.none_forgotten", {"snapshots": int(correct.shape[0])})
    # Most events first; among equals, the lower index (a stable order).
    order = np.argsort(-events, kind="stable")
    top = [int(i) for i in order[:TOP_FORGOTTEN] if events[i] > 0]
    image = top[0]
    return Fact(
        "learn.most_forgotten",
        {
            "image": image,
            "class": class_names[int(labels[image])],
            "events": int(events[image]),
            "forgotten_images": int((events > 0).sum()),
            "images": len(events),
            "top": [
                {"image": i, "class": class_names[int(labels[i])], "events": int(events[i])}
                for i in top
            ],
        },
        {"tab": "training", "image": image},
    )


def most_confused_pair(
    confusions: Sequence[np.ndarray], class_names: Sequence[str], epochs: Sequence[float]
) -> Fact | None:
    """The two classes confused most at the last snapshot, and when that confusion peaked.

    A pair's confusion is the share of both classes' validation images given the other
    class, in either direction.

    Args:
        confusions: One ``[k, k]`` matrix per snapshot (rows true, columns predicted).
        class_names: One name per class.
        epochs: Each snapshot's epoch.

    Returns:
        ``learn.confused_pair`` (the two names, the share now, the peak share and its
        snapshot), or None when there is no mistake at the last snapshot.
    """
    if not confusions:
        return None

    def pair_shares(matrix: np.ndarray) -> np.ndarray:
        counts = np.asarray(matrix, dtype=np.float64)
        both = counts + counts.T
        sizes = counts.sum(axis=1)
        pair_sizes = sizes[:, None] + sizes[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(pair_sizes > 0, both / pair_sizes, 0.0)
        np.fill_diagonal(shares, 0.0)
        return shares

    last = pair_shares(confusions[-1])
    if last.max() <= 0:
        return None
    a, b = (int(i) for i in np.unravel_index(np.argmax(last), last.shape))
    a, b = min(a, b), max(a, b)
    history = np.array([pair_shares(matrix)[a, b] for matrix in confusions])
    peak = int(np.argmax(history))
    return Fact(
        "learn.confused_pair",
        {
            "first": class_names[a],
            "second": class_names[b],
            "share": float(last[a, b]),
            "peak_share": float(history[peak]),
            "peak_epoch": float(epochs[peak]),
            "peak_snapshot": peak,
        },
        {"tab": "training", "snapshot": peak},
    )


def learning_answer(
    logits: Sequence[np.ndarray],
    labels: np.ndarray,
    confusions: Sequence[np.ndarray],
    epochs: Sequence[float],
    steps: Sequence[int],
    class_names: Sequence[str],
) -> Answer:
    """ "How did it learn?" from every snapshot's probe logits and confusion matrix."""
    if not logits:
        return Answer("learn", [Fact("learn.no_snapshot", {}, {"tab": "training"})])
    correct = np.stack([correctness_rows(each, labels)[0] for each in logits])
    accuracy = correct.mean(axis=1).astype(np.float64)
    facts = accuracy_milestones(epochs, steps, accuracy)
    for fact in (
        classes_learned_last(correct, labels, class_names, epochs),
        most_forgotten(correct, labels, class_names),
        most_confused_pair(confusions, class_names, epochs),
    ):
        if fact is not None:
            facts.append(fact)
    return Answer("learn", facts)
