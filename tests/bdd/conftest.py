"""Shared steps of the posting specifications (features/*.feature, zh-CN): they drive the HTTP API.

Names in quotes are people (token holders), regions written 名称(代码), document numbers and project codes; ids the
API hands out are remembered under those names. A posting in a 假如 (given) step must succeed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from pytest_bdd import given, parsers, then, when
from werkzeug.test import TestResponse

from api import testing as t


@dataclass
class Ledger:
    """What a scenario has seen: its API, the people in it, the ids behind names, the last answer."""

    app: Flask
    people: dict[str, t.Caller] = field(default_factory=dict)
    funds: dict[str, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)
    procurements: dict[str, str] = field(default_factory=dict)
    entries: dict[str, list[str]] = field(default_factory=dict)
    responses: list[TestResponse] = field(default_factory=list)
    position_before: int = 0
    must_succeed: bool = False

    @property
    def last(self) -> TestResponse:
        return self.responses[-1]

    def post(self, who: str, path: str, body: dict[str, Any], key: str | None = None) -> TestResponse:
        self.position_before = t.log_position(self.app)
        response = self.people[who].post(path, body, key=key)
        self.responses.append(response)
        if self.must_succeed:
            assert response.status_code == 201, response.get_json()
        return response


def code_of(region: str) -> str:
    match = re.search(r"[0-9]{6,9}", region)
    assert match is not None, f"write regions as 名称(代码), not {region!r}"
    return match.group(0)


@pytest.fixture
def ledger(app_env: dict[str, str]) -> Iterator[Ledger]:
    app = t.make_app(app_env)
    try:
        yield Ledger(app)
    finally:
        t.close_app(app)


def pytest_bdd_before_step(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                           step_func: Any) -> None:
    if "ledger" in request.fixturenames:
        request.getfixturevalue("ledger").must_succeed = step.type == "given"


# -- people -------------------------------------------------------------------------------------------------------

@given("账本是空的")
def empty_ledger(ledger: Ledger) -> None:
    assert t.log_position(ledger.app) == 0


@given(parsers.parse('"{who}"是"{region}"的财务人员'))
def officer(ledger: Ledger, who: str, region: str) -> None:
    ledger.people[who] = t.Caller(ledger.app, t.token(ledger.app, who, "officer", code_of(region)))


@given(parsers.parse('"{who}"是"{region}"的审计人员'))
def auditor(ledger: Ledger, who: str, region: str) -> None:
    ledger.people[who] = t.Caller(ledger.app, t.token(ledger.app, who, "auditor", code_of(region)))


# -- postings -----------------------------------------------------------------------------------------------------

@given(parsers.parse('"{who}"下达资金"{doc}"到"{region}"，金额"{amount}"元'))
@when(parsers.parse('"{who}"下达资金"{doc}"到"{region}"，金额"{amount}"元'))
def appropriate(ledger: Ledger, who: str, doc: str, region: str, amount: str) -> None:
    response = ledger.post(who, "/funds", t.appropriation(code_of(region), doc, amount))
    if response.status_code == 201:
        ledger.funds[doc] = response.get_json()["fund_id"]


@when(parsers.parse('"{who}"将资金"{doc}"的"{amount}"元转下达到"{region}"，文号"{child}"'))
def allocate_down(ledger: Ledger, who: str, doc: str, amount: str, region: str, child: str) -> None:
    response = ledger.post(who, f"/funds/{ledger.funds[doc]}/allocations",
                           t.allocation_to_fund(code_of(region), child, amount))
    if response.status_code == 201:
        ledger.funds[child] = response.get_json()["target_id"]


@given(parsers.parse('"{who}"在"{township}"登记项目"{code}"，预算"{amount}"元'))
@when(parsers.parse('"{who}"在"{township}"登记项目"{code}"，预算"{amount}"元'))
def register(ledger: Ledger, who: str, township: str, code: str, amount: str) -> None:
    body = t.registration(code=code, township=code_of(township), budget_lines={"staff": amount},
                          monthly_plan=[], output_targets=[])
    response = ledger.post(who, "/projects", body)
    if response.status_code == 201:
        ledger.projects[code] = response.get_json()["project_id"]


@given(parsers.parse('"{who}"从资金"{doc}"向项目"{code}"拨入"{amount}"元'))
@when(parsers.parse('"{who}"从资金"{doc}"向项目"{code}"拨入"{amount}"元'))
def allocate_to_project(ledger: Ledger, who: str, doc: str, code: str, amount: str) -> None:
    ledger.post(who, f"/funds/{ledger.funds[doc]}/allocations", t.allocation_to_project(ledger.projects[code], amount))


@when(parsers.parse('"{who}"为项目"{code}"开启采购'))
def open_procurement(ledger: Ledger, who: str, code: str) -> None:
    response = ledger.post(who, f"/projects/{ledger.projects[code]}/procurements", t.procurement())
    if response.status_code == 201:
        ledger.procurements["current"] = response.get_json()["procurement_id"]


@when(parsers.parse('"{who}"与承接机构签订合同"{contract_no}"，金额"{amount}"元'))
def sign_contract(ledger: Ledger, who: str, contract_no: str, amount: str) -> None:
    ledger.post(who, f"/procurements/{ledger.procurements['current']}/steps", t.contract(contract_no, amount))


def _disburse(ledger: Ledger, who: str, doc: str, code: str, amount: str, key: str | None = None) -> None:
    ledger.post(who, f"/projects/{ledger.projects[code]}/disbursements", t.disbursement(ledger.funds[doc], amount),
                key=key)


@when(parsers.parse('"{who}"从资金"{doc}"向承接机构拨付项目"{code}"的"{amount}"元'))
def disburse(ledger: Ledger, who: str, doc: str, code: str, amount: str) -> None:
    _disburse(ledger, who, doc, code, amount)


@when(parsers.parse('"{who}"以幂等键"{key}"从资金"{doc}"向承接机构拨付项目"{code}"的"{amount}"元'))
def disburse_with_key(ledger: Ledger, who: str, key: str, doc: str, code: str, amount: str) -> None:
    _disburse(ledger, who, doc, code, amount, key=key)


@when(parsers.parse('"{who}"在项目"{code}"的"{line}"科目列支"{amount}"元，发票"{invoice}"'))
def spend(ledger: Ledger, who: str, code: str, line: str, amount: str, invoice: str) -> None:
    project_id = ledger.projects[code]
    response = ledger.post(who, f"/projects/{project_id}/expenditures",
                           t.expenditure(amount, line=line, invoice_no=invoice))
    if response.status_code == 201:
        ledger.entries.setdefault(code, []).append(response.get_json()["entry_id"])


@when(parsers.parse('"{who}"冲销项目"{code}"的上一笔支出，原因"{reason}"'))
def reverse(ledger: Ledger, who: str, code: str, reason: str) -> None:
    ledger.post(who, f"/projects/{ledger.projects[code]}/reversals",
                {"entry_id": ledger.entries[code][-1], "reason": reason, "effective_on": "2024-03-12"})


# -- outcomes -----------------------------------------------------------------------------------------------------

@then("请求成功")
def succeeded(ledger: Ledger) -> None:
    assert ledger.last.status_code == 201, ledger.last.get_json()
    assert ledger.last.headers["ETag"] and ledger.last.get_json()["position"] > ledger.position_before


@then(parsers.parse('请求被拒绝，状态 {status:d}，代码"{code}"'))
def refused(ledger: Ledger, status: int, code: str) -> None:
    t.assert_problem(ledger.last, status, code)


@then("账本没有写入任何内容")
def nothing_written(ledger: Ledger) -> None:
    assert t.log_position(ledger.app) == ledger.position_before


@then("返回与第一次相同的结果，并标明是重放")
def replayed(ledger: Ledger) -> None:
    first, again = ledger.responses[-2], ledger.responses[-1]
    assert again.status_code == first.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotency-Replayed"] == "true"


def _reader(ledger: Ledger) -> t.Caller:
    if "审计" not in ledger.people:
        ledger.people["审计"] = t.Caller(ledger.app, t.token(ledger.app, "审计", "auditor", ""))
    return ledger.people["审计"]


@then(parsers.parse('资金"{doc}"的可用余额为"{amount}"元'))
def fund_available(ledger: Ledger, doc: str, amount: str) -> None:
    assert _reader(ledger).get(f"/funds/{ledger.funds[doc]}").get_json()["available"] == amount


@then(parsers.parse('项目"{code}"的合同承诺为"{amount}"元'))
def committed(ledger: Ledger, code: str, amount: str) -> None:
    assert _reader(ledger).get(f"/projects/{ledger.projects[code]}").get_json()["committed_total"] == amount


@then(parsers.parse('项目"{code}"已拨付"{disbursed}"元，已支出"{spent}"元'))
def project_totals(ledger: Ledger, code: str, disbursed: str, spent: str) -> None:
    project = _reader(ledger).get(f"/projects/{ledger.projects[code]}").get_json()
    assert (project["disbursed_total"], project["spent_total"]) == (disbursed, spent)


@then(parsers.parse('项目"{code}"的每个事件都记录了记账人'))
def every_event_has_its_actor(ledger: Ledger, code: str) -> None:
    events = _reader(ledger).get(f"/projects/{ledger.projects[code]}/events", query={"limit": 500}).get_json()
    assert events["items"] and all(e["actor"] in ledger.people for e in events["items"])
