"""The console's session: a signed cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) holding the token and a CSRF
token.

The signing key is ``LEDGER_SECRET_KEY``, or ``<LEDGER_DATA_DIR>/console.key`` (0600), made on first use. Requests
without a console cookie (every API call) never need the key, so the API alone never creates the file.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Request, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

COOKIE = "ledger_console"
KEY_FILE = "console.key"
_lock = threading.Lock()


def secret_key_path(app: Flask) -> Path:
    return Path(str(app.config["LEDGER"]["LEDGER_DATA_DIR"])) / KEY_FILE


def load_secret_key(app: Flask) -> str:
    """LEDGER_SECRET_KEY if configured; else the key file, created (0600, never overwritten) when missing."""
    configured = app.config["LEDGER"].get("LEDGER_SECRET_KEY")
    if configured:
        return str(configured)
    path = secret_key_path(app)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:  # published whole, and never over a key another worker made first
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it (signed-in users will have to sign in again)")
    return key


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its key loaded lazily (first console sign-in or cookie)."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            with _lock:
                if not app.secret_key:
                    app.secret_key = load_secret_key(app)
        return super().get_signing_serializer(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure whenever the console is reached over HTTPS (behind a proxy: see LEDGER_PROXY_COUNT)."""
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()  # nothing to verify: no key needed
        return super().open_session(app, request)


def init_session(app: Flask) -> None:
    settings: dict[str, Any] = {"SESSION_COOKIE_NAME": COOKIE, "SESSION_COOKIE_HTTPONLY": True,
                                "SESSION_COOKIE_SAMESITE": "Strict", "SESSION_COOKIE_PATH": "/console"}
    for key, value in settings.items():
        app.config[key] = value
    app.session_interface = ConsoleSessionInterface()
