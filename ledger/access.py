"""Access tokens: who may call the API, in which role and region scope, kept in the event store like everything else.

A token's secret is never stored: its id is a uuid5 of the SHA-256 digest of the secret, so a presented secret finds
its token in one read, and the digest is compared in constant time. Issuing and revoking are events (who did it and
when are recorded); a registry aggregate lists the tokens, saved in the same transaction as each new token.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from ledger import validate as v
from ledger.errors import InvalidStateError, NotFoundError, VersionConflictError
from ledger.ids import NAMESPACE
from ledger.regions import normalise_scope

ROLES = ("officer", "auditor", "admin")
SECRET_PREFIX = "lgr_"
REGISTRY_ID = uuid5(NAMESPACE, "token-registry")
TOPIC_PREFIXES = ("ledger:Token", "ledger:TokenRegistry")
MAX_ATTEMPTS = 8


def digest_of(secret: str) -> str:
    """The SHA-256 hex digest of a token secret: what is stored instead of the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_id_for(digest: str) -> UUID:
    return uuid5(NAMESPACE, f"token:{digest}")


class Token(Aggregate):
    """One bearer token: the actor it authenticates, its role and region scope; revoked at most once."""

    TOPIC = "ledger:Token"
    id: UUID  # given by the caller: a uuid5 of the secret's digest

    class Event(Aggregate.Event):
        TOPIC = "ledger:Token.Event"

    @event("Issued", topic="ledger:Token.Issued")
    def __init__(self, *, digest: str, actor_name: str, role: str, scope: str, label: str, issued_by: str) -> None:
        self.digest = digest
        self.actor_name = actor_name
        self.role = role
        self.scope = scope
        self.label = label
        self.issued_by = issued_by
        self.revoked_by: str | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_by is not None

    def revoke(self, *, reason: str, revoked_by: str) -> None:
        if self.is_revoked:
            raise InvalidStateError(f"token {self.id} was already revoked by {self.revoked_by}")
        self._revoked(reason=reason, revoked_by=revoked_by)

    @event("Revoked", topic="ledger:Token.Revoked")
    def _revoked(self, reason: str, revoked_by: str) -> None:
        self.revoked_by = revoked_by


class TokenRegistry(Aggregate):
    """The ids of every token ever issued, in order, so they can be listed without scanning the log."""

    TOPIC = "ledger:TokenRegistry"
    id: UUID  # REGISTRY_ID

    class Event(Aggregate.Event):
        TOPIC = "ledger:TokenRegistry.Event"

    @event("Started", topic="ledger:TokenRegistry.Started")
    def __init__(self) -> None:
        self.token_ids: list[UUID] = []

    @event("TokenAdded", topic="ledger:TokenRegistry.TokenAdded")
    def add(self, token_id: UUID) -> None:
        self.token_ids.append(token_id)


@dataclass(frozen=True)
class Grant:
    """What an authenticated token allows: the actor's name, role and scope ('' is nationwide)."""

    token_id: UUID
    actor_name: str
    role: str
    scope: str


def token_view(token: Token) -> dict[str, Any]:
    return {
        "token_id": token.id,
        "actor": token.actor_name,
        "role": token.role,
        "scope": token.scope,
        "label": token.label,
        "issued_by": token.issued_by,
        "issued_at": token.created_on,
        "revoked": token.is_revoked,
        "revoked_by": token.revoked_by,
        "version": token.version,
    }


def _save_with_retries(app: Application[UUID], build: Any) -> Any:
    for attempt in range(MAX_ATTEMPTS):
        result, aggregates = build()
        try:
            recordings = app.save(*aggregates)
        except IntegrityError:
            time.sleep(random.uniform(0, 0.002 * 2**attempt))
            continue
        return result, max(r.notification.id for r in recordings)
    raise VersionConflictError(f"gave up after {MAX_ATTEMPTS} concurrent changes; try again")


def issue_token(
    app: Application[UUID], *, actor_name: str, role: str, scope: str, issued_by: str, label: str = ""
) -> tuple[str, dict[str, Any]]:
    """Creates a token; returns its secret (shown once, never stored) and its description."""
    actor_name = v.required_text(actor_name, "actor", max_length=200)
    role = v.choice(role, "role", ROLES)
    scope = normalise_scope(scope)
    label = v.text(label, "label", max_length=200, required=False) or ""
    issued_by = v.required_text(issued_by, "issued_by", max_length=200)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    digest = digest_of(secret)

    def build() -> tuple[dict[str, Any], list[Aggregate]]:
        try:
            registry = app.repository.get(REGISTRY_ID)
        except AggregateNotFoundError:
            registry = TokenRegistry(id=REGISTRY_ID)
        token = Token(id=token_id_for(digest), digest=digest, actor_name=actor_name, role=role, scope=scope,
                      label=label, issued_by=issued_by)
        registry.add(token.id)
        return token_view(token), [registry, token]

    view, position = _save_with_retries(app, build)
    return secret, {**view, "position": position}


def _get_token(app: Application[UUID], token_id: UUID) -> Token:
    try:
        token = app.repository.get(token_id)
    except AggregateNotFoundError:
        raise NotFoundError(f"no token with id {token_id}") from None
    if not isinstance(token, Token):
        raise NotFoundError(f"no token with id {token_id}")
    return token


def revoke_token(app: Application[UUID], token_id: UUID, *, revoked_by: str, reason: str = "") -> dict[str, Any]:
    """Revokes a token: from then on it authenticates nothing."""
    reason = v.text(reason, "reason", max_length=1000, required=False) or ""

    def build() -> tuple[dict[str, Any], list[Aggregate]]:
        token = _get_token(app, token_id)
        token.revoke(reason=reason, revoked_by=revoked_by)
        return token_view(token), [token]

    view, position = _save_with_retries(app, build)
    return {**view, "position": position}


def list_tokens(app: Application[UUID]) -> list[dict[str, Any]]:
    """Every token ever issued, oldest first, without secrets or digests."""
    try:
        registry = app.repository.get(REGISTRY_ID)
    except AggregateNotFoundError:
        return []
    return [token_view(_get_token(app, token_id)) for token_id in registry.token_ids]


def authenticate(app: Application[UUID], secret: str) -> Grant | None:
    """The grant of a valid, unrevoked token, or None; the digest is compared in constant time."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    digest = digest_of(secret)
    try:
        token = app.repository.get(token_id_for(digest))
    except AggregateNotFoundError:
        return None
    if not isinstance(token, Token) or token.is_revoked or not hmac.compare_digest(token.digest, digest):
        return None
    return Grant(token_id=token.id, actor_name=token.actor_name, role=token.role, scope=token.scope)
