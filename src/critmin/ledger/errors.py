"""Why a command was refused: a message and the field at fault."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of the ledger's own errors."""


class Refused(LedgerError):
    """A command broke a rule; nothing was written. ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


class NotFound(Refused):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field, status=404)


class IdempotencyConflict(Refused):
    """The idempotency key was already used for a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used for a different request",
            "idempotency_key",
            status=409,
        )


class NotInitialised(LedgerError):
    """The database has no ledger yet (run ``critmin ledger init``)."""
