"""Bearer tokens: who is calling (401 without a valid token) and whether the role may call this endpoint (403).

Region scope is checked by the ledger's use cases on writes and by ``check_read_scope`` on reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from flask import current_app, g, request

from api.extension import extension
from api.problems import Problem
from ledger.actors import Actor
from ledger.errors import OutOfScopeError, UnknownFundError, UnknownProcurementError, UnknownProjectError

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "a token from `ledger tokens create`"}
CHALLENGE = 'Bearer realm="ledger"'


def requires(*roles: str) -> Callable[[F], F]:
    """Marks a view as needing one of ``roles``; checked before the body is read."""

    def mark(view: F) -> F:
        view.ledger_roles = frozenset(roles)  # type: ignore[attr-defined]
        apidoc = getattr(view, "_apidoc", {})
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = [{"bearerAuth": []}]
        manual.setdefault("description", f"Roles: {', '.join(roles)}.")
        view._apidoc = apidoc  # type: ignore[attr-defined]
        return view

    return mark


def authenticate_request() -> None:
    """before_request: for endpoints marked with ``requires``, identify the caller and check the role."""
    view = current_app.view_functions.get(request.endpoint or "")
    roles = getattr(view, "ledger_roles", None)
    if roles is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Problem(401, "Send Authorization: Bearer <token>.", code="unauthenticated",
                      headers={"WWW-Authenticate": CHALLENGE})
    grant = extension().grant_for(secret.strip())
    if grant is None:
        raise Problem(401, "The token is unknown or revoked.", code="invalid_token",
                      headers={"WWW-Authenticate": CHALLENGE + ', error="invalid_token"'})
    g.principal = grant
    if grant.role not in roles:
        raise Problem(403, f"The {grant.role} role may not call this endpoint (needs {' or '.join(sorted(roles))}).",
                      code="forbidden_role")


def actor() -> Actor:
    """The authenticated actor: its name goes into every event it causes; its scope bounds what it may touch."""
    grant = g.principal
    return Actor(grant.actor_name, grant.scope)


def check_read_scope(aggregate_id: UUID, kind: str) -> str:
    """Refuses a read of a fund, project or procurement outside the caller's scope; 404 if there is no such thing."""
    errors = {"fund": UnknownFundError, "project": UnknownProjectError, "procurement": UnknownProcurementError}
    identity = extension().identity(aggregate_id)
    if identity is None or identity[0] != kind:
        raise errors[kind](f"no {kind} with id {aggregate_id}")
    region = identity[1]
    try:
        actor().check_scope(region)
    except OutOfScopeError as error:
        raise OutOfScopeError(f"{g.principal.actor_name} may read only within region "
                              f"{g.principal.scope or 'nationwide'}, not {region}") from error
    return region
