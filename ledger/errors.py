"""The ledger's one error hierarchy: every refusal the write side can give.

Each error carries a stable machine ``code``; the HTTP layer maps each class to one status in one place.
Integrity failures are refused here; compliance problems are accepted and judged by the audit rules.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every refusal the ledger gives; ``code`` is stable and machine-readable."""

    code = "ledger_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationError(LedgerError):
    """Input that cannot be a fact in the ledger (malformed, out of range, inconsistent)."""

    code = "validation_error"

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.field = field


class InvalidAmountError(ValidationError):
    code = "invalid_amount"


class InvalidRegionError(ValidationError):
    code = "invalid_region"


class InvalidUSCCError(ValidationError):
    code = "invalid_uscc"


class InvalidDateError(ValidationError):
    code = "invalid_date"


class NotFoundError(LedgerError):
    code = "not_found"


class UnknownFundError(NotFoundError):
    code = "unknown_fund"


class UnknownProjectError(NotFoundError):
    code = "unknown_project"


class UnknownProcurementError(NotFoundError):
    code = "unknown_procurement"


class UnknownEntryError(NotFoundError):
    code = "unknown_entry"


class ConflictError(LedgerError):
    code = "conflict"


class DuplicateKeyError(ConflictError):
    """A natural key (fund document no., project code, contract no.) is already taken."""

    code = "duplicate_key"


class InsufficientFundsError(ConflictError):
    """Allocating, recovering or disbursing more than is available."""

    code = "insufficient_funds"


def require_available(requested: Any, available: Any, holder: str, verb: str) -> None:
    """Refuses taking ``requested`` from a balance of ``available`` with one wording for every balance."""
    if requested > available:
        raise InsufficientFundsError(f"{holder} {available}, cannot {verb} {requested}", available=str(available),
                                     requested=str(requested))


class AlreadyReversedError(ConflictError):
    code = "already_reversed"


class NotReversibleError(ConflictError):
    """A reversal cannot itself be reversed, and only postings can be reversed."""

    code = "not_reversible"


class ClosedError(ConflictError):
    """Posting to a closed fund or project, or stepping a cancelled or finished procurement."""

    code = "closed"


class InvalidStateError(ConflictError):
    """A command that the aggregate's current state makes impossible (e.g. amending a contract never signed)."""

    code = "invalid_state"


class VersionConflictError(ConflictError):
    """The caller's expected version is stale, or concurrent changes kept winning past the retry budget."""

    code = "version_conflict"


class IdempotencyKeyReusedError(LedgerError):
    """The same idempotency key was sent before with another request."""

    code = "idempotency_key_reused"


class OutOfScopeError(LedgerError):
    """The actor's region scope does not cover the region the command touches."""

    code = "out_of_scope"
