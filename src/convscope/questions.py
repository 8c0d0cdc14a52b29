"""The three questions, answered from one run's own data, as facts with their numbers.

"How did it learn?", "What did it look at?", "Where does it decide?": each answer is a
list of :class:`Fact`, computed by a small function from stored arrays (probe logits of
every snapshot, confusion matrices, a Grad-CAM map, per-layer probe accuracies). A fact
is a message key and the numbers that go in it: the web app words it in the reader's
language. Where the data is missing (an older run, a lens not computed yet) the answer is
a fact that says what to open to compute it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from convscope.lenses.forgetting import correctness_rows, forgetting_events

Question = Literal["learn", "look", "decide"]

#: Probe accuracies whose first crossing is reported.
MILESTONES = (0.5, 0.9)
#: A class counts as learned once this share of its probe images is classified correctly.
CLASS_LEARNED = 0.8
#: A layer "decides" once its linear probe reaches this share of the network's accuracy.
DECISION_SHARE = 0.9


@dataclass(frozen=True)
class Fact:
    """One sentence of an answer: a message key and the values it shows.

    Attributes:
        key: The message in the web app's catalogues (``"learn.milestone"``).
        values: Numbers, class names, layer names that the message shows.
        link: Where the web app shows it: ``{"tab": ..., "snapshot": ..., "image": ...,
            "layer": ...}``, any subset; None for no link.
    """

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    link: dict[str, Any] | None = None


@dataclass(frozen=True)
class Answer:
    """The answer to one question: facts, in reading order."""

    question: Question
    facts: list[Fact]


# -- How did it learn? --------------------------------------------------------------------


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
    """The probe image forgotten most often (Toneva et al. 2019), or that none was.

    Returns:
        ``learn.most_forgotten`` (image, its class, events, images forgotten at least once)
        or ``learn.none_forgotten``.
    """
    events = forgetting_events(correct) if correct.shape[0] else np.zeros(len(labels), int)
    if events.size == 0 or events.max() == 0:
        return Fact("learn.none_forgotten", {"snapshots": int(correct.shape[0])})
    image = int(np.argmax(events))
    return Fact(
        "learn.most_forgotten",
        {
            "image": image,
            "class": class_names[int(labels[image])],
            "events": int(events[image]),
            "forgotten_images": int((events > 0).sum()),
            "images": len(events),
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


# -- What did it look at? -----------------------------------------------------------------

_REGIONS = ("top", "middle", "bottom")
_SIDES = ("left", "centre", "right")


def attention_facts(
    heatmap: np.ndarray, *, image: int, target: str, mask: np.ndarray | None = None
) -> list[Fact]:
    """Where a Grad-CAM map's mass lies in the image, and how much falls on the object.

    Args:
        heatmap: ``[H, W]`` non-negative map (Grad-CAM).
        image: The probe image it explains.
        target: The class it explains.
        mask: Optional ``[H, W]`` booleans: the object's pixels (``shapes`` dataset).

    Returns:
        ``look.where`` (the ninth of the image holding most mass, and the share of the mass
        in it), and with a mask ``look.on_object`` (share of the mass on the object, and
        the object's share of the image).
    """
    values = np.clip(np.asarray(heatmap, dtype=np.float64), 0, None)
    total = values.sum()
    link = {"tab": "explain", "image": image}
    if total <= 0:
        return [Fact("look.flat", {"image": image, "target": target}, link)]
    height, width = values.shape
    rows = np.array_split(np.arange(height), 3)
    cols = np.array_split(np.arange(width), 3)
    shares = np.array([[values[np.ix_(r, c)].sum() / total for c in cols] for r in rows])
    row, col = (int(i) for i in np.unravel_index(np.argmax(shares), shares.shape))
    facts = [
        Fact(
            "look.where",
            {
                "image": image,
                "target": target,
                "region": _REGIONS[row],
                "side": _SIDES[col],
                "share": float(shares[row, col]),
            },
            link,
        )
    ]
    if mask is not None:
        inside = np.asarray(mask, dtype=bool)
        facts.append(
            Fact(
                "look.on_object",
                {
                    "image": image,
                    "share": float(values[inside].sum() / total),
                    "object_share": float(inside.mean()),
                },
                link,
            )
        )
    return facts


def faithfulness_fact(*, image: int, deletion_auc: float, random_deletion_auc: float) -> Fact:
    """How faithful a map is: its deletion area against a random map's (lower is better:
    deleting the pixels it points at first makes the target's probability fall faster)."""
    return Fact(
        "look.faithful" if deletion_auc < random_deletion_auc else "look.unfaithful",
        {"image": image, "auc": float(deletion_auc), "random_auc": float(random_deletion_auc)},
        {"tab": "explain", "image": image},
    )


# -- Where does it decide? ----------------------------------------------------------------


def decision_layer(
    layers: Sequence[str], probe_accuracy: Sequence[float], network_accuracy: float
) -> Fact:
    """The first layer whose linear probe reaches 90% of the network's own accuracy.

    Args:
        layers: Layer names in order, ``"input"`` (the raw pixels) first.
        probe_accuracy: Each layer's probe accuracy, in the same order.
        network_accuracy: The network's own accuracy on the same images.

    Returns:
        ``decide.layer`` (the layer, its position, its accuracy, the input's and the
        network's), or ``decide.never`` when no layer gets there.
    """
    accuracy = np.asarray(probe_accuracy, dtype=np.float64)
    goal = DECISION_SHARE * network_accuracy
    values = {
        "network": float(network_accuracy),
        "input": float(accuracy[0]) if accuracy.size else None,
        "share": DECISION_SHARE,
        "layers": len(layers) - 1,
    }
    reached = [i for i in range(1, len(layers)) if accuracy[i] >= goal]
    if not reached:
        best = int(np.argmax(accuracy)) if accuracy.size else 0
        return Fact(
            "decide.never",
            {**values, "best_layer": layers[best], "best": float(accuracy[best])},
            {"tab": "depth"},
        )
    at = reached[0]
    return Fact(
        "decide.layer",
        {**values, "layer": layers[at], "position": at, "accuracy": float(accuracy[at])},
        {"tab": "depth", "layer": layers[at]},
    )
