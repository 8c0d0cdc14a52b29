"""Where does it decide? The first layer whose linear probe reaches most of the network's
accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from convscope.questions.facts import Answer, Fact

#: A layer "decides" once its linear probe reaches this share of the network's accuracy.
DECISION_SHARE = 0.9


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
