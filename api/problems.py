"""Every error as RFC 7807 ``application/problem+json``; the one place that maps ledger errors to HTTP statuses.

Statuses: 400 a request the server cannot read (no Idempotency-Key, malformed JSON, bad If-Match or cursor); 401 no
valid token; 403 wrong role or outside the region scope; 404 unknown resource (also an unknown id in the body:
``code`` names which); 405; 409 conflicts with the ledger's state (duplicate key, insufficient funds, closed,
already reversed, a version conflict that retries did not resolve); 412 stale ``If-Match``; 413 body over the limit;
415 not JSON; 422 well-formed JSON whose fields are wrong (marshmallow or the ledger's own checks) and an
Idempotency-Key reused with another request; 500 anything else, with a request id and nothing internal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, json, request
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


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    request_id = getattr(g, "request_id", None)
    log.exception("unhandled error request_id=%s %s %s", request_id, request.method, request.path)
    return problem(500, f"An unexpected error occurred; quote request id {request_id} to the operators.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(LedgerError, handle_ledger_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
