"""What did it look at? Where a Grad-CAM map puts its mass, and how faithful it is."""

from __future__ import annotations

from typing import Any

import numpy as np

from convscope.questions.facts import Answer, Fact

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
