"""Why a command was refused: a message and the field at fault."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of the ledger's own errors."""


class Refused(LedgerError):
    """A command broke a rule; nothing was written. ``field`` names the input at fault and
    ``rule`` the control that refused it (see ``docs/ledger-controls.md``)."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        status: int = 409,
        rule: str | None = None,
    ) -> None:
        super().__init__(f"[{rule}] {message}" if rule else message)
        self.message = f"{message} (rule {rule})" if rule else message
        self.field = field
        self.status = status
        self.rule = rule


class NotFound(Refused):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field, status=404)


class Unauthenticated(Refused):
    """The bearer token a write was accepted with is no longer a live token of its actor
    (revoked or re-issued since): checked inside the append transaction, nothing written."""

    def __init__(self) -> None:
        super().__init__("unknown or revoked token", "Authorization", status=401)


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


class DatabaseProblem(LedgerError):
    """The database cannot be used: unreachable, not a database, or not a critmin ledger."""
