"""The per-batch training curve, recovered from Keras' running means."""

from __future__ import annotations

from typing import Any


class BatchCurve:
    """Turns the running means Keras logs after each batch into per-batch values.

    Keras reports, after batch ``b`` of an epoch, the mean loss (and accuracy) over batches
    ``0..b``. The value of batch ``b`` alone is ``(b + 1) * mean_b - b * mean_{b-1}``, exact
    when batches have equal size (only an epoch's last, smaller batch is approximated).
    """

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, float, float]] = []
        self.start_epoch()

    def start_epoch(self) -> None:
        """Forget the running means: Keras restarts them at every epoch."""
        self.batches_in_epoch = 0
        self.previous_loss = 0.0
        self.previous_accuracy = 0.0

    def add(self, step: int, epoch: float, logs: dict[str, Any]) -> None:
        """Record the batch that just ended, from the logs Keras passed to the callback."""
        n = self.batches_in_epoch
        loss_mean = float(logs.get("loss", float("nan")))
        accuracy_value = accuracy_from_logs(logs)
        accuracy_mean = float(accuracy_value) if accuracy_value is not None else float("nan")
        loss = (n + 1) * loss_mean - n * self.previous_loss
        accuracy = (n + 1) * accuracy_mean - n * self.previous_accuracy
        self.previous_loss, self.previous_accuracy = loss_mean, accuracy_mean
        self.batches_in_epoch += 1
        self.rows.append((step, round(epoch, 6), loss, min(max(accuracy, 0.0), 1.0)))

    def take(self) -> list[tuple[int, float, float, float]]:
        """The rows recorded since the last call."""
        rows, self.rows = self.rows, []
        return rows


def accuracy_from_logs(logs: dict[str, Any]) -> Any:
    """The accuracy among Keras logs, whatever the user named the metric (None if absent)."""
    for key in ("accuracy", "acc", "sparse_categorical_accuracy"):
        if key in logs:
            return logs[key]
    return next((value for key, value in logs.items() if "acc" in key), None)
