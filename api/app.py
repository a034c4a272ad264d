"""The application factory: configuration, the lazily created ledger, blueprints, auth, errors, metrics, OpenAPI."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from flask_smorest import Api

from api import console
from api.auth import BEARER_SCHEME, authenticate_request
from api.config import load_config
from api.extension import init_ledger
from api.metrics import init_metrics
from api.problems import register_error_handlers
from api.resources import audit, events, funds, ops, procurements, projects, tokens, verify
from api.schemas.common import ProblemSchema
from api.schemas.procurements import STEP_SCHEMAS
from api.sealing import init_sealing
from api.security import check_token_rate, init_security
from projections.ocds import check_prefix

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class LedgerApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with the ledger's problem+json handlers instead of its own JSON errors."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Builds the API. ``config`` holds the keys of the environment variables; without it they are read from the
    environment. Nothing touches the database here: the ledger is created on the first request that needs it."""
    values = load_config(config)
    check_prefix(values["LEDGER_OCDS_PREFIX"])  # a wrong OCID prefix stops the server at start, not on an export
    app = Flask("api")
    app.config.update(
        API_TITLE="Welfare fund ledger (福彩公益金)",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=values["LEDGER_MAX_BODY"],
        LEDGER=values,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    logging.getLogger("api").setLevel(values["LEDGER_LOG_LEVEL"])

    init_ledger(app, values)
    init_metrics(app)
    init_sealing(app, values)  # seals the chain head every LEDGER_SEAL_EVERY events

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex

    app.before_request(authenticate_request)
    app.before_request(check_token_rate)  # LEDGER_RATE_LIMIT, per token
    init_security(app, values)  # 429 for addresses that keep failing to authenticate; HSTS; trusted proxies

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    api = LedgerApi(app, spec_kwargs={"info": {"description": "HTTP API of the welfare-lottery fund ledger."}})
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    for module in (funds, projects, procurements, events, tokens, audit, verify):
        api.register_blueprint(module.blp)
    for step_schema in dict.fromkeys(STEP_SCHEMAS.values()):  # the `details` of each procurement step
        api.spec.components.schema(f"Step{step_schema.__name__}", schema=step_schema)
    app.register_blueprint(ops.blp)
    app.register_blueprint(console.blp)  # the auditor console at /console/
    return app
