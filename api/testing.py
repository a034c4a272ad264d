"""Helpers for driving the API in tests, specifications and demos: an app on a given store, tokens, a caller."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from flask import Flask
from werkzeug.test import TestResponse

from api.app import create_app
from api.extension import extension
from ledger.access import issue_token

_keys = itertools.count(1)


def make_app(store_env: Mapping[str, str], **config: Any) -> Flask:
    """An API on the given eventsourcing env; tokens are checked on every request (no cache) and the audit views
    catch up on each read (deterministic), unless told otherwise."""
    return create_app({**store_env, "LEDGER_TOKEN_CACHE_SECONDS": 0, "LEDGER_PROJECTIONS": "inline", **config})


def close_app(app: Flask) -> None:
    extension_ = app.extensions.get("ledger")
    if extension_ is not None:
        extension_.close()


@contextmanager
def running_app(store_env: Mapping[str, str], **config: Any) -> Iterator[Flask]:
    """``make_app`` for the length of a ``with`` block (a fixture's life), closed on the way out."""
    app = make_app(store_env, **config)
    try:
        yield app
    finally:
        close_app(app)


def created(response: Any, key: str) -> str:
    """The ``key`` of a 201 answer's body (a new fund's id, say); anything but 201 fails with the answer shown."""
    status = getattr(response, "status_code", None)
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert status == 201, body
    return str(body[key])


def token(app: Flask, actor: str, role: str, scope: str = "") -> str:
    """Issues a token straight into the app's store and returns its secret."""
    with app.app_context():
        secret, _ = issue_token(extension().app, actor_name=actor, role=role, scope=scope, issued_by="tests")
    return secret


@dataclass
class Caller:
    """Sends requests as one token holder; POSTs get a fresh Idempotency-Key unless one is given."""

    app: Flask
    secret: str | None
    prefix: str = "/api/v1"
    last: TestResponse | None = field(default=None, repr=False)

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        headers.update(extra or {})
        return headers

    def post(self, path: str, body: Any = None, *, key: str | Literal[False] | None = None,
             raw: bytes | str | None = None, content_type: str = "application/json",
             headers: Mapping[str, str] | None = None) -> TestResponse:
        sent = dict(headers or {})
        if key is not False:
            sent.setdefault("Idempotency-Key", key or f"test-key-{next(_keys)}")
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False)
        self.last = self.app.test_client().post(self.prefix + path, data=data, content_type=content_type,
                                                headers=self.headers(sent))
        return self.last

    def get(self, path: str, *, query: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> TestResponse:
        self.last = self.app.test_client().get(self.prefix + path, query_string=query, headers=self.headers(headers))
        return self.last


def log_position(app: Flask) -> int:
    """The last position of the app's event log (0 when empty)."""
    with app.app_context():
        return extension().app.recorder.max_notification_id() or 0


# -- sample bodies: a Hebei fund passed down to 长安区 and a station project in a 长安区 street --------------------

USCC_PROVIDER = "91110000600037341L"  # a well-formed USCC (check character valid)


def appropriation(region: str = "130000", document_no: str = "财社〔2024〕1号", amount: str = "1000000.00",
                  **overrides: Any) -> dict[str, Any]:
    return {
        "holder_region": region,
        "fiscal_year": 2024,
        "document_no": document_no,
        "source_level": "central",
        "purpose": "乡镇(街道)社工站建设运营",
        "allowed_categories": ["staff", "activities", "training", "supervision", "management"],
        "service_domains": ["elderly_care", "child_welfare", "social_assistance"],
        "valid_from": "2024-01-01",
        "valid_to": "2024-12-31",
        "amount": amount,
        "effective_on": "2024-01-10",
        **overrides,
    }


def allocation_to_fund(child_region: str, document_no: str, amount: str, **overrides: Any) -> dict[str, Any]:
    return {"target_kind": "fund", "child_region": child_region, "document_no": document_no, "amount": amount,
            "effective_on": "2024-02-01", **overrides}


def allocation_to_project(project_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    return {"target_kind": "project", "project_id": project_id, "amount": amount, "effective_on": "2024-03-01",
            **overrides}


def registration(code: str = "SGZ-130102001-2024", township: str = "130102001", **overrides: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "建北街道社工站2024年度运营项目",
        "township_code": township,
        "station_name": "建北街道社会工作服务站",
        "service_domains": ["elderly_care", "child_welfare"],
        "period_start": "2024-03-01",
        "period_end": "2025-02-28",
        "budget_lines": {"staff": "120000.00", "activities": "50000.00", "training": "20000.00",
                         "management": "10000.00"},
        "effective_on": "2024-02-20",
        "provider_name": "石家庄市长安区启航社会工作服务中心",
        "provider_uscc": USCC_PROVIDER,
        "monthly_plan": [{"month": "2024-06", "cumulative_amount": "60000.00"},
                         {"month": "2024-12", "cumulative_amount": "150000.00"}],
        "output_targets": [{"indicator": "cases", "month": "2024-12", "cumulative_target": 30}],
        **overrides,
    }


def procurement(**overrides: Any) -> dict[str, Any]:
    return {"method": "competitive_consultation", "subject": "建北街道社工站运营服务", "category": "staff",
            "effective_on": "2024-02-25", "estimated_amount": "200000.00", **overrides}


def contract(contract_no: str = "HT-2024-001", amount: str = "200000.00", **overrides: Any) -> dict[str, Any]:
    half = (Decimal(amount) / 2).quantize(Decimal("1.00"), rounding=ROUND_DOWN)
    first, rest = str(half), str(Decimal(amount) - half)
    return {
        "step": "contract_signed",
        "effective_on": "2024-03-01",
        "details": {
            "contract_no": contract_no,
            "supplier_name": "石家庄市长安区启航社会工作服务中心",
            "supplier_uscc": USCC_PROVIDER,
            "amount": amount,
            "term_start": "2024-03-01",
            "term_end": "2025-02-28",
            "installments": [{"no": 1, "amount": first, "condition": "signing"},
                             {"no": 2, "amount": rest, "condition": "midterm_passed"}],
        },
        **overrides,
    }


def disbursement(fund_id: str, amount: str = "1000.00", **overrides: Any) -> dict[str, Any]:
    return {"fund_id": fund_id, "amount": amount, "payee_name": "石家庄市长安区启航社会工作服务中心",
            "payee_uscc": USCC_PROVIDER, "effective_on": "2024-03-05", **overrides}


def expenditure(amount: str = "800.00", **overrides: Any) -> dict[str, Any]:
    return {"line": "activities", "amount": amount, "payee_name": "长安区某文具店", "payee_kind": "supplier",
            "invoice_no": "FP-2024-0001", "effective_on": "2024-03-10", "description": "社区活动物料", **overrides}


def assert_problem(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """Checks an error answer is problem+json with the expected status and code; returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    for name in ("type", "title", "status", "detail", "code", "errors"):
        assert name in body, (name, body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    text = response.get_data(as_text=True)
    for leak in ("Traceback", 'File "', "SELECT ", "INSERT ", "psycopg", "sqlite3", "/site-packages/"):
        assert leak not in text, (leak, text)
    return dict(body)
