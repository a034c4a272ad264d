"""What every POST goes through before its use case: media type, size, Idempotency-Key, strict JSON, If-Match;
and how every successful write answers: 201, the ids, version and position, ETag, Idempotency-Replayed."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.problems import Problem
from ledger.application import Idempotency

F = TypeVar("F", bound=Callable[..., Any])
IF_MATCH = re.compile(r'^(W/)?"?([0-9]{1,12})"?$')
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header", "name": "Idempotency-Key", "required": True,
    "description": "the client's key for this write: the same key and body answer the original result again",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x20-\\x7e]+$"},
}
IF_MATCH_PARAMETER = {
    "in": "header", "name": "If-Match", "required": False,
    "description": 'the ETag of the fund, project or procurement (e.g. "3"): the write is refused with 412 if it '
                   "has changed since",
    "schema": {"type": "string", "pattern": '^(W/)?"?[0-9]{1,12}"?$'},
}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON bodies")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def request_hash(method: str, path: str, body: Any) -> str:
    """SHA-256 of the method, the path and the canonical JSON of the body (sorted keys, no spaces, ASCII escapes)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _read_body() -> Any:
    if request.mimetype != "application/json":
        raise Problem(415, "Send the body as application/json.", code="unsupported_media_type")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"The request body is larger than {limit} bytes.", code="payload_too_large")
    raw = request.get_data(cache=True)
    if request.content_length is None and len(raw) >= limit:
        # A body without Content-Length (chunked) is read up to the limit and silently cut there; one more byte
        # tells whether it went on.
        try:
            more = request.stream.read(1)
        except RequestEntityTooLarge:
            more = b"?"
        if more:
            raise Problem(413, f"The request body is larger than {limit} bytes.", code="payload_too_large")
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as error:
        raise Problem(400, f"The body is not valid JSON: {str(error)[:200]}", code="malformed_json") from None


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise Problem(400, "Every POST needs an Idempotency-Key header (1 to 200 printable characters).",
                      code="idempotency_key_missing")
    if not 1 <= len(key) <= 200 or not key.isprintable() or not key.isascii():
        raise Problem(400, "Idempotency-Key must be 1 to 200 printable ASCII characters.",
                      code="idempotency_key_invalid")
    return key


def _if_match(versioned: bool) -> int | None:
    value = request.headers.get("If-Match")
    if value is None:
        return None
    if not versioned:
        raise Problem(400, "If-Match applies to writes to an existing fund, project or procurement, not here.",
                      code="if_match_not_supported")
    match = IF_MATCH.match(value.strip())
    if match is None:
        raise Problem(400, 'If-Match must be the ETag of the resource, e.g. "3".', code="invalid_if_match")
    return int(match.group(2))


def posting(versioned: bool = True) -> Callable[[F], F]:
    """Checks a POST before its body is parsed; the view then finds ``g.idempotency`` and ``g.if_match``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            body = _read_body()
            key = _idempotency_key()
            if not isinstance(body, dict):
                raise Problem(422, "The body must be a JSON object.", code="validation_error",
                              errors={"_request": ["Must be a JSON object."]})
            g.if_match = _if_match(versioned)
            g.idempotency = Idempotency(key, request_hash(request.method, request.path, body))
            return view(*args, **kwargs)

        apidoc = getattr(checked, "_apidoc", {})
        parameters = apidoc.setdefault("manual_doc", {}).setdefault("parameters", [])
        parameters.extend([IDEMPOTENCY_KEY_PARAMETER, *([IF_MATCH_PARAMETER] if versioned else [])])
        checked._apidoc = apidoc  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate


def written(result: dict[str, Any], *, location: str | None = None) -> tuple[dict[str, Any], int, dict[str, str]]:
    """201 with the use case's ids, version and position; ETag; Idempotency-Replayed on a replay."""
    headers = {"ETag": f'"{result["version"]}"'}
    if result.get("replayed"):
        headers["Idempotency-Replayed"] = "true"
    if location is not None:
        headers["Location"] = location
    g.posted = not result.get("replayed")
    return result, 201, headers
