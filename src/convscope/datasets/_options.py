"""Options of dataset sources: typed, range-checked, and accepting text from a command line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from convscope.errors import InvalidInput


@dataclass(frozen=True)
class Option:
    """One option a dataset source accepts, with its default and allowed range.

    Values given as strings (from a command line) are converted to the option's kind.
    An option marked ``is_path`` names a file or directory on the machine that loads the
    dataset: the command line may set it, a web client never (clients never choose
    server paths).
    """

    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    is_path: bool = False

    def parse(self, value: Any) -> Any:
        """Convert and check ``value``.

        Returns:
            The value as the option's kind.

        Raises:
            InvalidInput: The value has the wrong type or is out of range.
        """
        if value is None:
            return None
        if self.kind is bool:
            value = _parse_bool(self.name, value)
        elif self.kind is int:
            value = _parse_number(self.name, value, int)
        elif self.kind is float:
            value = _parse_number(self.name, value, float)
        elif self.kind is str:
            if not isinstance(value, str | os.PathLike):
                raise InvalidInput(self.name, f"must be text or a path, got {value!r}")
            value = os.fspath(value)
        if self.minimum is not None and value < self.minimum:
            raise InvalidInput(self.name, f"must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidInput(self.name, f"must be at most {self.maximum}, got {value}")
        return value

    def describe(self) -> dict[str, Any]:
        """The option as plain JSON-friendly values, for a form or ``--help``."""
        return {
            "name": self.name,
            "type": self.kind.__name__,
            "default": self.default,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "is_path": self.is_path,
        }


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise InvalidInput(name, f"must be true or false, got {value!r}")


def _parse_number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise InvalidInput(name, f"must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            raise InvalidInput(name, f"must be a number, got {value!r}") from None
    if kind is int:
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        if not isinstance(value, int | np.integer):
            raise InvalidInput(name, f"must be a whole number, got {value!r}")
        return int(value)
    if not isinstance(value, int | float | np.integer | np.floating) or not np.isfinite(value):
        raise InvalidInput(name, f"must be a finite number, got {value!r}")
    return float(value)
