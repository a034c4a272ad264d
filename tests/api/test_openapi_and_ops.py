"""The OpenAPI document (valid, every route in it), the docs page, health, readiness, metrics, and the 500 answer."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from openapi_spec_validator import validate

from api import create_app
from api import testing as t
from api.testing import assert_problem


@pytest.fixture
def bare() -> Flask:
    """An app whose store cannot be reached (nothing listens on port 9 of the loopback)."""
    return create_app({"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_HOST": "127.0.0.1",
                       "POSTGRES_PORT": "9", "POSTGRES_DBNAME": "none", "POSTGRES_USER": "none",
                       "POSTGRES_PASSWORD": "", "POSTGRES_CONNECT_TIMEOUT": "1"})


def test_the_openapi_document_validates_and_lists_every_route(bare: Flask) -> None:
    response = bare.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}
    routed = set()
    for rule in bare.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs") or rule.endpoint == "ops.docs":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented
    assert len(documented) >= 22
    post = spec["paths"]["/api/v1/projects/{project_id}/disbursements"]["post"]
    assert {"201", "400", "401", "403", "404", "409", "412", "413", "415", "422"} <= set(post["responses"])
    assert post["security"] == [{"bearerAuth": []}]
    amount = spec["components"]["schemas"]["DisbursementIn"]["properties"]["amount"]
    assert amount["type"] == "string" and amount["pattern"]


def test_the_docs_page_lists_the_operations_without_any_cdn(bare: Flask) -> None:
    page = bare.test_client().get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/v1/projects/{project_id}/disbursements" in html and "DisbursementIn" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_nothing_touches_the_store_until_a_request_needs_it(bare: Flask) -> None:
    assert bare.extensions["ledger"].started is False
    assert bare.test_client().get("/healthz").get_json() == {"status": "ok"}
    assert bare.extensions["ledger"].started is False


def test_readiness_reports_the_log_position(people, world, api: Flask) -> None:
    body = api.test_client().get("/readyz").get_json()
    assert body["status"] == "ready" and body["log_position"] == t.log_position(api)


def test_readiness_fails_with_503_when_the_store_is_unreachable(bare: Flask) -> None:
    response = bare.test_client().get("/readyz")
    assert_problem(response, 503, "unavailable")


def test_metrics_count_requests_latencies_and_postings(people, world, api: Flask) -> None:
    people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure(), key="m-1")
    people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure(), key="m-1")  # a replay
    text = api.test_client().get("/metrics").get_data(as_text=True)
    assert 'ledger_http_requests_total{method="POST",route="/api/v1/projects/<uuid:project_id>/expenditures",' \
           'status="201"} 2.0' in text
    assert 'ledger_postings_total{operation="projects.record_expenditure"} 1.0' in text
    assert "ledger_http_request_duration_seconds_bucket" in text


def test_unknown_paths_and_methods_are_problems(bare: Flask) -> None:
    client = bare.test_client()
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")
    response = client.delete("/api/v1/funds")
    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_an_unexpected_error_answers_500_with_a_request_id_that_is_in_the_log(people, world, api: Flask,
                                                                               monkeypatch, caplog) -> None:
    from ledger.application import LedgerApplication

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail at /srv/ledger/db.py line 42: SELECT * FROM x")

    monkeypatch.setattr(LedgerApplication, "get_fund", broken)
    response = people.hebei.get(f"/funds/{world.county_fund}")
    body = assert_problem(response, 500, "internal_error")
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert body["request_id"] and body["request_id"] == response.headers["X-Request-ID"]
    assert any(body["request_id"] in r.getMessage() and r.exc_info for r in caplog.records)
