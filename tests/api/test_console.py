"""The auditor console through Flask's test client, on both stores: sign-in, CSRF, scope, headers, every page and
export. The same journey in a real browser is in tests/browser."""

from __future__ import annotations

import csv
import io
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import testing as t


@pytest.fixture
def api(app_env: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    """The API with its data directory (where console.key goes) in the test's own folder."""
    with t.running_app(app_env, LEDGER_DATA_DIR=str(tmp_path / "data")) as app:
        yield app


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def sign_in(api: Flask, secret: str) -> FlaskClient:
    client = api.test_client()
    token_form = client.get("/console/login")
    response = client.post("/console/login", data={"token": secret, "csrf_token": _csrf(token_form.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/console/", response.text[:2000]
    return client


@pytest.fixture
def finding(people: Any, world: Any) -> dict[str, Any]:
    """An EAR-02 finding (a prohibited budget line) in 长安区's project."""
    posted = people.hebei.post(f"/projects/{world.project}/expenditures",
                               t.expenditure(line="official_reception", invoice_no="FP-JD-1"))
    assert posted.status_code == 201, posted.get_json()
    found = people.auditor_all.get("/audit/findings", query={"rule": "EAR-02"}).get_json()["items"]
    return dict(found[0])


def _pages(world: Any, finding: dict[str, Any]) -> list[str]:
    return ["/console/", "/console/regions/130000", "/console/regions/130102001",
            f"/console/projects/{world.project}", f"/console/findings/{finding['finding_id']}",
            "/console/export/findings.csv", "/console/export/regions/130000.xlsx",
            "/console/export/progress/130102.csv"]


def test_every_console_page_sends_a_caller_without_a_session_to_the_sign_in_form(api: Flask, world: Any,
                                                                                 finding: dict) -> None:
    client = api.test_client()
    for page in _pages(world, finding):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/console/login?next="), page
    refused = client.post(f"/console/findings/{finding['finding_id']}/decisions", data={"decision": "acknowledge"})
    assert refused.status_code == 302 and refused.headers["Location"] == "/console/login"


def test_signing_in_keeps_the_token_in_a_signed_httponly_strict_cookie_and_signing_out_forgets_it(
        api: Flask, people: Any, tmp_path: Path) -> None:
    client = api.test_client()
    form = client.get("/console/login")
    assert form.status_code == 200 and "访问令牌" in form.text
    signed_in = client.post("/console/login?next=/console/regions/130000",
                            data={"token": people.auditor_all.secret, "csrf_token": _csrf(form.text)})
    assert signed_in.headers["Location"] == "/console/regions/130000"
    cookie = signed_in.headers["Set-Cookie"]
    assert cookie.startswith("ledger_console=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    forged = api.test_client()
    forged.set_cookie("ledger_console", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/console")
    assert forged.get("/console/").status_code == 302  # a cookie whose signature does not match is ignored
    key = tmp_path / "data" / "console.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    overview = client.get("/console/")
    assert overview.status_code == 200 and "审计署 孙审" in overview.text
    sign_out = client.post("/console/logout", data={"csrf_token": _csrf(overview.text)})
    assert sign_out.status_code == 302 and sign_out.headers["Location"] == "/console/login"
    assert client.get("/console/").status_code == 302


def test_sign_in_refuses_unknown_tokens_admin_tokens_and_redirects_only_inside_the_console(api: Flask,
                                                                                          people: Any) -> None:
    client = api.test_client()
    csrf = _csrf(client.get("/console/login").text)
    unknown = client.post("/console/login", data={"token": "wfl_nope", "csrf_token": csrf})
    assert unknown.status_code == 401 and "令牌无效" in unknown.text
    admin = client.post("/console/login", data={"token": people.admin.secret, "csrf_token": csrf})
    assert admin.status_code == 403 and "不能使用审计控制台" in admin.text
    elsewhere = client.post("/console/login?next=//evil.example/x",
                            data={"token": people.auditor_all.secret, "csrf_token": csrf})
    assert elsewhere.headers["Location"] == "/console/"


def test_posts_without_the_sessions_csrf_token_are_refused(api: Flask, people: Any, finding: dict) -> None:
    client = api.test_client()
    client.get("/console/login")
    assert client.post("/console/login", data={"token": people.auditor_all.secret}).status_code == 400
    client = sign_in(api, people.auditor_all.secret)
    path = f"/console/findings/{finding['finding_id']}/decisions"
    for form in ({"decision": "acknowledge"}, {"decision": "acknowledge", "csrf_token": "forged"}):
        refused = client.post(path, data=form)
        assert refused.status_code == 400 and "CSRF" in refused.text
    assert client.post("/console/logout").status_code == 400
    assert "未处理" in client.get(f"/console/findings/{finding['finding_id']}").text  # nothing was recorded


def test_console_pages_carry_the_security_headers(api: Flask, people: Any, world: Any, finding: dict) -> None:
    anonymous = api.test_client()
    client = sign_in(api, people.auditor_all.secret)
    responses = [anonymous.get("/console/login"), anonymous.get("/console/"),
                 client.get("/console/projects/00000000-0000-0000-0000-000000000000"),
                 *(client.get(page) for page in _pages(world, finding))]
    for response in responses:
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'"), response.request.path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "style=" not in client.get(f"/console/projects/{world.project}").text  # the CSP allows no inline style


def test_an_auditor_reads_the_overview_drills_down_and_opens_a_project_and_a_finding(
        api: Flask, people: Any, world: Any, finding: dict) -> None:
    client = sign_in(api, people.auditor_all.secret)
    overview = client.get("/console/")
    assert overview.status_code == 200 and "未结问题总览" in overview.text
    assert 'href="/console/regions/130000"' in overview.text and "EAR-02" in overview.text
    province = client.get("/console/regions/130000")
    assert province.status_code == 200 and 'href="/console/regions/130100"' in province.text
    assert "覆盖率" in province.text
    # The province's coverage plan reads as a sentence, not as data.
    assert "目标:2023-02-01 起至 2023-12-31 覆盖 100.0%（河北省乡镇(街道)社工站全覆盖）" in province.text
    for code, child in (("130100", "130102"), ("130102", "130102001")):
        assert f'href="/console/regions/{child}"' in client.get(f"/console/regions/{code}").text
    township = client.get("/console/regions/130102001")
    assert f'href="/console/projects/{world.project}"' in township.text
    project = client.get(f"/console/projects/{world.project}")
    assert project.status_code == 200
    assert '<svg class="chart" id="progress-chart"' in project.text and 'class="series-spent"' in project.text
    assert "official_reception" in project.text and "ExpenditureRecorded" in project.text
    page = client.get(f"/console/findings/{finding['finding_id']}")
    assert page.status_code == 200 and 'id="decision-form"' in page.text and "ExpenditureRecorded" in page.text
    assert client.get("/console/findings/no-such-finding").status_code == 404
    assert client.get("/console/regions/999999").status_code == 422
    assert client.get("/console/?on=yesterday").status_code == 400


def test_an_auditors_decision_is_shown_at_once(api: Flask, people: Any, finding: dict) -> None:
    client = sign_in(api, people.auditor_all.secret)
    page = client.get(f"/console/findings/{finding['finding_id']}")
    path = f"/console/findings/{finding['finding_id']}/decisions"
    decided = client.post(path, data={"decision": "acknowledge", "effective_on": "2024-04-01", "note": "已核实",
                                      "csrf_token": _csrf(page.text)})
    assert decided.status_code == 303
    shown = client.get(decided.headers["Location"])
    assert "已确认" in shown.text and "已记录" in shown.text and "审计署 孙审" in shown.text
    api_view = people.auditor_all.get(f"/audit/findings/{finding['finding_id']}").get_json()
    assert api_view["status"] == "acknowledged"
    refused = client.post(path, data={"decision": "dismiss", "effective_on": "2024-04-02",
                                      "csrf_token": _csrf(shown.text)})
    assert refused.status_code == 422 and 'id="decision-error"' in refused.text


def test_officers_see_only_their_scope_and_may_not_decide(api: Flask, people: Any, world: Any,
                                                          finding: dict) -> None:
    lanzhou = sign_in(api, people.lanzhou.secret)
    overview = lanzhou.get("/console/")
    assert 'href="/console/regions/620100"' in overview.text and "EAR-02" not in overview.text
    for page in ("/console/regions/130000", f"/console/projects/{world.project}",
                 f"/console/findings/{finding['finding_id']}", "/console/export/regions/130000.csv",
                 "/console/export/findings.csv?region=130102"):
        refused = lanzhou.get(page)
        assert refused.status_code == 403 and "无权查看" in refused.text, page
    hebei = sign_in(api, people.hebei.secret)
    page = hebei.get(f"/console/findings/{finding['finding_id']}")
    assert page.status_code == 200 and 'id="decision-form"' not in page.text
    refused = hebei.post(f"/console/findings/{finding['finding_id']}/decisions",
                         data={"decision": "acknowledge", "csrf_token": _csrf(page.text)})
    assert refused.status_code == 403
    assert "未处理" in hebei.get(f"/console/findings/{finding['finding_id']}").text


def test_exports_are_csv_and_excel_with_chinese_headings(api: Flask, people: Any, finding: dict) -> None:
    client = sign_in(api, people.auditor_all.secret)
    findings = client.get("/console/export/findings.csv")
    assert findings.mimetype == "text/csv" and "attachment" in findings.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(findings.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:2] == ["问题编号", "规则"] and any(r[1] == "EAR-02" for r in rows[1:])
    region = client.get("/console/export/regions/130000.xlsx")
    assert region.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(region.data)).active
    assert sheet["A1"].value == "区划代码" and sheet["A2"].value == "130000"
    progress = client.get("/console/export/progress/130102.csv")
    assert progress.mimetype == "text/csv" and "支出进度" in progress.get_data(as_text=True)
    assert client.get("/console/export/findings.pdf").status_code == 404


def test_api_calls_set_no_console_cookie(api: Flask, people: Any, tmp_path: Path) -> None:
    response = people.auditor_all.get("/audit/findings")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert not (tmp_path / "data" / "console.key").exists()


def test_a_configured_secret_key_signs_the_session_and_no_key_file_is_made(app_env: dict[str, str], people: Any,
                                                                          tmp_path: Path) -> None:
    configured = t.make_app(app_env, LEDGER_DATA_DIR=str(tmp_path / "other"), LEDGER_SECRET_KEY="k" * 48)
    try:
        client = sign_in(configured, people.auditor_all.secret)
        assert client.get("/console/").status_code == 200
        assert configured.secret_key == "k" * 48
        assert not (tmp_path / "other" / "console.key").exists()
    finally:
        t.close_app(configured)
