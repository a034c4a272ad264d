"""Every error as RFC 7807 ``application/problem+json``; the one place that maps ledger errors to HTTP statuses.

Statuses: 400 a request the server cannot read (no Idempotency-Key, malformed JSON, bad If-Match or cursor); 401 no
valid token; 403 wrong role or outside the region scope; 404 unknown resource (also an unknown id in the body:
``code`` names which); 405; 409 conflicts with the ledger's state (duplicate key, insufficient funds, closed,
already reversed, a version conflict that retries did not resolve); 412 stale ``If-Match``; 413 body over the limit;
415 not JSON; 422 well-formed JSON whose fields are wrong (marshmallow or the ledger's own checks) and an
Idempotency-Key reused with another request; 503 with ``Retry-After`` while a database cannot be reached (a
connection lost or refused, no pooled connection within the timeout, a lock not granted in time); 500 anything else,
with a request id and nothing internal.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from flask import Flask, Response, current_app, g, json, request
from werkzeug.exceptions import HTTPException

from ledger.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    LedgerError,
    NotFoundError,
    OutOfScopeError,
    ValidationError,
    VersionConflictError,
)

log = logging.getLogger("api")

PROBLEM_JSON = "application/problem+json"
# Seconds a client is asked to wait before retrying when a database cannot be reached.
RETRY_AFTER_UNAVAILABLE = 2
# SQLite's messages that mean "busy or not reachable now" (its OperationalError also covers programming errors).
SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o error")
OUTAGE = "ledger_outage"
ALWAYS_ANSWERED = ("ops.healthz",)  # endpoints that never touch a database

# The one table: each LedgerError class (the nearest in the class's MRO wins) to an HTTP status.
STATUS_OF_ERROR: dict[type[LedgerError], int] = {
    LedgerError: 400,
    ValidationError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    VersionConflictError: 409,  # 412 instead when the client sent If-Match (see status_of)
    IdempotencyKeyReusedError: 422,
    OutOfScopeError: 403,
}

CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

TITLE_OF_STATUS = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An HTTP-level refusal raised by the API itself (not by the ledger)."""

    def __init__(self, status: int, detail: str, *, code: str | None = None,
                 errors: Mapping[str, list[str]] | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or CODE_OF_STATUS.get(status, "error")
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})


def status_of(error: LedgerError) -> int:
    """The HTTP status of a ledger error: the table entry of the nearest class in its MRO."""
    if isinstance(error, VersionConflictError) and getattr(g, "if_match", None) is not None:
        return 412
    for cls in type(error).__mro__:
        if cls in STATUS_OF_ERROR:
            return STATUS_OF_ERROR[cls]
    return 500


def problem(status: int, detail: str, *, code: str | None = None, errors: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> Response:
    body = {
        "type": f"urn:welfare-fund-ledger:problem:{code or CODE_OF_STATUS.get(status, 'error')}",
        "title": TITLE_OF_STATUS.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code or CODE_OF_STATUS.get(status, "error"),
        "errors": dict(errors or {}),
        "instance": request.path,
        "request_id": getattr(g, "request_id", None),
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"a.b.0.c": [messages]}."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list) and all(isinstance(m, str) for m in value):
                flat.setdefault(name, []).extend(value)
            else:
                for k, v in flatten(value, name).items():
                    flat.setdefault(k, []).extend(v)
        return flat
    if isinstance(messages, list):
        return {prefix or "_request": [str(m) for m in messages]}
    return {prefix or "_request": [str(messages)]}


def _refused(status: int, code: str, detail: str) -> None:
    """Every refused attempt is logged with the actor, the path and the reason."""
    if status >= 500:
        return
    principal = getattr(g, "principal", None)
    log.info(
        "refused %s %s status=%s code=%s actor=%s request_id=%s reason=%s",
        request.method,
        request.path,
        status,
        code,
        getattr(principal, "actor_name", "-"),
        getattr(g, "request_id", "-"),
        detail,
    )


def handle_problem(error: Problem) -> Response:
    _refused(error.status, error.code, error.detail)
    return problem(error.status, error.detail, code=error.code, errors=error.errors, headers=error.headers)


def handle_ledger_error(error: LedgerError) -> Response:
    status = status_of(error)
    code = "version_conflict" if status == 412 else error.code
    errors: dict[str, list[str]] = {}
    if isinstance(error, ValidationError):
        errors = {error.field or "_request": [error.message]}
    _refused(status, code, error.message)
    return problem(status, error.message, code=code, errors=errors)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors: dict[str, list[str]] = {}
    detail = error.description or TITLE_OF_STATUS.get(status, "Error")
    code = CODE_OF_STATUS.get(status, "error")
    if "messages" in data:  # webargs/marshmallow validation of the body, query or path
        messages = data["messages"]
        for location, located in messages.items():
            flat = flatten(located)
            for name, found in flat.items():
                key = name if location in ("json", "path") else f"{location}.{name}"
                errors.setdefault(key, []).extend(found)
        detail = "The request has invalid fields; see errors."
        code = "validation_error"
    if status == 413:
        detail = "The request body is larger than the limit."
    headers = {k: v for k, v in (data.get("headers") or {}).items()}
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    _refused(status, code, detail)
    return problem(status, detail, code=code, errors=errors, headers=headers)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says a database cannot be reached or is too busy now, so that the same
    request may succeed later: PostgreSQL's operational errors (connection refused or lost, pool timeout, a lock not
    granted within the lock timeout, the server shutting down) and SQLite's locked or unreadable database. A save
    that failed that way wrote nothing or, if its commit was sent, is answered again by its Idempotency-Key."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (psycopg.OperationalError, psycopg.InterfaceError)):
            return True
        if isinstance(current, sqlite3.OperationalError):
            return any(text in str(current).lower() for text in SQLITE_UNAVAILABLE)
        if isinstance(current, (StoreOperationalError, StoreInterfaceError)) and current.__cause__ is None:
            return True  # raised by the library itself, e.g. no pooled connection in time
        current = current.__cause__
    return False


def connection_lost(error: BaseException) -> bool:
    """Whether the database itself cannot be reached (no connection in time, refused, dropped, shutting down), as
    opposed to busy (a lock not granted in time): only then do later requests fail fast, see ``Outage``."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, psycopg.Error):
            state = getattr(current, "sqlstate", None)
            return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")
        if isinstance(current, (StoreOperationalError, StoreInterfaceError)) and current.__cause__ is None:
            return True
        current = current.__cause__
    return False


class Outage:
    """One process's memory that its database was found unreachable. The driver retries each query for a while
    before giving up (up to ten times the pool's wait), so without this every request would hold a server thread
    that long; instead, while an outage is known, requests answer 503 at once, and one request at a time (every
    ``hold`` seconds) is let through to find out whether the database is back; its success ends the outage."""

    def __init__(self, hold: float = RETRY_AFTER_UNAVAILABLE, probe_window: float = 30.0) -> None:
        self.hold = hold
        self.probe_window = probe_window
        self._down = False
        self._until = 0.0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """False while an outage is known and another request is finding out whether it is over."""
        with self._lock:
            if not self._down:
                return True
            now = time.monotonic()
            if now < self._until:
                return False
            self._until = now + self.probe_window  # this request probes; the others keep failing fast meanwhile
            g.outage_probe = True
            return True

    def failed(self) -> None:
        with self._lock:
            self._down = True
            self._until = time.monotonic() + self.hold

    def succeeded(self) -> None:
        with self._lock:
            if self._down:
                log.warning("the database answers again")
            self._down = False


def handle_unavailable(error: Exception) -> Response:
    request_id = getattr(g, "request_id", None)
    outage = current_app.extensions.get(OUTAGE)
    if outage is not None and connection_lost(error):
        outage.failed()
    log.warning("database unavailable request_id=%s %s %s: %s: %s", request_id, request.method, request.path,
                type(error).__name__, " ".join(str(error).split())[:300])
    return problem(503, "The ledger's database cannot be reached just now. Try again shortly; a write retried with "
                        "the same Idempotency-Key is recorded once at most.",
                   code="unavailable", headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if database_unavailable(error):
        return handle_unavailable(error)
    request_id = getattr(g, "request_id", None)
    log.exception("unhandled error request_id=%s %s %s", request_id, request.method, request.path)
    return problem(500, f"An unexpected error occurred; quote request id {request_id} to the operators.")


def _unavailable_now() -> Response:
    return problem(503, "The ledger's database cannot be reached just now. Try again shortly.", code="unavailable",
                   headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})


def _fail_fast_during_outage() -> Response | None:
    outage: Outage = current_app.extensions[OUTAGE]
    if request.endpoint in ALWAYS_ANSWERED or outage.admit():
        return None
    return _unavailable_now()


def _end_outage(response: Response) -> Response:
    if g.get("outage_probe") and response.status_code < 500:
        current_app.extensions[OUTAGE].succeeded()
    return response


def register_error_handlers(app: Flask) -> None:
    app.extensions[OUTAGE] = Outage()
    # Before authentication, which may read the tokens from the database.
    hooks = app.before_request_funcs.setdefault(None, [])
    at = next((i for i, f in enumerate(hooks) if getattr(f, "__name__", "") == "authenticate_request"), len(hooks))
    hooks.insert(at, _fail_fast_during_outage)
    app.after_request(_end_outage)
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(LedgerError, handle_ledger_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
