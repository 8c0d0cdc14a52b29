"""The three questions, answered from one run's own data, as facts with their numbers.

"How did it learn?", "What did it look at?", "Where does it decide?": each answer is a
list of :class:`Fact`, computed by a small function from stored arrays (probe logits of
every snapshot, confusion matrices, a Grad-CAM map, per-layer probe accuracies). A fact
is a message key and the numbers that go in it: the web app words it in the reader's
language. Where the data is missing (an older run, a lens not computed yet) the answer is
a fact that says what to open to compute it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
#: Images named among those forgotten most.
TOP_FORGOTTEN = 3


@dataclass(frozen=True)
class Fact:
    """One sentence of an answer: a message key and the values it shows.

    Attributes:
        key: The message in the web app's catalogues (``"learn.milestone"``).
        values: Numbers, class names, layer names that the message shows.
        link: Where the web app shows it: ``{"tab": ..., "snapshot": ..., "image": ...,
            "layer": ...}``, any subset; None for no link.
        compute: For a fact that says data is missing, what computes it:
            ``{"lens": name, "snapshot": i, "image": {"probe": i}, "params": {...}}`` (one
            lens request) or ``{"depth": True}`` (the Depth view's measures); else None.
    """

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    link: dict[str, Any] | None = None
    compute: dict[str, Any] | None = None


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


# -- What did it look at? -----------------------------------------------------------------

_REGIONS = ("top", "middle", "bottom")
_SIDES = ("left", "centre", "right")


def attention_facts(
    heatmap: np.ndarray,
    *,
    image: int,
    target: str,
    mask: np.ndarray | None = None,
    snapshot: int | None = None,
    truth: str | None = None,
) -> list[Fact]:
    """Where a Grad-CAM map's mass lies in the image, and how much falls on the object.

    Args:
        heatmap: ``[H, W]`` non-negative map (Grad-CAM).
        image: The probe image it explains.
        target: The class it explains.
        mask: Optional ``[H, W]`` booleans: the object's pixels (``shapes`` dataset).
        snapshot: The snapshot the map was computed at, for the link.
        truth: The image's true class, where known (shown beside the explained one).

    Returns:
        ``look.where`` (the ninth of the image holding most mass, and the share of the mass
        in it), and with a mask ``look.on_object`` (share of the mass on the object, and
        the object's share of the image).
    """
    values = np.clip(np.asarray(heatmap, dtype=np.float64), 0, None)
    total = values.sum()
    link = _explain_link(image, snapshot)
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
                **({} if truth is None else {"truth": truth}),
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


def _explain_link(image: int, snapshot: int | None) -> dict[str, Any]:
    link: dict[str, Any] = {"tab": "explain", "image": image}
    if snapshot is not None:
        link["snapshot"] = snapshot
    return link


def faithfulness_fact(
    *, image: int, deletion_auc: float, random_deletion_auc: float, snapshot: int | None = None
) -> Fact:
    """How faithful a map is: its deletion area against a random map's (lower is better:
    deleting the pixels it points at first makes the target's probability fall faster)."""
    return Fact(
        "look.faithful" if deletion_auc < random_deletion_auc else "look.unfaithful",
        {"image": image, "auc": float(deletion_auc), "random_auc": float(random_deletion_auc)},
        _explain_link(image, snapshot),
    )


#: The lens request that gives the "What did it look at?" answer: Grad-CAM's map of the
#: predicted class with its deletion curves (the faithfulness lens runs Grad-CAM itself),
#: the same request as the Explain view's, so that either fills the other's cache.
GRAD_CAM_FAITHFULNESS: dict[str, Any] = {"lens": "grad_cam"}


def looking_answer(
    *,
    image: int,
    snapshot: int | None,
    target: str | None = None,
    heatmap: np.ndarray | None = None,
    deletion_auc: float | None = None,
    random_deletion_auc: float | None = None,
    mask: np.ndarray | None = None,
    truth: str | None = None,
) -> Answer:
    """ "What did it look at?" for one probe image at one snapshot, from Grad-CAM's map.

    Args:
        image: The probe image.
        snapshot: The snapshot (the run's last); None when the run has none yet.
        target: The class explained (the predicted one), by name.
        heatmap: Grad-CAM's ``[H, W]`` map at the image's size, or None if not computed.
        deletion_auc: The map's deletion area (faithfulness lens), with the heatmap.
        random_deletion_auc: Random maps' deletion area, with the heatmap.
        mask: The object's pixels where the dataset knows them.
        truth: The image's true class.

    Returns:
        Without a snapshot ``look.no_snapshot``; without a map ``look.missing`` with the
        lens request that computes it; else the facts of :func:`attention_facts` and
        :func:`faithfulness_fact`.
    """
    if snapshot is None:
        return Answer("look", [Fact("look.no_snapshot", {}, {"tab": "training"})])
    if heatmap is None or deletion_auc is None or random_deletion_auc is None:
        request = {
            "lens": "faithfulness",
            "snapshot": snapshot,
            "image": {"probe": image},
            "target": "predicted",
            "params": dict(GRAD_CAM_FAITHFULNESS),
        }
        missing = Fact(
            "look.missing",
            {"image": image, "snapshot": snapshot},
            _explain_link(image, snapshot),
            request,
        )
        return Answer("look", [missing])
    facts = attention_facts(
        heatmap, image=image, target=target or "", mask=mask, snapshot=snapshot, truth=truth
    )
    facts.append(
        faithfulness_fact(
            image=image,
            deletion_auc=deletion_auc,
            random_deletion_auc=random_deletion_auc,
            snapshot=snapshot,
        )
    )
    return Answer("look", facts)


# -- Where does it decide? ----------------------------------------------------------------


def decision_layer(
    layers: Sequence[str],
    probe_accuracy: Sequence[float],
    network_accuracy: float,
    *,
    snapshot: int | None = None,
    same_as: Mapping[str, str] | None = None,
) -> Fact:
    """The first layer whose linear probe reaches 90% of the network's own accuracy.

    Layers whose features repeat an earlier row's (a rescaling of the input, a flatten, a
    dropout) are skipped: they cannot be where anything is decided.

    Args:
        layers: Layer names in order, ``"input"`` (the raw pixels) first.
        probe_accuracy: Each layer's probe accuracy, in the same order.
        network_accuracy: The network's own accuracy on the same images.
        snapshot: The snapshot measured, for the link and the sentence.
        same_as: Rows that repeat an earlier row, with that row.

    Returns:
        ``decide.layer`` (the layer, its position, its accuracy, the input's and the
        network's); ``decide.at_input`` when the raw pixels already get there (with the
        first layer's figures); or ``decide.never`` when no layer gets there.
    """
    accuracy = np.asarray(probe_accuracy, dtype=np.float64)
    goal = DECISION_SHARE * network_accuracy
    values = {
        "network": float(network_accuracy),
        "input": float(accuracy[0]) if accuracy.size else None,
        "share": DECISION_SHARE,
        "layers": len(layers) - 1,
        "snapshot": snapshot,
    }
    at_snapshot = {} if snapshot is None else {"snapshot": snapshot}
    repeated = same_as or {}
    rows = [i for i in range(1, len(layers)) if layers[i] not in repeated]
    if accuracy.size and accuracy[0] >= goal and rows:
        first = rows[0]
        return Fact(
            "decide.at_input",
            {
                **values,
                "layer": layers[first],
                "position": first,
                "accuracy": float(accuracy[first]),
            },
            {"tab": "depth", **at_snapshot, "layer": layers[first]},
        )
    reached = [i for i in rows if accuracy[i] >= goal]
    if not reached:
        best = int(np.argmax(accuracy)) if accuracy.size else 0
        return Fact(
            "decide.never",
            {**values, "best_layer": layers[best], "best": float(accuracy[best])},
            {"tab": "depth", **at_snapshot, "layer": layers[best]},
        )
    at = reached[0]
    return Fact(
        "decide.layer",
        {**values, "layer": layers[at], "position": at, "accuracy": float(accuracy[at])},
        {"tab": "depth", **at_snapshot, "layer": layers[at]},
    )


def deciding_answer(
    layers: Sequence[str] | None,
    probe_accuracy: Sequence[float] | None,
    network_accuracy: float | None,
    *,
    snapshot: int | None,
    has_snapshots: bool = True,
    same_as: Mapping[str, str] | None = None,
) -> Answer:
    """ "Where does it decide?" from one snapshot's per-layer linear-probe accuracies
    (a :class:`~convscope.depth.recording.DepthRecord`).

    Args:
        layers: Row names, ``"input"`` first; None when depth is not measured yet.
        probe_accuracy: Each row's probe accuracy.
        network_accuracy: The network's own accuracy on the probes' test half.
        snapshot: The snapshot measured (the latest one measured).
        has_snapshots: Whether the run has any snapshot.
        same_as: Rows that repeat an earlier row (skipped).

    Returns:
        ``decide.no_snapshot``; ``decide.missing`` with ``{"depth": True}`` as what computes
        it; or the fact of :func:`decision_layer`.
    """
    if not has_snapshots:
        return Answer("decide", [Fact("decide.no_snapshot", {}, {"tab": "training"})])
    if layers is None or probe_accuracy is None or network_accuracy is None:
        missing = Fact("decide.missing", {}, {"tab": "depth"}, {"depth": True})
        return Answer("decide", [missing])
    fact = decision_layer(
        layers, probe_accuracy, network_accuracy, snapshot=snapshot, same_as=same_as
    )
    return Answer("decide", [fact])
