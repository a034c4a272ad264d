"""Protections at the edge of the API: rate limits (429 problem+json with Retry-After), no control characters in
paths and query strings, HSTS over HTTPS, and which address and scheme a request came from behind a proxy.

Two limits, each a ``limits`` rate string such as ``"300/minute"`` or ``"50/second;2000/minute"``:

- ``LEDGER_RATE_LIMIT``: requests per token (API and console), counted once the token is known. Off by default: the
  callers are a few authenticated finance systems that post in bulk (imports, the benchmarks' 16 connections).
- ``LEDGER_RATE_LIMIT_UNAUTHENTICATED``: refused authentications (401: no token, an unknown or revoked one, a failed
  console sign-in) per client address; over it, such requests get 429 instead of 401 until the window passes.
  Valid tokens are never held back by it, even behind a proxy where many clients share an address.

Counters live in ``LEDGER_RATE_LIMIT_STORAGE`` (default ``memory://``: each worker process counts on its own).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from api.problems import Problem, handle_problem

EXTENSION = "ledger_security"
HSTS = "max-age=31536000"
OFF = ("", "0", "off", "none")


def parse_limits(value: Any, name: str) -> list[RateLimitItem]:
    """A rate string as limits; empty or ``off`` is no limit. A string that cannot be read stops the server."""
    text = str(value or "").strip()
    if text.lower() in OFF:
        return []
    try:
        return list(parse_many(text))
    except ValueError:
        raise ValueError(f"{name} must be like '300/minute' or '50/second;2000/minute', not {text!r}") from None


@dataclass
class RateLimits:
    per_token: list[RateLimitItem]
    unauthenticated: list[RateLimitItem]
    limiter: MovingWindowRateLimiter

    def exceeded(self, items: list[RateLimitItem], *keys: str) -> int | None:
        """Counts one hit against each limit; the seconds until the first exhausted one has room again, or None."""
        for item in items:
            if not self.limiter.hit(item, *keys):
                reset_at = self.limiter.get_window_stats(item, *keys).reset_time
                return max(1, math.ceil(reset_at - time.time()))
        return None


def too_many(retry_after: int, detail: str) -> Response:
    return handle_problem(Problem(429, detail, code="too_many_requests", headers={"Retry-After": str(retry_after)}))


def check_token_rate() -> None:
    """After authentication (API and console): refuses with 429 a token over ``LEDGER_RATE_LIMIT``."""
    limits: RateLimits = current_app.extensions[EXTENSION]
    principal = g.get("principal")
    if principal is None or not limits.per_token:
        return
    wait = limits.exceeded(limits.per_token, "token", str(principal.token_id))
    if wait is not None:
        raise Problem(429, f"Too many requests with this token; try again in {wait} s.", code="too_many_requests",
                      headers={"Retry-After": str(wait)})


def _refused_authentication(response: Response) -> Response:
    """after_request: counts a 401 against the client's address; over the limit the answer becomes 429."""
    limits: RateLimits = current_app.extensions[EXTENSION]
    if response.status_code != 401 or not limits.unauthenticated:
        return response
    wait = limits.exceeded(limits.unauthenticated, "unauthenticated", request.remote_addr or "-")
    if wait is None:
        return response
    return too_many(wait, f"Too many refused authentications from this address; try again in {wait} s.")


def _control_character(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _refuse_control_characters() -> None:
    """before_request: no id, code or filter contains a control character (a NUL byte cannot even reach
    PostgreSQL), so such a path is a 404 and such a query parameter a 422, before any database sees them."""
    if _control_character(request.path):
        raise Problem(404, "Nothing is found at a path with control characters.", code="not_found")
    errors = {f"query.{name}": ["Control characters are not allowed."]
              for name, value in request.args.items(multi=True) if _control_character(name + value)}
    if errors:
        raise Problem(422, "The request has invalid fields; see errors.", code="validation_error", errors=errors)


def _transport_headers(response: Response) -> Response:
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def init_security(app: Flask, values: Mapping[str, Any]) -> RateLimits:
    """Reads the settings (a bad rate string fails here, at start) and installs the hooks."""
    limits = RateLimits(
        per_token=parse_limits(values.get("LEDGER_RATE_LIMIT"), "LEDGER_RATE_LIMIT"),
        unauthenticated=parse_limits(values.get("LEDGER_RATE_LIMIT_UNAUTHENTICATED"),
                                     "LEDGER_RATE_LIMIT_UNAUTHENTICATED"),
        limiter=MovingWindowRateLimiter(storage_from_string(str(values.get("LEDGER_RATE_LIMIT_STORAGE")
                                                                or "memory://"))),
    )
    app.extensions[EXTENSION] = limits
    proxies = int(values.get("LEDGER_PROXY_COUNT") or 0)
    if proxies < 0:
        raise ValueError("LEDGER_PROXY_COUNT must be 0 or more")
    if proxies:  # the client's address and scheme as the trusted proxies in front report them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.before_request(_refuse_control_characters)
    app.after_request(_refused_authentication)
    app.after_request(_transport_headers)
    return limits
