"""What travels between the web server and an inspection worker: plain, picklable data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from convscope.errors import ConvscopeError, InvalidInput, NotFound, UnsafeModel


@dataclass(frozen=True)
class LensRequest:
    """Run one lens on one run, at one or several snapshots.

    Attributes:
        run_id: The run.
        lens: A registered lens name.
        snapshots: Snapshot indices, already checked to exist.
        images: float32 ``(N, H, W, C)`` images as the model takes them; None for lenses
            that look at the run's probe set.
        target: ``"predicted"`` or a class index.
        params: The lens's parameters, already validated.
        masks: bool ``(N, H, W)`` true object masks of ``images``, when the run records
            them (probe images of a ``shapes`` run); else None.
    """

    run_id: str
    lens: str
    snapshots: tuple[int, ...]
    images: np.ndarray | None
    target: str | int = "predicted"
    params: dict[str, Any] = field(default_factory=dict)
    masks: np.ndarray | None = None


@dataclass(frozen=True)
class LensReply:
    """A lens's result: arrays (with a leading snapshot axis when several) and metadata."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


@dataclass(frozen=True)
class ModelFileRequest:
    """Check a user's ``.keras`` file and read what an imported run needs from it.

    Attributes:
        data: The file's bytes; the worker checks them before Keras sees them.
        name: The file's name, for messages.
    """

    data: bytes
    name: str = "model.keras"


@dataclass(frozen=True)
class ModelFacts:
    """What a checked ``.keras`` file holds.

    Attributes:
        input_shape: ``(height, width, channels)`` of one input image.
        num_classes: Size of the output.
        weights: ``model.get_weights()``: the imported run's one snapshot.
        model_name: The model's name.
        params: Number of parameters.
        outputs_probabilities: Whether the model ends in a softmax.
    """

    input_shape: tuple[int, int, int]
    num_classes: int
    weights: list[np.ndarray]
    model_name: str
    params: int
    outputs_probabilities: bool


FailureKind = Literal["invalid", "not_found", "unsafe", "failed"]


@dataclass(frozen=True)
class LensFailure:
    """A refused or failed request, carried back as data and raised again in the server."""

    kind: FailureKind
    message: str
    field: str | None = None
    choices: list[str] | None = None

    @classmethod
    def from_exception(cls, error: BaseException) -> LensFailure:
        """Describe ``error``; anything that is not a deliberate convscope error is 'failed'."""
        if isinstance(error, InvalidInput):
            return cls("invalid", error.reason, error.field, error.choices)
        if isinstance(error, NotFound):
            return cls("not_found", str(error))
        if isinstance(error, UnsafeModel):
            return cls("unsafe", str(error))
        return cls("failed", f"{type(error).__name__}: {error}")

    def to_exception(self) -> ConvscopeError:
        """The exception to raise in the server (mapped to HTTP in one place)."""
        if self.kind == "invalid":
            return InvalidInput(self.field or "params", self.message, self.choices)
        if self.kind == "not_found":
            return NotFound(self.message)
        if self.kind == "unsafe":
            return UnsafeModel(self.message)
        return LensFailed(self.message)


class InspectionUnavailable(ConvscopeError):
    """No inspection worker can answer now (none started, or it did not start in time)."""


class LensFailed(ConvscopeError):
    """A lens failed in the inspection worker, or took longer than its time limit."""
