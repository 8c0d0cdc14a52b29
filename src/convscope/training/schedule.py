"""When the Recorder takes its snapshots: evenly through every epoch, denser early on.

A snapshot is taken after the batch nearest each fraction ``k / snapshots_per_epoch`` of
every epoch, at the end of every epoch, and, in the first epoch only, after the batches
nearest the extra ``first_epoch_fractions`` (where most of the change happens). Each
snapshot's epoch value is exact: ``epoch + batches_done / steps_per_epoch``.
"""

from __future__ import annotations

from collections.abc import Sequence


def snapshot_batches(
    steps: int | None,
    epoch: int,
    snapshots_per_epoch: int,
    first_epoch_fractions: Sequence[float] = (),
) -> dict[int, float]:
    """The batches of one epoch after which a snapshot is taken, with their epoch value.

    The epoch's last batch is left out: the epoch-end snapshot covers it.

    Args:
        steps: Batches per epoch; None or 0 when unknown (then only epoch ends count).
        epoch: The epoch, from 0.
        snapshots_per_epoch: Snapshots spread evenly over every epoch, its end included.
        first_epoch_fractions: Extra fractions of the first epoch (0 < f < 1).

    Returns:
        ``{batch index from 0: epoch value}``, e.g. ``{77: 0.249...}``.
    """
    if not steps:
        return {}
    fractions = [k / snapshots_per_epoch for k in range(1, max(1, snapshots_per_epoch))]
    if epoch == 0:
        fractions += list(first_epoch_fractions)
    schedule: dict[int, float] = {}
    for fraction in sorted(set(fractions)):
        batch = max(0, round(fraction * steps) - 1)
        if batch < steps - 1:
            schedule[batch] = epoch + (batch + 1) / steps
    return schedule


def snapshots_in_run(
    steps: int, epochs: int, snapshots_per_epoch: int, first_epoch_fractions: Sequence[float] = ()
) -> int:
    """How many snapshots a run of ``epochs`` full epochs records."""
    inside = sum(
        len(snapshot_batches(steps, epoch, snapshots_per_epoch, first_epoch_fractions))
        for epoch in range(epochs)
    )
    return inside + epochs
