"""Shared steps of the posting specifications (features/*.feature, zh-CN): they drive the HTTP API.

Names in quotes are people (token holders), regions written 名称(代码), document numbers and project codes; ids the
API hands out are remembered under those names. A posting in a 假如 (given) step must succeed.

The second half serves the audit specifications (features/earmarking_*.feature): dated postings in the officers'
words, then what an auditor's token reads back from /audit/findings (rule, severity, evidence, status, decisions).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from pytest_bdd import given, parsers, then, when
from werkzeug.test import TestResponse

from api import testing as t
from ledger.vocabulary import CATEGORIES, OUTPUT_INDICATORS, PAYEE_KINDS


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
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    contracts: dict[str, str] = field(default_factory=dict)
    providers: dict[str, tuple[str, str]] = field(default_factory=dict)
    disbursements: dict[str, list[str]] = field(default_factory=dict)
    just_posted: dict[str, dict[str, Any]] = field(default_factory=dict)
    finding: dict[str, Any] | None = None
    finding_reader: str = ""

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


# == dated postings and audit findings (features/earmarking_*.feature) =============================================
#
# A dated posting tells what happened on a business date, e.g. `2024年3月20日，"李娜"从资金…拨付…`; it describes the
# books a scenario is about, so it must succeed whatever its keyword (refusals are specified with the undated steps
# above). Amounts may carry thousands separators ("120,000.00"); categories, payee kinds, procurement methods,
# installment conditions, evaluations and decisions are written in Chinese and mapped to the API's codes here.

CATEGORY_CODES = {name: code for code, name in CATEGORIES.items()}
PAYEE_KIND_CODES = {name: code for code, name in PAYEE_KINDS.items()}
METHOD_CODES = {"公开招标": "open_tender", "竞争性磋商": "competitive_consultation",
                "竞争性谈判": "competitive_negotiation", "询价": "request_for_quotation", "单一来源": "single_source"}
CONDITION_CODES = {"签订合同": "signing", "中期评估合格": "midterm_passed", "结项评估合格": "final_passed"}
EVALUATION_KINDS = {"自评": "self", "中期评估": "midterm", "结项评估": "final"}
EVALUATION_WEIGHTS = {"decision": Decimal(20), "process": Decimal(20), "output": Decimal(30), "effect": Decimal(30)}
DECISION_CODES = {"确认": "acknowledge", "开始整改": "start_rectification", "整改完成": "mark_rectified",
                  "排除": "dismiss"}
STATUS_NAMES = {"open": "待处理", "acknowledged": "已确认", "rectifying": "整改中", "rectified": "已整改",
                "dismissed": "已排除", "retracted": "已撤销"}
EVENT_TYPES = {"支出": "ExpenditureRecorded", "拨付": "Disbursed", "预算调整": "BudgetRevised",
               "项目登记": "Registered", "资金拨入": "FundsReceived", "合同签订": "ContractCommitted",
               "合同补充协议": "CommitmentAmended", "冲销": "EntryReversed", "评估": "Evaluated"}
POSTING_IDS = {"支出": "entry_id", "拨付": "entry_id", "预算调整": "revision_id"}
PARAMETER_NAMES = {"容差": "tolerance", "比例上限": "share", "管理费比例上限": "management_share",
                   "结算期天数": "grace_days"}
# Organisations that sign contracts need a unified social credit code (check character valid, GB 32100-2015).
USCC_OF = {"石家庄市长安区启航社会工作服务中心": t.USCC_PROVIDER}

DATE_NAMES = ("on", "start", "end")
DATE_PATTERN = r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日"


def pattern(template: str) -> parsers.re:
    """A step parser from a readable template: "{name}" is a quoted value, {on} / {start} / {end} a date written
    2024年3月1日, {name} any text; the rest is a regular expression (for alternatives and optional parts)."""
    def group(match: re.Match[str]) -> str:
        quote, name = match.group(1), match.group(2)
        if quote:
            return f'"(?P<{name}>[^"]+)"'
        return f"(?P<{name}>{DATE_PATTERN})" if name in DATE_NAMES else f"(?P<{name}>.+?)"

    return parsers.re(re.sub(r'("?)\{([a-z_]+)\}\1', group, template))


def posting_step(template: str) -> Any:
    """The same dated posting as a 假如 (given) and as a 当 (when) step."""
    def decorate(function: Any) -> Any:
        # stacklevel 2: register the step fixtures in this module, not in decorate()'s frame
        return given(pattern(template), stacklevel=2)(when(pattern(template), stacklevel=2)(function))

    return decorate


def day(text: str) -> str:
    """2024年3月1日 → 2024-03-01."""
    match = re.fullmatch(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日", text.strip())
    assert match is not None, f"write dates as 2024年3月1日, not {text!r}"
    return date(*(int(part) for part in match.groups())).isoformat()


def yuan(text: str) -> str:
    """An amount as written in a scenario ("120,000.00") → as the API takes it ("120000.00")."""
    amount = text.replace(",", "").strip()
    assert re.fullmatch(r"[0-9]+\.[0-9]{2}", amount), f"write amounts with two decimals, not {text!r}"
    return amount


def category(name: str) -> str:
    assert name in CATEGORY_CODES, f"unknown 科目 {name!r}; one of {', '.join(CATEGORY_CODES)}"
    return CATEGORY_CODES[name]


def place_name(region: str) -> str:
    return re.split(r"[(（]", region, maxsplit=1)[0]


def _posted(ledger: Ledger, who: str, path: str, body: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    response = ledger.post(who, path, body)
    assert response.status_code == 201, (path, response.get_json())
    result: dict[str, Any] = response.get_json()
    if kind is not None:
        ledger.just_posted[kind] = result
    return result


@posting_step('{on}，"{who}"下达资金"{doc}"到"{region}"，金额"{amount}"元，用于{categories}')
def appropriate_on(ledger: Ledger, on: str, who: str, doc: str, region: str, amount: str, categories: str) -> None:
    year = int(day(on)[:4])
    body = t.appropriation(code_of(region), doc, yuan(amount), effective_on=day(on), fiscal_year=year,
                           allowed_categories=[category(c) for c in categories.split("、")],
                           valid_from=f"{year}-01-01", valid_to=f"{year}-12-31")
    ledger.funds[doc] = _posted(ledger, who, "/funds", body)["fund_id"]


@posting_step('{on}，"{who}"将资金"{doc}"中的"{amount}"元转下达到"{region}"，文号"{child}"')
def allocate_down_on(ledger: Ledger, on: str, who: str, doc: str, amount: str, region: str, child: str) -> None:
    body = t.allocation_to_fund(code_of(region), child, yuan(amount), effective_on=day(on))
    ledger.funds[child] = _posted(ledger, who, f"/funds/{ledger.funds[doc]}/allocations", body)["target_id"]


@posting_step('{on}，"{who}"在"{township}"登记项目"{code}"，项目期间{start}至{end}，预算科目如下:')
def register_on(ledger: Ledger, on: str, who: str, township: str, code: str, start: str, end: str,
                datatable: list[list[str]]) -> None:
    """The table lists 科目 | 金额."""
    place = place_name(township)
    body = t.registration(code=code, township=code_of(township), name=f"{place}社工站{day(start)[:4]}年度运营项目",
                          station_name=f"{place}社会工作服务站", period_start=day(start), period_end=day(end),
                          budget_lines={category(row[0]): yuan(row[1]) for row in datatable[1:]},
                          effective_on=day(on), provider_name=None, provider_uscc=None, monthly_plan=[],
                          output_targets=[])
    ledger.projects[code] = _posted(ledger, who, "/projects", body)["project_id"]
    ledger.registrations[code] = body


@posting_step('{on}，"{who}"从资金"{doc}"向项目"{code}"拨入"{amount}"元')
def allocate_to_project_on(ledger: Ledger, on: str, who: str, doc: str, code: str, amount: str) -> None:
    body = t.allocation_to_project(ledger.projects[code], yuan(amount), effective_on=day(on))
    _posted(ledger, who, f"/funds/{ledger.funds[doc]}/allocations", body)


@posting_step('{on}，"{who}"以(?P<method>' + "|".join(METHOD_CODES) + ')方式为项目"{code}"开启采购')
def open_procurement_on(ledger: Ledger, on: str, who: str, method: str, code: str) -> None:
    body = t.procurement(method=METHOD_CODES[method], effective_on=day(on),
                         subject=f"{ledger.registrations[code]['station_name']}运营服务")
    procurement = _posted(ledger, who, f"/projects/{ledger.projects[code]}/procurements", body)["procurement_id"]
    ledger.procurements[code] = ledger.procurements["current"] = procurement


@posting_step('{on}，"{who}"与承接机构"{provider}"签订项目"{code}"的服务合同"{contract_no}"，金额"{amount}"元，'
              "分期支付如下:")
def sign_contract_on(ledger: Ledger, on: str, who: str, provider: str, code: str, contract_no: str, amount: str,
                     datatable: list[list[str]]) -> None:
    """The table lists 期次 | 金额 | 支付条件 (签订合同, 中期评估合格, 结项评估合格)."""
    registration = ledger.registrations[code]
    installments = [{"no": int(row[0]), "amount": yuan(row[1]), "condition": CONDITION_CODES[row[2]]}
                    for row in datatable[1:]]
    body = {"step": "contract_signed", "effective_on": day(on),
            "details": {"contract_no": contract_no, "supplier_name": provider, "supplier_uscc": USCC_OF[provider],
                        "amount": yuan(amount), "term_start": registration["period_start"],
                        "term_end": registration["period_end"], "installments": installments}}
    _posted(ledger, who, f"/procurements/{ledger.procurements[code]}/steps", body)
    ledger.contracts[contract_no] = ledger.procurements[code]
    ledger.providers[code] = (provider, USCC_OF[provider])


@posting_step('{on}，"{who}"签订合同"{contract_no}"的补充协议"{amendment_no}"，合同金额增加"{amount}"元')
def amend_contract_on(ledger: Ledger, on: str, who: str, contract_no: str, amendment_no: str, amount: str) -> None:
    body = {"step": "contract_amended", "effective_on": day(on),
            "details": {"amendment_no": amendment_no, "amount_delta": yuan(amount), "reason": "增加服务内容"}}
    _posted(ledger, who, f"/procurements/{ledger.contracts[contract_no]}/steps", body)


@posting_step('{on}，"{who}"从资金"{doc}"向(?:承接机构|"{payee}")拨付项目"{code}"的(?:第(?P<installment>[0-9]+)期款)?'
              '"{amount}"元')
def disburse_on(ledger: Ledger, on: str, who: str, doc: str, payee: str | None, code: str, installment: str | None,
                amount: str) -> None:
    """To 承接机构: the provider the project contracted, named with its USCC; to "名称": that name only."""
    payee_name, payee_uscc = ledger.providers[code] if payee is None else (payee, None)
    body = t.disbursement(ledger.funds[doc], yuan(amount), effective_on=day(on), payee_name=payee_name,
                          payee_uscc=payee_uscc)
    if installment is not None:
        body.update(installment=int(installment), procurement_id=ledger.procurements[code])
    result = _posted(ledger, who, f"/projects/{ledger.projects[code]}/disbursements", body, kind="拨付")
    ledger.disbursements.setdefault(code, []).append(result["entry_id"])


@posting_step('{on}，"{who}"在项目"{code}"的"{line}"科目列支"{amount}"元(?:，资金来源"{doc}")?，'
              "付给(?P<kind>" + "|".join(sorted(PAYEE_KIND_CODES, key=len, reverse=True)) + ')"{payee}"'
              '(?:，发票"{invoice}")?')
def spend_on(ledger: Ledger, on: str, who: str, code: str, line: str, amount: str, doc: str | None, kind: str,
             payee: str, invoice: str | None) -> None:
    body = t.expenditure(yuan(amount), line=category(line), payee_name=payee, payee_kind=PAYEE_KIND_CODES[kind],
                         invoice_no=invoice, effective_on=day(on), description=None)
    if doc is not None:
        body["fund_id"] = ledger.funds[doc]
    result = _posted(ledger, who, f"/projects/{ledger.projects[code]}/expenditures", body, kind="支出")
    ledger.entries.setdefault(code, []).append(result["entry_id"])


@posting_step('{on}，"{who}"将项目"{code}"预算中"{source}"的"{amount}"元调整到"{target}"，'
              '(?:批准文号"{document}"|未经批准)')
def revise_on(ledger: Ledger, on: str, who: str, code: str, source: str, amount: str, target: str,
              document: str | None) -> None:
    body = {"moves": [{"from_line": category(source), "to_line": category(target), "amount": yuan(amount)}],
            "reason": "根据服务需求调整预算", "effective_on": day(on), "approval_document": document}
    _posted(ledger, who, f"/projects/{ledger.projects[code]}/budget-revisions", body, kind="预算调整")


@posting_step('{on}，"{who}"记录项目"{code}"的(?P<kind>自评|中期评估|结项评估)，总分"{total}"分')
def evaluate_on(ledger: Ledger, on: str, who: str, code: str, kind: str, total: str) -> None:
    """Weights 决策 20 / 过程 20 / 产出 30 / 效益 30; each dimension scores the same share of its weight."""
    scores = {d: (w * Decimal(total) / 100).quantize(Decimal("0.01")) for d, w in EVALUATION_WEIGHTS.items()}
    assert sum(scores.values()) == Decimal(total), f"{total} does not split evenly over the weights"
    body = {"kind": EVALUATION_KINDS[kind], "evaluator": "石家庄市社会工作评估中心", "effective_on": day(on),
            "weights": {d: str(w) for d, w in EVALUATION_WEIGHTS.items()},
            "scores": {d: str(s) for d, s in scores.items()}}
    result = _posted(ledger, who, f"/projects/{ledger.projects[code]}/evaluations", body)
    assert Decimal(result["total"]) == Decimal(total), result


@posting_step('{on}，"{who}"冲销项目"{code}"的上一笔(?P<kind>支出|拨付)，原因"{reason}"')
def reverse_on(ledger: Ledger, on: str, who: str, code: str, kind: str, reason: str) -> None:
    entries = ledger.entries if kind == "支出" else ledger.disbursements
    body = {"entry_id": entries[code][-1], "reason": reason, "effective_on": day(on)}
    _posted(ledger, who, f"/projects/{ledger.projects[code]}/reversals", body)


# -- what auditors find -------------------------------------------------------------------------------------------

def _findings(ledger: Ledger, who: str, **query: str) -> list[dict[str, Any]]:
    """Findings the reader sees once the views have applied everything posted so far (read-your-writes)."""
    response = ledger.people[who].get("/audit/findings",
                                      query={"min_position": str(t.log_position(ledger.app)), **query})
    assert response.status_code == 200, response.get_json()
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


def _reload_finding(ledger: Ledger) -> dict[str, Any]:
    assert ledger.finding is not None, "name a finding first (…查到项目…有一条…问题)"
    reader = ledger.people[ledger.finding_reader] if ledger.finding_reader else _reader(ledger)
    response = reader.get(f"/audit/findings/{ledger.finding['finding_id']}",
                          query={"min_position": str(t.log_position(ledger.app))})
    assert response.status_code == 200, response.get_json()
    ledger.finding = response.get_json()
    return ledger.finding


@then(pattern('"{who}"查到项目"{code}"有一条"(?P<rule>[A-Z]{3}-[0-9]{2}) (?P<title>[^"]+)"问题，严重程度"{severity}"'))
def one_finding(ledger: Ledger, who: str, code: str, rule: str, title: str, severity: str) -> None:
    found = _findings(ledger, who, project=ledger.projects[code], rule=rule)
    assert len(found) == 1, found
    [finding] = found
    assert (finding["rule"], finding["title"], finding["severity"]) == (rule, title, severity), finding
    assert finding["status"] == "open" and finding["rule_version"] >= 1, finding
    response = ledger.people[who].get(f"/audit/findings/{finding['finding_id']}")
    assert response.status_code == 200, response.get_json()
    ledger.finding, ledger.finding_reader = response.get_json(), who


@then(pattern('"{who}"查到项目"{code}"没有"(?P<rule>[A-Z]{3}-[0-9]{2})"问题'))
def no_finding_of_rule(ledger: Ledger, who: str, code: str, rule: str) -> None:
    found = _findings(ledger, who, project=ledger.projects[code], rule=rule)
    assert found == [], [(f["rule"], f["detail"]) for f in found]


@given(pattern('"{who}"查到项目"{code}"没有任何问题'))
@then(pattern('"{who}"查到项目"{code}"没有任何问题'))
def no_findings(ledger: Ledger, who: str, code: str) -> None:
    """No finding raised by what was posted; the time-based LAG findings, which depend on the evaluation date
    (today by default), are specified in their own scenarios with their dates, and the procurement (PRC) findings
    in features/procurement_rules.feature (these scenarios sign contracts without recording the procedure)."""
    found = [f for f in _findings(ledger, who, project=ledger.projects[code])
             if not f["rule"].startswith(("LAG-", "PRC-"))]
    assert found == [], [(f["rule"], f["detail"]) for f in found]


def _is_just_posted(ledger: Ledger, kind: str, event: dict[str, Any]) -> bool:
    posted, name = ledger.just_posted[kind], POSTING_IDS[kind]
    return bool(event["type"] == EVENT_TYPES[kind] and event["data"].get(name) == posted[name])


@then(pattern("证据是刚记的这笔(?P<kind>支出|拨付|预算调整)"))
def evidence_is_just_posted(ledger: Ledger, kind: str) -> None:
    assert ledger.finding is not None
    events = ledger.finding["evidence_events"]
    assert len(events) == len(ledger.finding["evidence"]) == 1, events
    assert _is_just_posted(ledger, kind, events[0]), (ledger.just_posted[kind], events[0])


@then("证据依次是:")
def evidence_in_order(ledger: Ledger, datatable: list[list[str]]) -> None:
    """The table lists 事件 | 业务日期 [| 金额]; 事件 is a kind of event, or 刚记的这笔支出 / 拨付 / 预算调整."""
    assert ledger.finding is not None
    events = ledger.finding["evidence_events"]
    header, rows = datatable[0], datatable[1:]
    assert len(events) == len(ledger.finding["evidence"]) == len(rows), events
    for row, event in zip(rows, events, strict=True):
        expected = dict(zip(header, row, strict=True))
        what = expected["事件"]
        if what.startswith("刚记的这笔"):
            assert _is_just_posted(ledger, what.removeprefix("刚记的这笔"), event), event
        else:
            assert event["type"] == EVENT_TYPES[what], (what, event)
        assert event["effective_on"] == day(expected["业务日期"]), (expected, event)
        if expected.get("金额", "").strip():
            assert event["data"]["amount"] == yuan(expected["金额"]), (expected, event)


@then(pattern('问题说明包含"{text}"'))
def detail_mentions(ledger: Ledger, text: str) -> None:
    assert ledger.finding is not None and text in ledger.finding["detail"], ledger.finding


@then(pattern('该问题记录了所用参数"{name}"为"{value}"'))
def parameter_used(ledger: Ledger, name: str, value: str) -> None:
    assert ledger.finding is not None
    assert str(ledger.finding["params"][PARAMETER_NAMES[name]]) == value, ledger.finding["params"]


# -- auditors' decisions ------------------------------------------------------------------------------------------

@when(pattern('{on}，"{who}"对该问题作出"(?P<decision>' + "|".join(DECISION_CODES) + ')"决定(?:，说明"{note}")?'))
def decide(ledger: Ledger, on: str, who: str, decision: str, note: str | None) -> None:
    """Not a posting of the books: whether it is accepted is what the scenario says next."""
    assert ledger.finding is not None
    ledger.post(who, f"/audit/findings/{ledger.finding['finding_id']}/decisions",
                {"decision": DECISION_CODES[decision], "note": note, "effective_on": day(on)})


@then(pattern('该问题的状态为"{status}"'))
def finding_status(ledger: Ledger, status: str) -> None:
    assert STATUS_NAMES[_reload_finding(ledger)["status"]] == status, ledger.finding


@then(pattern("该问题的处理记录依次是{decisions}"))
def decision_history(ledger: Ledger, decisions: str) -> None:
    names = {code: name for name, code in DECISION_CODES.items()}
    history = [names[d["decision"]] for d in _reload_finding(ledger)["decisions"]]
    assert history == re.findall(r'"([^"]+)"', decisions), history


@then(pattern("该问题已撤销，撤销日期为{on}"))
def finding_retracted(ledger: Ledger, on: str) -> None:
    finding = _reload_finding(ledger)
    assert (finding["status"], finding["retracted_on"]) == ("retracted", day(on)), finding


# == progress, coverage and performance (features/progress_lags.feature, coverage.feature, performance.feature) ====
#
# The time-based rules (LAG) are judged at an evaluation date the scenario names: an auditor "在2024年7月1日查看"
# a project, a fund or a region, and the steps that follow read what that one request answered (the finding's
# evaluation date is checked to be the one asked for). Months are written 2024年1月, percentages 50.00%.

INDICATOR_CODES = {name: code for code, name in OUTPUT_INDICATORS.items()}
DIMENSION_CODES = {"决策": "decision", "过程": "process", "产出": "output", "效益": "effect"}
MONTH_PATTERN = r"[0-9]{4}年[0-9]{1,2}月"


@dataclass
class Reading:
    """What one dated audit read answered: the evaluation date, the findings, the figure, the finding in focus."""

    on: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    figure: dict[str, Any] = field(default_factory=dict)
    finding: dict[str, Any] | None = None


@pytest.fixture
def reading() -> Reading:
    return Reading()


def month(text: str) -> str:
    """2024年1月 → 2024-01."""
    match = re.fullmatch(r"([0-9]{4})年([0-9]{1,2})月", text.strip())
    assert match is not None, f"write months as 2024年1月, not {text!r}"
    return f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"


def percent(value: Any) -> str:
    """A share as the API gives it (0.5 or "0.5000") → 50.00%."""
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.01'))}%"


def _register_staffed(ledger: Ledger, on: str, who: str, township: str, code: str, start: str, end: str,
                      amount: str, plan: list[dict[str, Any]], targets: list[dict[str, Any]]) -> None:
    place = place_name(township)
    body = t.registration(code=code, township=code_of(township), name=f"{place}社工站{day(start)[:4]}年度运营项目",
                          station_name=f"{place}社会工作服务站", period_start=day(start), period_end=day(end),
                          budget_lines={"staff": yuan(amount)}, effective_on=day(on), provider_name=None,
                          provider_uscc=None, monthly_plan=plan, output_targets=targets)
    ledger.projects[code] = _posted(ledger, who, "/projects", body)["project_id"]
    ledger.registrations[code] = body


@posting_step('{on}，"{who}"在"{township}"登记项目"{code}"，项目期间{start}至{end}，人员经费预算"{amount}"元')
def register_staffed_on(ledger: Ledger, on: str, who: str, township: str, code: str, start: str, end: str,
                        amount: str) -> None:
    _register_staffed(ledger, on, who, township, code, start, end, amount, [], [])


@posting_step('{on}，"{who}"在"{township}"登记项目"{code}"，项目期间{start}至{end}，人员经费预算"{amount}"元，'
              "月度分解计划和产出目标如下:")
def register_planned_on(ledger: Ledger, on: str, who: str, township: str, code: str, start: str, end: str,
                        amount: str, datatable: list[list[str]]) -> None:
    """The table lists 月份 | 累计计划支出 | then one column per output indicator (个案, 小组, …), cumulative
    targets; an empty cell means no plan or target for that month."""
    header, rows = datatable[0], datatable[1:]
    assert header[:2] == ["月份", "累计计划支出"], header
    plan, targets = [], []
    for row in rows:
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        key = month(cells["月份"])
        if cells["累计计划支出"]:
            plan.append({"month": key, "cumulative_amount": yuan(cells["累计计划支出"])})
        for name in header[2:]:
            if cells[name]:
                targets.append({"indicator": INDICATOR_CODES[name], "month": key,
                                "cumulative_target": int(cells[name])})
    _register_staffed(ledger, on, who, township, code, start, end, amount, plan, targets)


@posting_step('{on}，"{who}"报送项目"{code}"(?P<period>' + MONTH_PATTERN + ')的服务月报，{counts}')
def report_outputs_on(ledger: Ledger, on: str, who: str, code: str, period: str, counts: str) -> None:
    """Counts are written 个案"7"个、小组"2"个."""
    values = {INDICATOR_CODES[name]: int(n) for name, n in
              re.findall("(" + "|".join(map(re.escape, INDICATOR_CODES)) + r')"([0-9]+)"', counts)}
    assert values, f"write counts as 个案\"7\"个, not {counts!r}"
    body = {"month": month(period), "values": values, "effective_on": day(on)}
    _posted(ledger, who, f"/projects/{ledger.projects[code]}/outputs", body, kind="月报")


@posting_step('{on}，"{who}"将项目"{code}"的结余"{amount}"元退回资金"{doc}"')
def return_surplus_on(ledger: Ledger, on: str, who: str, code: str, amount: str, doc: str) -> None:
    body = {"source_id": ledger.projects[code], "amount": yuan(amount), "reason": "项目结项，结余资金退回",
            "effective_on": day(on)}
    _posted(ledger, who, f"/funds/{ledger.funds[doc]}/recoveries", body)


def _evaluation(on: str, kind: str, datatable: list[list[str]]) -> dict[str, Any]:
    """The table lists 维度 (决策 / 过程 / 产出 / 效益) | 权重 | 得分."""
    rows = [dict(zip(datatable[0], row, strict=True)) for row in datatable[1:]]
    return {"kind": EVALUATION_KINDS[kind], "evaluator": "石家庄市社会工作评估中心", "effective_on": day(on),
            "weights": {DIMENSION_CODES[r["维度"]]: r["权重"].strip() for r in rows},
            "scores": {DIMENSION_CODES[r["维度"]]: r["得分"].strip() for r in rows}}


@posting_step('{on}，"{who}"记录项目"{code}"的(?P<kind>自评|中期评估|结项评估)，指标权重和得分如下:')
def evaluate_weighted_on(ledger: Ledger, on: str, who: str, code: str, kind: str,
                         datatable: list[list[str]]) -> None:
    _posted(ledger, who, f"/projects/{ledger.projects[code]}/evaluations", _evaluation(on, kind, datatable))


@when(pattern('{on}，"{who}"提交项目"{code}"的(?P<kind>自评|中期评估|结项评估)，指标权重和得分如下:'))
def submit_evaluation_on(ledger: Ledger, on: str, who: str, code: str, kind: str,
                         datatable: list[list[str]]) -> None:
    """Not a posting of the books: whether it is accepted is what the scenario says next."""
    ledger.post(who, f"/projects/{ledger.projects[code]}/evaluations", _evaluation(on, kind, datatable))


@then(pattern('评估总分为"{total}"分，等级为"{rating}"'))
def evaluation_rated(ledger: Ledger, total: str, rating: str) -> None:
    answer = ledger.last.get_json()
    assert (Decimal(answer["total"]), answer["rating"]) == (Decimal(total), rating), answer


# -- dated reads --------------------------------------------------------------------------------------------------

def _dated_findings(ledger: Ledger, who: str, on: str, **query: str) -> list[dict[str, Any]]:
    return _findings(ledger, who, on=day(on), **query)


@when(pattern('"{who}"在{on}查看项目"{code}"的(?:进度|绩效)?问题'))
def read_project_findings(ledger: Ledger, reading: Reading, who: str, on: str, code: str) -> None:
    reading.on, reading.finding = day(on), None
    reading.items = _dated_findings(ledger, who, on, project=ledger.projects[code])


@when(pattern('"{who}"在{on}查看资金"{doc}"的进度问题'))
def read_fund_findings(ledger: Ledger, reading: Reading, who: str, on: str, doc: str) -> None:
    fund_id = ledger.funds[doc]
    region = ledger.people[who].get(f"/funds/{fund_id}").get_json()["holder_region"]
    reading.on, reading.finding = day(on), None
    reading.items = [f for f in _dated_findings(ledger, who, on, region=region)
                     if f["subject_kind"] == "fund" and f["subject_id"] == fund_id]


@when(pattern('"{who}"查看"{region}"在{on}的社工站覆盖率(?P<wide>（含功能区和政企合一单位）)?'))
def read_coverage(ledger: Ledger, reading: Reading, who: str, region: str, on: str, wide: str | None) -> None:
    query = {"region": code_of(region), "on": day(on), "min_position": str(t.log_position(ledger.app))}
    if wide:
        query.update(include_functional_zones="true", include_enterprise_units="true")
    response = ledger.people[who].get("/audit/coverage", query=query)
    assert response.status_code == 200, response.get_json()
    reading.on, reading.finding, reading.figure = day(on), None, response.get_json()
    assert reading.figure["on"] == reading.on, reading.figure
    reading.items = [reading.figure["finding"]] if reading.figure["finding"] else []


def _matching(reading: Reading, rule: str, text: str | None) -> list[dict[str, Any]]:
    return [f for f in reading.items if f["rule"] == rule and (text is None or text in f["detail"])]


@then(pattern('有一条"(?P<rule>[A-Z]{3}-[0-9]{2}) (?P<title>[^"]+)"问题，严重程度"{severity}"'
              '(?:，说明包含"{text}")?'))
def one_dated_finding(reading: Reading, rule: str, title: str, severity: str, text: str | None) -> None:
    found = _matching(reading, rule, text)
    assert len(found) == 1, [(f["rule"], f["severity"], f["detail"]) for f in reading.items]
    [finding] = found
    assert (finding["rule"], finding["title"], finding["severity"]) == (rule, title, severity), finding
    if rule.startswith("LAG-"):  # time-based: judged on the date asked for
        assert str(finding.get("evaluated_on", finding["effective_on"])) == reading.on, finding
    reading.finding = finding


@then(pattern('没有"(?P<rule>[A-Z]{3}-[0-9]{2})"问题'))
def no_dated_finding(reading: Reading, rule: str) -> None:
    found = _matching(reading, rule, None)
    assert found == [], [(f["rule"], f["severity"], f["detail"]) for f in found]


@then(pattern('没有说明包含"{text}"的"(?P<rule>[A-Z]{3}-[0-9]{2})"问题'))
def no_dated_finding_saying(reading: Reading, text: str, rule: str) -> None:
    found = _matching(reading, rule, text)
    assert found == [], [(f["rule"], f["severity"], f["detail"]) for f in found]


@then(pattern("该问题首次发现于{on}"))
def first_seen_on(reading: Reading, on: str) -> None:
    assert reading.finding is not None, "name a finding first (有一条…问题)"
    assert reading.finding["first_seen"] == day(on), reading.finding


@then(pattern('该问题的说明包含"{text}"'))
def dated_detail_mentions(reading: Reading, text: str) -> None:
    assert reading.finding is not None and text in reading.finding["detail"], reading.finding


@then(pattern('"{who}"查到项目"{code}"在{on}的序时进度为"{time}"，支出进度为"{spending}"'))
def progress_on(ledger: Ledger, who: str, code: str, on: str, time: str, spending: str) -> None:
    response = ledger.people[who].get("/audit/progress", query={
        "project": ledger.projects[code], "on": day(on), "min_position": str(t.log_position(ledger.app))})
    assert response.status_code == 200, response.get_json()
    [item] = response.get_json()["items"]
    assert (percent(item["time_progress"]), percent(item["spending_progress"])) == (time, spending), item


@then(pattern('覆盖率的分母为"{units}"个乡级单位，口径为"{denominator}"'))
def coverage_denominator(reading: Reading, units: str, denominator: str) -> None:
    figure = reading.figure
    assert (figure["township_units"], figure["denominator"]) == (int(units), denominator), figure


@then(pattern('运营中的社工站为"{operating}"个，覆盖率为"{share}"，计划进度为"{planned}"'))
def coverage_figure(reading: Reading, operating: str, share: str, planned: str) -> None:
    figure = reading.figure
    assert figure["operating"] == int(operating), figure
    assert percent(figure["coverage"]) == share, figure
    assert percent(figure["target"]["planned_on_date"]) == planned, figure["target"]


@then(pattern("覆盖率(?P<behind>落后|不落后)于计划"))
def coverage_behind(reading: Reading, behind: str) -> None:
    assert reading.figure["behind_plan"] is (behind == "落后"), reading.figure


@posting_step('{on}，"{who}"将项目"{code}"结项，原因"{reason}"')
def close_project_on(ledger: Ledger, on: str, who: str, code: str, reason: str) -> None:
    _posted(ledger, who, f"/projects/{ledger.projects[code]}/closure", {"reason": reason, "effective_on": day(on)})
