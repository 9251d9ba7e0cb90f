"""Errors the domain raises, each carrying a sentence a person can act on."""

from __future__ import annotations


class DomainError(ValueError):
    """A clinical input that cannot be used as given.

    ``field`` names the input at fault (for example ``"weight_kg"``) so a form can put the
    message next to that field.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class ProtocolError(ValueError):
    """A protocol file that is malformed; the app refuses to use it."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


class MissingDataError(DomainError):
    """A rule cannot be applied because a value it needs has not been recorded."""
