"""The errors convscope raises on purpose: each one carries a message a user can act on."""

from __future__ import annotations

from collections.abc import Iterable


class ConvscopeError(Exception):
    """Base class of every error convscope raises deliberately."""


class InvalidInput(ConvscopeError, ValueError):
    """A value given by the user is not acceptable.

    Args:
        field: The name of the field or option at fault (``"learning_rate"``, ``"dataset"``).
        reason: Why the value is refused, in words a user understands.
        choices: The valid choices, when the field takes one of a known set.
    """

    def __init__(self, field: str, reason: str, choices: Iterable[str] | None = None) -> None:
        self.field = field
        self.reason = reason
        self.choices = list(choices) if choices is not None else None
        message = f"{field}: {reason}"
        if self.choices:
            message += f" (valid choices: {', '.join(self.choices)})"
        super().__init__(message)

    def at(self, field: str, reason: str | None = None) -> InvalidInput:
        """The same refusal about another field (the field seen from a larger request).

        Args:
            field: The new field name.
            reason: A new reason; default: the same.

        Returns:
            An error of the same class.
        """
        return type(self)(field, self.reason if reason is None else reason, self.choices)


class LimitExceeded(InvalidInput):
    """A value goes past one of the limits of :class:`convscope.config.Settings`.

    Args:
        field: The field or option at fault.
        reason: What was found and what the limit allows, in words.
        limit: The name of the limit (a ``Settings`` field, e.g. ``"max_model_params"``).
        maximum: The value of the limit.
    """

    def __init__(self, field: str, reason: str, *, limit: str, maximum: float) -> None:
        self.limit = limit
        self.maximum = maximum
        self.found = reason
        super().__init__(field, f"{reason} (limit {limit} = {maximum:,})")

    def at(self, field: str, reason: str | None = None) -> InvalidInput:
        """The same refusal about another field, still naming its limit."""
        found = self.found if reason is None else reason
        return type(self)(field, found, limit=self.limit, maximum=self.maximum)


class PayloadTooLarge(LimitExceeded):
    """What was sent (a request body, an upload, a file inside it) is larger than a limit."""


class UnsupportedFormat(InvalidInput):
    """A file of a kind convscope does not read (a text file named ``.png``, an ``.h5`` model)."""


class DataUnavailable(ConvscopeError):
    """A dataset's files cannot be found; the message says where we looked and how to get them."""


class StoreError(ConvscopeError):
    """The store cannot be opened or written (unwritable directory, unknown schema version...)."""


class NotFound(ConvscopeError, KeyError):
    """A run or snapshot id that the store does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class UnsafeModel(ConvscopeError):
    """A model file that convscope refuses to load (not a .keras zip, custom code, Lambda...)."""


class InvalidTransition(ConvscopeError):
    """A run status change that the run state machine does not allow."""
