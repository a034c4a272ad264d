"""The authorisation matrix: every endpoint × role × inside / outside the region scope.

Officers write and read inside their scope; auditors read inside theirs (the global log is theirs alone); the admin
only manages tokens; no token, or a revoked one, is a 401. A refusal writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from flask import Flask

from api import testing as t
from api.extension import extension
from ledger.access import revoke_token


class Endpoint(NamedTuple):
    method: str
    path: str
    body: Callable[[Any, dict[str, str]], Any] | None = None  # (world, extra ids) -> body
    county: int | None = None  # what 长安区's officer gets (None: the same as the officer inside the scope)


def _reversal(w: Any, extra: dict[str, str]) -> dict[str, Any]:
    return {"entry_id": extra["entry"], "reason": "冲销测试", "effective_on": "2024-03-20"}


WRITES = [
    Endpoint("POST", "/funds", lambda w, x: t.appropriation(document_no=f"AUTH-{x['n']}"), county=403),
    Endpoint("POST", "/funds/{county_fund}/allocations", lambda w, x: t.allocation_to_project(w.project, "1.00")),
    Endpoint("POST", "/funds/{city_fund}/recoveries",
             lambda w, x: {"source_id": w.county_fund, "amount": "1.00", "reason": "收回",
                           "effective_on": "2024-12-01"},
             county=403),
    Endpoint("POST", "/funds/{county_fund}/closure",
             lambda w, x: {"disposition": "surplus", "effective_on": "2024-12-31"}, county=409),
    Endpoint("POST", "/projects", lambda w, x: t.registration(code=f"AUTH-{x['n']}")),
    Endpoint("POST", "/projects/{project}/procurements", lambda w, x: t.procurement()),
    Endpoint("POST", "/procurements/{procurement}/steps",
             lambda w, x: {"step": "contract_published", "effective_on": "2024-03-02", "details": {}}),
    Endpoint("POST", "/projects/{project}/budget-revisions",
             lambda w, x: {"moves": [{"from_line": "staff", "to_line": "training", "amount": "1.00"}],
                           "reason": "调整", "effective_on": "2024-04-01"}),
    Endpoint("POST", "/projects/{project}/disbursements", lambda w, x: t.disbursement(w.county_fund, "1.00")),
    Endpoint("POST", "/projects/{project}/expenditures", lambda w, x: t.expenditure("1.00")),
    Endpoint("POST", "/projects/{project}/reversals", _reversal, county=409),
    Endpoint("POST", "/projects/{project}/outputs",
             lambda w, x: {"month": "2024-03", "values": {"cases": 2}, "effective_on": "2024-04-02"}),
    Endpoint("POST", "/projects/{project}/evaluations",
             lambda w, x: {"kind": "self", "evaluator": "自评小组",
                           "weights": {"decision": "25.00", "process": "25.00", "output": "25.00", "effect": "25.00"},
                           "scores": {"decision": "20.00", "process": "20.00", "output": "20.00", "effect": "20.00"},
                           "effective_on": "2024-06-30"}),
    Endpoint("POST", "/projects/{project}/closure", lambda w, x: {"reason": "结项", "effective_on": "2025-03-01"},
             county=409),
]
READS = [
    Endpoint("GET", "/funds/{county_fund}"),
    Endpoint("GET", "/funds/{county_fund}/events"),
    Endpoint("GET", "/projects/{project}"),
    Endpoint("GET", "/projects/{project}/events"),
    Endpoint("GET", "/procurements/{procurement}"),
    Endpoint("GET", "/procurements/{procurement}/events"),
]
PRINCIPALS = ("officer_in", "officer_out", "county_officer_up", "auditor_in", "auditor_out", "admin", "anonymous",
              "revoked")


def expected(endpoint: Endpoint) -> dict[str, int]:
    if endpoint.path == "/events":
        return {"officer_in": 403, "officer_out": 403, "county_officer_up": 403, "auditor_in": 200,
                "auditor_out": 200, "admin": 403, "anonymous": 401, "revoked": 401}
    if endpoint.path == "/tokens":
        return {"officer_in": 403, "officer_out": 403, "county_officer_up": 403, "auditor_in": 403,
                "auditor_out": 403, "admin": 200, "anonymous": 401, "revoked": 401}
    ok = 201 if endpoint.method == "POST" else 200
    # 长安区's officer is inside the scope of the county fund, the project and its procurement, not above them; a
    # 409 for it means it got past the scope check to a one-time action that the first officer already took.
    return {"officer_in": ok, "officer_out": 403, "county_officer_up": endpoint.county or ok,
            "auditor_in": ok if endpoint.method == "GET" else 403, "auditor_out": 403, "admin": 403,
            "anonymous": 401, "revoked": 401}


ENDPOINTS = [*WRITES, *READS, Endpoint("GET", "/events"), Endpoint("GET", "/tokens")]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{e.method} {e.path}" for e in ENDPOINTS])
def test_authorisation_matrix(endpoint: Endpoint, people, world, api: Flask) -> None:
    entry = people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure("2.00")).get_json()["entry_id"]
    revoked = t.Caller(api, t.token(api, "已停用的财务", "officer", "13"))
    with api.app_context():
        token_id = next(g.token_id for g in [extension().grant_for(revoked.secret)] if g is not None)
        revoke_token(extension().app, token_id, revoked_by="tests")
    callers = {
        "officer_in": people.hebei,
        "officer_out": people.lanzhou,
        "county_officer_up": people.changan,
        "auditor_in": people.auditor_hebei,
        "auditor_out": people.auditor_lanzhou,
        "admin": people.admin,
        "anonymous": people.anonymous,
        "revoked": revoked,
    }
    ids = {"project": world.project, "procurement": world.procurement, "county_fund": world.county_fund,
           "city_fund": world.city_fund}
    path = endpoint.path.format(**ids)
    want = expected(endpoint)
    got: dict[str, int] = {}
    # Refusals first (each must write nothing), then the allowed calls, then the repeats of one-time actions.
    order = sorted(PRINCIPALS, key=lambda p: 2 if want[p] == 409 else int(want[p] < 300))
    for n, name in enumerate(order):
        before = t.log_position(api)
        caller = callers[name]
        if endpoint.method == "POST":
            assert endpoint.body is not None
            response = caller.post(path, endpoint.body(world, {"entry": entry, "n": f"{name}-{n}"}))
        else:
            response = caller.get(path)
        got[name] = response.status_code
        if response.status_code >= 400:
            t.assert_problem(response, response.status_code)
            assert t.log_position(api) == before, name
            if response.status_code == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert got == want


def test_the_global_log_gives_an_auditor_outside_hebei_nothing_of_hebei(people, world) -> None:
    items = people.auditor_lanzhou.get("/events", query={"limit": 500}).get_json()["items"]
    assert {e["aggregate_id"] for e in items} == {world.lanzhou_fund}


def test_refused_attempts_are_logged_with_actor_path_and_reason(people, world, caplog) -> None:
    caplog.set_level("INFO", logger="api")
    people.lanzhou.post(f"/projects/{world.project}/expenditures", t.expenditure())
    line = next(r.getMessage() for r in caplog.records if "refused" in r.getMessage())
    assert "兰州市民政局财务 王强" in line and f"/api/v1/projects/{world.project}/expenditures" in line
    assert "status=403" in line and "out_of_scope" in line


def test_token_secrets_never_reach_the_log(people, world, caplog) -> None:
    caplog.set_level("DEBUG")
    people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure())
    t.Caller(people.hebei.app, "lgr_wrong").get(f"/projects/{world.project}")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert people.hebei.secret not in text and "lgr_wrong" not in text
