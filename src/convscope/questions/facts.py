"""What an answer is made of: facts, each a message key and the values it shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Question = Literal["learn", "look", "decide"]


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
