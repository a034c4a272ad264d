"""The bad-input catalogue: each case is answered 4xx with a problem+json body, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from flask import Flask

from api import testing as t
from api.testing import assert_problem

P = "/projects/{project}"
EXP = P + "/expenditures"
STEPS = "/procurements/{procurement}/steps"


class Case(NamedTuple):
    path: str  # formatted with the world's ids
    body: Callable[[Any], Any] | None  # world -> JSON body (None when raw is given)
    status: int
    field: str | None = None  # a key expected in errors
    raw: bytes | None = None
    content_type: str = "application/json"
    method: str = "POST"
    query: dict[str, Any] | None = None
    key: str | None = None


def exp(**changes: Any) -> Callable[[Any], dict[str, Any]]:
    return lambda w: {**t.expenditure(), **changes}


def exp_without(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda w: {k: v for k, v in t.expenditure().items() if k != name}


def fund(**changes: Any) -> Callable[[Any], dict[str, Any]]:
    return lambda w: {**t.appropriation(document_no="BAD-1"), **changes}


def project(**changes: Any) -> Callable[[Any], dict[str, Any]]:
    return lambda w: {**t.registration(code="BAD-P"), **changes}


def step(name: str, effective_on: str = "2024-03-02", **details: Any) -> Callable[[Any], dict[str, Any]]:
    return lambda w: {"step": name, "effective_on": effective_on, "details": details}


def signed(**changes: Any) -> Callable[[Any], dict[str, Any]]:
    def body(w: Any) -> dict[str, Any]:
        b = t.contract("HT-BAD")
        b["details"] = {**b["details"], **changes}
        return b

    return body


def evaluation(weights: dict[str, str], scores: dict[str, str]) -> Callable[[Any], dict[str, Any]]:
    return lambda w: {"kind": "self", "evaluator": "自评小组", "weights": weights, "scores": scores,
                      "effective_on": "2024-09-01"}


W = {"decision": "20.00", "process": "30.00", "output": "30.00", "effect": "20.00"}
BIG_BODY = json.dumps({**t.expenditure(), "description": "长" * 400_000}).encode()

CASES = [
    # amounts
    pytest.param(Case(EXP, exp(amount="10.005"), 422, "amount"), id="amount-three-decimals"),
    pytest.param(Case(EXP, exp(amount="-5.00"), 422, "amount"), id="amount-negative"),
    pytest.param(Case(EXP, exp(amount="0.00"), 422, "amount"), id="amount-zero"),
    pytest.param(Case(EXP, exp(amount="10000000000000.00"), 422, "amount"), id="amount-ten-to-the-13"),
    pytest.param(Case(EXP, exp(amount="NaN"), 422, "amount"), id="amount-nan-string"),
    pytest.param(Case(EXP, exp(amount="Infinity"), 422, "amount"), id="amount-infinity-string"),
    pytest.param(Case(EXP, exp(amount="-Infinity"), 422, "amount"), id="amount-minus-infinity-string"),
    pytest.param(Case(EXP, exp(amount="1e3"), 422, "amount"), id="amount-exponent"),
    pytest.param(Case(EXP, exp(amount=10.5), 422, "amount"), id="amount-json-number"),
    pytest.param(Case(EXP, exp(amount=100), 422, "amount"), id="amount-json-integer"),
    pytest.param(Case(EXP, exp(amount=True), 422, "amount"), id="amount-boolean"),
    pytest.param(Case(EXP, exp(amount=" 10.00"), 422, "amount"), id="amount-leading-space"),
    pytest.param(Case(EXP, exp(amount="1,000.00"), 422, "amount"), id="amount-thousands-separator"),
    pytest.param(Case(EXP, exp(amount="１０.００"), 422, "amount"), id="amount-fullwidth-digits"),
    pytest.param(Case(EXP, None, 400, raw=b'{"line":"activities","amount":NaN}'), id="json-nan-literal"),
    pytest.param(Case(EXP, None, 400, raw=b'{"line":"activities","amount":Infinity}'), id="json-infinity-literal"),
    pytest.param(Case(STEPS, step("contract_amended", amendment_no="BG-0", amount_delta="0.00", reason="无"), 422,
                      "details.amount_delta"), id="amount-delta-zero"),
    # dates and timestamps
    pytest.param(Case(EXP, exp(effective_on="2024-02-30"), 422, "effective_on"), id="date-february-30"),
    pytest.param(Case(EXP, exp(effective_on="2024-13-01"), 422, "effective_on"), id="date-month-13"),
    pytest.param(Case(EXP, exp(effective_on="2024/03/01"), 422, "effective_on"), id="date-slashes"),
    pytest.param(Case(EXP, exp(effective_on="20240301"), 422, "effective_on"), id="date-compact-iso"),
    pytest.param(Case(EXP, exp(effective_on="2024-03-01T00:00:00+08:00"), 422, "effective_on"),
                 id="date-given-as-timestamp"),
    pytest.param(Case(STEPS, step("announced", announced_at="2024-02-02T09:00:00",
                                  submission_deadline="2024-02-22T09:00:00+08:00"), 422, "details.announced_at"),
                 id="timestamp-naive"),
    pytest.param(Case(STEPS, step("announced", announced_at="yesterday",
                                  submission_deadline="2024-02-22T09:00:00+08:00"), 422, "details.announced_at"),
                 id="timestamp-garbage"),
    pytest.param(Case(STEPS, step("announced", announced_at="2024-02-30T09:00:00+08:00",
                                  submission_deadline="2024-03-22T09:00:00+08:00"), 422, "details.announced_at"),
                 id="timestamp-impossible-date"),
    pytest.param(Case(P, None, 422, "query.as_of", method="GET", query={"as_of": "2024-03-01T00:00:00"}),
                 id="as-of-naive"),
    pytest.param(Case("/projects", project(period_start="2024-03-01", period_end="2024-02-28"), 422, "period_end"),
                 id="period-ends-before-it-starts"),
    # regions and USCCs
    pytest.param(Case("/funds", fund(holder_region="999999"), 422, "holder_region"), id="region-unknown"),
    pytest.param(Case("/funds", fund(holder_region="13010"), 422, "holder_region"), id="region-five-digits"),
    pytest.param(Case("/funds", fund(holder_region="130102001"), 422, "holder_region"), id="region-fund-at-township"),
    pytest.param(Case("/projects", project(township_code="130102"), 422, "township_code"),
                 id="region-project-at-county"),
    pytest.param(Case("/funds", fund(holder_region="130000' OR '1'='1"), 422, "holder_region"), id="region-sql"),
    pytest.param(Case(EXP, exp(payee_uscc="91110000600037341M"), 422, "payee_uscc"), id="uscc-bad-check-character"),
    pytest.param(Case(EXP, exp(payee_uscc="9111000060003734"), 422, "payee_uscc"), id="uscc-too-short"),
    pytest.param(Case(EXP, exp(payee_uscc="911100006000373I1L"), 422, "payee_uscc"), id="uscc-forbidden-letter"),
    # shape: unknown, missing, wrong types, enumerations
    pytest.param(Case(EXP, exp(colour="red"), 422, "colour"), id="unknown-field"),
    pytest.param(Case(STEPS, signed(bonus="1.00"), 422, "details.bonus"), id="unknown-nested-field"),
    pytest.param(Case(EXP, exp_without("amount"), 422, "amount"), id="missing-amount"),
    pytest.param(Case(EXP, lambda w: {}, 422, "line"), id="empty-object"),
    pytest.param(Case(EXP, lambda w: [t.expenditure()], 422, "_request"), id="body-is-an-array"),
    pytest.param(Case(EXP, lambda w: "hello", 422, "_request"), id="body-is-a-string"),
    pytest.param(Case("/funds", fund(fiscal_year="2024"), 422, "fiscal_year"), id="integer-as-string"),
    pytest.param(Case("/funds", fund(fiscal_year=2024.5), 422, "fiscal_year"), id="integer-as-float"),
    pytest.param(Case("/funds", fund(service_domains="elderly_care"), 422, "service_domains"),
                 id="list-given-as-string"),
    pytest.param(Case("/funds", fund(service_domains=["elderly_care", "elderly_care"]), 422, "service_domains"),
                 id="list-with-duplicates"),
    pytest.param(Case(EXP, exp(payee_name=None), 422, "payee_name"), id="required-field-null"),
    pytest.param(Case(EXP, exp(payee_kind="friend"), 422, "payee_kind"), id="enum-unknown-payee-kind"),
    pytest.param(Case(EXP, exp(line="banquet"), 422, "line"), id="enum-unknown-category"),
    pytest.param(Case(STEPS, step("bribed"), 422, "step"), id="enum-unknown-step"),
    pytest.param(Case("/projects", project(budget_lines={}), 422, "budget_lines"), id="budget-lines-empty"),
    pytest.param(Case("/projects", project(budget_lines={"yacht": "1.00"}), 422, "budget_lines"),
                 id="budget-line-unknown-category"),
    pytest.param(Case("/funds/{county_fund}/allocations", lambda w: {"target_kind": "fund", "amount": "1.00",
                                                                     "effective_on": "2024-03-01"},
                      422, "child_region"), id="allocation-to-fund-without-region"),
    pytest.param(Case("/funds/{county_fund}/allocations", lambda w: t.allocation_to_project("abc", "1.00"), 422,
                      "project_id"), id="id-not-a-uuid"),
    pytest.param(Case(STEPS, signed(installments=[{"no": 1, "amount": "1.00", "condition": "signing"}]), 422,
                      "details.installments"), id="installments-not-adding-up"),
    pytest.param(Case(P + "/evaluations", evaluation(W, {**W, "decision": "20.50"}), 422, "scores"),
                 id="score-over-its-weight"),
    pytest.param(Case(P + "/evaluations", evaluation({**W, "effect": "25.00"}, W), 422, "weights"),
                 id="weights-not-adding-to-100"),
    pytest.param(Case(P + "/outputs", lambda w: {"month": "2024-03", "values": {"cases": -1},
                                                 "effective_on": "2024-04-01"}, 422, "values"),
                 id="output-count-negative"),
    pytest.param(Case(P + "/outputs", lambda w: {"month": "2024-3", "values": {"cases": 1},
                                                 "effective_on": "2024-04-01"}, 422, "month"),
                 id="month-without-leading-zero"),
    # injection and odd text
    pytest.param(Case("/projects", project(code="P1'; DROP TABLE ledger_events;--"), 422, "code"),
                 id="sql-in-project-code"),
    pytest.param(Case("/funds", fund(document_no="<script>alert(1)</script>"), 422, "document_no"),
                 id="script-in-document-number"),
    pytest.param(Case(EXP, exp(invoice_no="1 UNION SELECT * FROM pg_user"), 422, "invoice_no"),
                 id="sql-union-in-invoice-number"),
    pytest.param(Case("/projects/1;DROP TABLE x/expenditures", exp(), 404), id="sql-in-path"),
    pytest.param(Case("/projects/<script>/expenditures", exp(), 404), id="script-in-path"),
    pytest.param(Case("/projects", project(name="社" * 201), 422, "name"), id="very-long-name"),
    pytest.param(Case("/funds", fund(purpose="款" * 1001), 422, "purpose"), id="very-long-purpose"),
    pytest.param(Case(EXP, exp(payee_name="a\u0000b"), 422, "payee_name"), id="nul-character"),
    pytest.param(Case(EXP, exp(payee_name="\u202egnp.exe"), 422, "payee_name"), id="right-to-left-override"),
    pytest.param(Case(EXP, exp(payee_name="\ufeff长安区"), 422, "payee_name"), id="byte-order-mark"),
    pytest.param(Case(EXP, exp(payee_name="供应商\ue000"), 422, "payee_name"), id="private-use-character"),
    pytest.param(Case(EXP, None, 422, "payee_name",
                      raw=json.dumps({**t.expenditure(), "payee_name": "X"}).replace('"X"', '"\\ud800"').encode()),
                 id="lone-surrogate"),
    pytest.param(Case(EXP, exp(payee_name="   "), 422, "payee_name"), id="blank-text"),
    # transport
    pytest.param(Case(EXP, None, 415, raw=b"line=activities", content_type="application/x-www-form-urlencoded"),
                 id="form-encoded-body"),
    pytest.param(Case(EXP, None, 415, raw=b"hello", content_type="text/plain"), id="text-body"),
    pytest.param(Case(EXP, None, 400, raw=b'{"line": "activities",'), id="truncated-json"),
    pytest.param(Case(EXP, None, 400, raw=b'{"amount": "1.00", "amount": "2.00"}'), id="duplicate-json-keys"),
    pytest.param(Case(EXP, None, 400, raw=b'{"payee_name": "\xff\xfe"}'), id="invalid-utf8"),
    pytest.param(Case(EXP, None, 413, raw=BIG_BODY), id="body-over-1-mib"),
    pytest.param(Case(EXP, exp(), 400, key="x" * 201), id="idempotency-key-too-long"),
    pytest.param(Case(EXP, exp(), 400, key="键"), id="idempotency-key-not-ascii"),
    # queries
    pytest.param(Case(P + "/events", None, 422, "query.limit", method="GET", query={"limit": 501}),
                 id="limit-over-500"),
    pytest.param(Case(P, None, 422, "query.version", method="GET", query={"version": 0}), id="version-zero"),
    pytest.param(Case(P, None, 422, "query.colour", method="GET", query={"colour": "red"}), id="unknown-query"),
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_with_a_problem_and_nothing_written(case: Case, people, world, api: Flask) -> None:
    ids = {"project": world.project, "procurement": world.procurement, "county_fund": world.county_fund}
    path = case.path.format(**ids)
    before = t.log_position(api)
    if case.method == "GET":
        response = people.hebei.get(path, query=case.query)
    else:
        body = None if case.body is None else case.body(world)
        response = people.hebei.post(path, body, raw=case.raw, content_type=case.content_type, key=case.key)
    problem = assert_problem(response, case.status)
    if case.field is not None:
        assert any(name == case.field or name.startswith(case.field + ".") for name in problem["errors"]), problem
    assert t.log_position(api) == before


def test_the_catalogue_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    print(f"bad-input catalogue: {len(CASES)} cases")
