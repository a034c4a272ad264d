"""Every route the application serves, enumerated from ``app.url_map``, against every kind of caller: anonymous,
an officer inside the scope (河北), one outside it (兰州), an auditor (河北) and the admin — API, console pages and
CSV/Excel exports alike. A route added without an entry here fails this test, so nobody forgets to decide who
may call it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from api import testing as t
from tests.security.conftest import People, World, console_client, csrf_of

CALLERS = ("anonymous", "officer_in", "officer_out", "auditor", "admin")


def statuses(anonymous: int, officer_in: int, officer_out: int, auditor: int, admin: int) -> dict[str, int]:
    return dict(zip(CALLERS, (anonymous, officer_in, officer_out, auditor, admin), strict=True))


OPEN = statuses(200, 200, 200, 200, 200)
WRITE = statuses(401, 201, 403, 403, 403)
READ = statuses(401, 200, 403, 200, 403)  # a fund, project, procurement, finding or region inside 河北
SCOPED_LIST = statuses(401, 200, 200, 200, 403)  # lists filtered to the caller's scope
PAGE = statuses(302, 200, 403, 200, 302)  # console: no session (the admin cannot sign in) goes to the sign-in form
SCOPED_PAGE = statuses(302, 200, 200, 200, 302)

Body = Callable[[World, str], dict[str, Any]]


def _evaluation(w: World, n: str) -> dict[str, Any]:
    four = {"decision": "25.00", "process": "25.00", "output": "25.00", "effect": "25.00"}
    return {"kind": "self", "evaluator": "自评小组", "weights": four, "scores": four, "effective_on": "2024-06-30"}


# (method, rule) -> (path parameters, body for POSTs, expected status per caller); closures run last.
RULES: dict[tuple[str, str], tuple[dict[str, str], Body | None, dict[str, int]]] = {
    ("GET", "/healthz"): ({}, None, OPEN),
    ("GET", "/readyz"): ({}, None, OPEN),
    ("GET", "/metrics"): ({}, None, OPEN),
    ("GET", "/api/v1/openapi.json"): ({}, None, OPEN),
    ("GET", "/api/v1/docs"): ({}, None, OPEN),
    ("GET", "/static/<path:filename>"): ({"filename": "nothing.css"}, None, statuses(404, 404, 404, 404, 404)),
    ("POST", "/api/v1/funds"): ({}, lambda w, n: t.appropriation(document_no=f"AUTH-{n}"), WRITE),
    ("POST", "/api/v1/funds/<uuid:fund_id>/allocations"):
        ({"fund_id": "county_fund"}, lambda w, n: t.allocation_to_project(w.project, "1.00"), WRITE),
    ("POST", "/api/v1/funds/<uuid:fund_id>/recoveries"):
        ({"fund_id": "city_fund"}, lambda w, n: {"source_id": w.county_fund, "amount": "1.00", "reason": "收回",
                                                 "effective_on": "2024-12-01"}, WRITE),
    ("POST", "/api/v1/funds/<uuid:fund_id>/closure"):
        ({"fund_id": "county_fund"}, lambda w, n: {"disposition": "surplus", "effective_on": "2024-12-31"}, WRITE),
    ("GET", "/api/v1/funds/<uuid:fund_id>"): ({"fund_id": "county_fund"}, None, READ),
    ("GET", "/api/v1/funds/<uuid:fund_id>/events"): ({"fund_id": "county_fund"}, None, READ),
    ("POST", "/api/v1/projects"): ({}, lambda w, n: t.registration(code=f"AUTH-{n}"), WRITE),
    ("GET", "/api/v1/projects/<uuid:project_id>"): ({"project_id": "project"}, None, READ),
    ("GET", "/api/v1/projects/<uuid:project_id>/events"): ({"project_id": "project"}, None, READ),
    ("POST", "/api/v1/projects/<uuid:project_id>/procurements"):
        ({"project_id": "project"}, lambda w, n: t.procurement(), WRITE),
    ("POST", "/api/v1/projects/<uuid:project_id>/budget-revisions"):
        ({"project_id": "project"},
         lambda w, n: {"moves": [{"from_line": "staff", "to_line": "training", "amount": "1.00"}], "reason": "调整",
                       "effective_on": "2024-04-01"}, WRITE),
    ("POST", "/api/v1/projects/<uuid:project_id>/disbursements"):
        ({"project_id": "project"}, lambda w, n: t.disbursement(w.county_fund, "1.00"), WRITE),
    ("POST", "/api/v1/projects/<uuid:project_id>/expenditures"):
        ({"project_id": "project"}, lambda w, n: t.expenditure("1.00", invoice_no=f"FP-{n}"), WRITE),
    ("POST", "/api/v1/projects/<uuid:project_id>/reversals"):
        ({"project_id": "project"},
         lambda w, n: {"entry_id": w.entry, "reason": "冲销", "effective_on": "2024-03-20"}, WRITE),
    ("POST", "/api/v1/projects/<uuid:project_id>/outputs"):
        ({"project_id": "project"},
         lambda w, n: {"month": "2024-03", "values": {"cases": 2}, "effective_on": "2024-04-02"}, WRITE),
    ("POST", "/api/v1/projects/<uuid:project_id>/evaluations"): ({"project_id": "project"}, _evaluation, WRITE),
    ("POST", "/api/v1/projects/<uuid:project_id>/closure"):
        ({"project_id": "project"}, lambda w, n: {"reason": "结项", "effective_on": "2025-03-01"}, WRITE),
    ("GET", "/api/v1/procurements/<uuid:procurement_id>"): ({"procurement_id": "procurement"}, None, READ),
    ("GET", "/api/v1/procurements/<uuid:procurement_id>/events"): ({"procurement_id": "procurement"}, None, READ),
    ("GET", "/api/v1/procurements/<uuid:procurement_id>/ocds"): ({"procurement_id": "procurement"}, None, READ),
    ("POST", "/api/v1/procurements/<uuid:procurement_id>/steps"):
        ({"procurement_id": "procurement"},
         lambda w, n: {"step": "contract_published", "effective_on": "2024-03-02", "details": {}}, WRITE),
    ("GET", "/api/v1/events"): ({}, None, statuses(401, 403, 403, 200, 403)),
    ("GET", "/api/v1/tokens"): ({}, None, statuses(401, 403, 403, 403, 200)),
    ("GET", "/api/v1/verify"): ({}, None, statuses(401, 403, 403, 200, 403)),
    ("GET", "/api/v1/audit/projections"): ({}, None, statuses(401, 403, 403, 200, 200)),
    ("GET", "/api/v1/audit/findings"): ({}, None, SCOPED_LIST),
    ("GET", "/api/v1/audit/findings/<string:finding_id>"): ({"finding_id": "finding"}, None, READ),
    ("POST", "/api/v1/audit/findings/<string:finding_id>/decisions"):
        ({"finding_id": "finding"}, lambda w, n: {"decision": "acknowledge", "effective_on": "2024-05-01"},
         statuses(401, 403, 403, 201, 403)),
    ("GET", "/api/v1/audit/regions/<string:code>"): ({"code": "=130102"}, None, READ),
    ("GET", "/api/v1/audit/progress"): ({}, None, SCOPED_LIST),
    ("GET", "/api/v1/audit/coverage"): ({}, None, SCOPED_LIST),
    ("GET", "/api/v1/audit/projects/<uuid:project_id>"): ({"project_id": "project"}, None, READ),
    ("POST", "/api/v1/checks/expenditures"):
        ({}, lambda w, n: {**t.expenditure("1.00"), "project_id": w.project}, statuses(401, 200, 403, 403, 403)),
    ("GET", "/console/login"): ({}, None, OPEN),
    ("POST", "/console/login"): ({}, None, statuses(401, 302, 302, 302, 403)),
    ("POST", "/console/logout"): ({}, None, statuses(302, 302, 302, 302, 302)),
    ("GET", "/console/static/<path:filename>"): ({"filename": "console.css"}, None, OPEN),
    ("GET", "/console/"): ({}, None, SCOPED_PAGE),
    ("GET", "/console/regions/<code>"): ({"code": "=130102"}, None, PAGE),
    ("GET", "/console/projects/<uuid:project_id>"): ({"project_id": "project"}, None, PAGE),
    ("GET", "/console/findings/<finding_id>"): ({"finding_id": "finding"}, None, PAGE),
    ("POST", "/console/findings/<finding_id>/decisions"):
        ({"finding_id": "finding"}, lambda w, n: {"decision": "start_rectification", "effective_on": "2024-05-02"},
         statuses(302, 403, 403, 303, 302)),
    ("GET", "/console/export/findings.<fmt>"): ({}, None, SCOPED_PAGE),
    ("GET", "/console/export/regions/<code>.<fmt>"): ({"code": "=130102"}, None, PAGE),
    ("GET", "/console/export/progress/<code>.<fmt>"): ({"code": "=130102"}, None, PAGE),
}
# The API's reads that export CSV and Excel too, each also asked for in both formats.
EXPORTING = ("/api/v1/audit/findings", "/api/v1/audit/regions/<string:code>", "/api/v1/audit/progress",
             "/api/v1/audit/coverage")
CLOSURES = ("/closure",)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def routes(app: Flask) -> list[tuple[str, str]]:
    found = {(method, rule.rule) for rule in app.url_map.iter_rules()
             for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    return sorted(found, key=lambda r: (r[1].endswith(CLOSURES), r[1], r[0]))


def _path(rule: str, parameters: dict[str, str], world: World, fmt: str) -> str:
    path = rule
    for name, source in {**parameters, "fmt": fmt}.items():
        value = source[1:] if source.startswith("=") else getattr(world, source, source)
        path = path.replace(f"<{name}>", value)
        for converter in ("uuid", "string", "path"):
            path = path.replace(f"<{converter}:{name}>", value)
    assert "<" not in path, path
    return path


def _call(api: Flask, people: People, world: World, who: str, method: str, rule: str, fmt: str, n: str) -> Any:
    parameters, body, _ = RULES[(method, rule)]
    path = _path(rule, parameters, world, fmt)
    caller: t.Caller = getattr(people, who)
    if rule.startswith("/console/"):
        client = console_client(api, caller.secret if who != "admin" else None)
        if method == "GET":
            return client.get(path)
        page = client.get("/console/login")
        form: dict[str, Any] = {"csrf_token": csrf_of(page.text)}
        if rule == "/console/login":
            client = api.test_client()
            form = {"csrf_token": csrf_of(client.get("/console/login").text), "token": caller.secret or ""}
        elif client.get_cookie("ledger_console", path="/console") is not None and "/findings/" in rule:
            form["csrf_token"] = csrf_of(client.get(f"/console/findings/{world.finding}").text) \
                if who == "auditor" else form["csrf_token"]
        return client.post(path, data={**form, **(body(world, n) if body else {})})
    headers = dict(caller.headers())
    if method == "POST":
        assert body is not None, rule
        return api.test_client().post(path, json=body(world, n), headers={**headers, "Idempotency-Key": f"k-{n}"})
    query = {"format": fmt} if rule in EXPORTING and fmt != "json" else {}
    return api.test_client().get(path, query_string=query, headers=headers)


def test_every_route_answers_each_kind_of_caller_as_its_rule_says(api: Flask, people: People, world: World) -> None:
    unruled = [route for route in routes(api) if route not in RULES]
    assert not unruled, f"routes without an authorisation rule in this test: {unruled}"
    wrong: list[str] = []
    calls = 0
    for method, rule in routes(api):
        want = RULES[(method, rule)][2]
        formats = ("csv", "xlsx") if "<fmt>" in rule else ("json", "csv", "xlsx") if rule in EXPORTING else ("json",)
        for fmt in formats:
            # refusals first (each must write nothing), then the callers who may
            for who in sorted(CALLERS, key=lambda c: want[c] < 300 or want[c] == 303):
                before = t.log_position(api)
                calls += 1
                response = _call(api, people, world, who, method, rule, fmt, f"{who}-{calls}")
                if response.status_code != want[who]:
                    wrong.append(f"{method} {rule} [{fmt}] as {who}: {response.status_code}, expected {want[who]}"
                                 f" {response.get_data(as_text=True)[:200]!r}")
                if response.status_code in (401, 403) and not rule.startswith("/console/"):
                    t.assert_problem(response, response.status_code)
                if response.status_code >= 400:
                    assert t.log_position(api) == before, f"{method} {rule} as {who} wrote after refusing"
                if want[who] == 200 and fmt in ("csv", "xlsx") and response.status_code == 200:
                    assert response.mimetype in ("text/csv", XLSX), (rule, response.mimetype)
                response.close()
    assert not wrong, "\n".join(wrong)
