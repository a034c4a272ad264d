"""The console's security headers, cookie flags and CSRF protection; HSTS over HTTPS only; the request size limit
(413) and the rate limits (429 with Retry-After), all as problem+json for the API."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from api import testing as t
from api.security import parse_limits
from tests.security.conftest import People, World, console_client, csrf_of


def _pages(world: World) -> list[str]:
    return ["/console/", "/console/regions/130102", f"/console/projects/{world.project}",
            f"/console/findings/{world.finding}", "/console/export/findings.csv", "/console/export/regions/130000.xlsx"]


def test_console_pages_forbid_inline_code_framing_sniffing_and_referrers(api: Flask, people: People,
                                                                         world: World) -> None:
    client = console_client(api, people.auditor.secret)
    for path in ["/console/login", *_pages(world)]:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS would mean nothing
        if response.mimetype == "text/html":  # the policy can be strict: the pages have no inline code or style
            page = response.get_data(as_text=True)
            assert not any(inline in page for inline in ("<script", " style=", "<style", "javascript:"))


def test_over_https_the_session_cookie_is_secure_and_hsts_is_sent(api: Flask, people: People) -> None:
    client = api.test_client()
    form = client.get("/console/login", base_url="https://ledger.example")
    assert form.headers["Strict-Transport-Security"].startswith("max-age=")
    signed_in = client.post("/console/login", base_url="https://ledger.example",
                            data={"token": people.auditor.secret, "csrf_token": csrf_of(form.text)})
    assert signed_in.status_code == 302
    cookie = next(c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("ledger_console="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= flags and "SameSite=Strict" in cookie
    assert api.test_client().get("/healthz", base_url="https://ledger.example").headers[
        "Strict-Transport-Security"].startswith("max-age=")


def test_over_plain_http_the_cookie_is_httponly_and_strict_but_not_marked_secure(api: Flask, people: People) -> None:
    client = api.test_client()
    form = client.get("/console/login")
    signed_in = client.post("/console/login", data={"token": people.auditor.secret, "csrf_token": csrf_of(form.text)})
    cookie = next(c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("ledger_console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie


def test_console_forms_refuse_a_post_without_or_with_a_wrong_csrf_token_and_accept_the_right_one(
        api: Flask, people: People, world: World) -> None:
    # the sign-in form itself
    bare = api.test_client()
    for form in ({"token": people.auditor.secret}, {"token": people.auditor.secret, "csrf_token": "forged"}):
        refused = bare.post("/console/login", data=form)
        assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
        assert bare.get_cookie("ledger_console", path="/console") is None or "token" not in refused.text
    client = console_client(api, people.auditor.secret)
    page = f"/console/findings/{world.finding}"
    decision = {"decision": "acknowledge", "effective_on": "2024-05-01"}
    other = console_client(api, people.auditor.secret)  # another session's token is not this one's
    stolen = csrf_of(other.get(page).text)
    for form in (decision, {**decision, "csrf_token": "forged"}, {**decision, "csrf_token": stolen}):
        before = t.log_position(api)
        refused = client.post(f"{page}/decisions", data=form)
        assert refused.status_code == 400, refused.status_code
        assert t.log_position(api) == before  # nothing recorded
    logout = client.post("/console/logout", data={})
    assert logout.status_code == 400
    accepted = client.post(f"{page}/decisions", data={**decision, "csrf_token": csrf_of(client.get(page).text)})
    assert accepted.status_code == 303
    assert "已确认" in client.get(page).get_data(as_text=True)


def test_a_body_over_the_limit_is_refused_with_413_problem_json_and_writes_nothing(
        app_env: dict[str, str], tmp_path: Path) -> None:
    app = t.make_app(app_env, LEDGER_DATA_DIR=str(tmp_path / "data"), LEDGER_MAX_BODY=2048)
    try:
        officer = t.Caller(app, t.token(app, "财务", "officer", "13"))
        before = t.log_position(app)
        big = t.appropriation(purpose="项" * 2000)
        response = officer.post("/funds", big)
        t.assert_problem(response, 413, "payload_too_large")
        chunked = app.test_client().post("/api/v1/funds", input_stream=io.BytesIO(json.dumps(big).encode()),
                                         headers={**officer.headers(), "Idempotency-Key": "k-chunked",
                                                  "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                                         environ_overrides={"wsgi.input_terminated": True})
        t.assert_problem(chunked, 413, "payload_too_large")  # no Content-Length: the stream is cut off too
        assert t.log_position(app) == before
        assert officer.post("/funds", t.appropriation()).status_code == 201  # within the limit
    finally:
        t.close_app(app)


def _limited_app(app_env: dict[str, str], tmp_path: Path, **limits: Any) -> Flask:
    return t.make_app(app_env, LEDGER_DATA_DIR=str(tmp_path / "data"), **limits)


def test_a_token_over_its_rate_limit_gets_429_problem_json_with_retry_after(app_env: dict[str, str],
                                                                            tmp_path: Path) -> None:
    app = _limited_app(app_env, tmp_path, LEDGER_RATE_LIMIT="3/minute")
    try:
        busy = t.Caller(app, t.token(app, "财务 甲", "officer", "13"))
        other = t.Caller(app, t.token(app, "财务 乙", "officer", "13"))
        assert [busy.get("/audit/findings").status_code for _ in range(3)] == [200, 200, 200]
        refused = busy.get("/audit/findings")
        body = t.assert_problem(refused, 429, "too_many_requests")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60 and body["title"] == "Too many requests"
        before = t.log_position(app)
        t.assert_problem(busy.post("/funds", t.appropriation()), 429, "too_many_requests")
        assert t.log_position(app) == before  # a refused write writes nothing
        assert other.get("/audit/findings").status_code == 200  # each token has its own budget
        console = console_client(app, other.secret)  # the console counts the same token's requests
        assert [console.get("/console/").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        t.close_app(app)


def test_an_address_that_keeps_failing_to_authenticate_gets_429_while_valid_tokens_pass(
        app_env: dict[str, str], tmp_path: Path) -> None:
    app = _limited_app(app_env, tmp_path, LEDGER_RATE_LIMIT_UNAUTHENTICATED="2/minute")
    try:
        valid = t.Caller(app, t.token(app, "审计", "auditor", "13"))
        guesser = t.Caller(app, "lgr_guess")
        assert [guesser.get("/audit/findings").status_code for _ in range(2)] == [401, 401]
        refused = guesser.get("/audit/findings")
        t.assert_problem(refused, 429, "too_many_requests")
        assert int(refused.headers["Retry-After"]) >= 1
        t.assert_problem(t.Caller(app, None).get("/events"), 429, "too_many_requests")
        assert valid.get("/audit/findings").status_code == 200
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        t.close_app(app)


def test_defaults_leave_tokens_unlimited_and_a_bad_setting_stops_the_server(app_env: dict[str, str],
                                                                            tmp_path: Path) -> None:
    app = _limited_app(app_env, tmp_path)
    try:
        officer = t.Caller(app, t.token(app, "财务", "officer", "13"))
        assert all(officer.get("/audit/findings").status_code == 200 for _ in range(50))
    finally:
        t.close_app(app)
    assert parse_limits("off", "X") == [] and len(parse_limits("50/second;2000/minute", "X")) == 2
    with pytest.raises(ValueError, match="LEDGER_RATE_LIMIT"):
        t.make_app(app_env, LEDGER_RATE_LIMIT="lots")
