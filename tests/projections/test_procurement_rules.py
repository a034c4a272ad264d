"""The procurement rules (PRC-01 … PRC-13) over real Procurement events, folded by ``fold_procurements``.

Each rule has a scenario that fires and a boundary scenario that does not. Events are posted through an in-memory
``LedgerApplication`` and read back from its notification log, as the projection will read them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from projection_builders import OFFICER, OTHER_ORG, OTHER_ORG_USCC, PROVIDER, PROVIDER_USCC, SUPPLIER, SUPPLIER_USCC

from ledger.application import LedgerApplication
from projections.procurement_state import ProcurementState, fold_procurements
from projections.rules import REGISTRY, Finding
from projections.rules.procurement import (
    PRC_DEFAULTS,
    PRC_RULES,
    CalendarNotCoveredError,
    ProcurementContext,
    evaluate,
    period_end,
    working_days,
)

CST = timezone(timedelta(hours=8))
ON = date(2023, 12, 31)
BIG_BUDGET = {"staff": "5000000.00", "activities": "50000.00"}


def at(y: int, m: int, d: int, h: int = 9, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=CST)


BIDS = [(PROVIDER, PROVIDER_USCC, "180000.00", at(2023, 3, 20)), (OTHER_ORG, OTHER_ORG_USCC, "175000.00",
                                                                    at(2023, 3, 21))]
EVALUATION = {"committee_size": 5, "expert_count": 4}
_UNSET: Any = object()


class Scenario:
    """One project with a fund; ``process`` posts a whole contracting process, each step overridable or skipped."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app
        self.n = 0
        fund = app.appropriate_fund(
            OFFICER, holder_region="130000", fiscal_year=2023, document_no="财社〔2023〕1号", source_level="central",
            purpose="乡镇（街道）社工站建设", allowed_categories=["staff", "activities"],
            service_domains=["elderly_care"], valid_from=date(2023, 1, 1), valid_to=date(2023, 12, 31),
            amount="9000000.00", effective_on=date(2023, 1, 1))
        self.fund = UUID(str(fund["fund_id"]))
        project = app.register_project(
            OFFICER, code="P-001", name="社工站运营", township_code="130102001", station_name="社会工作服务站",
            service_domains=["elderly_care"], period_start=date(2023, 1, 1), period_end=date(2026, 12, 31),
            budget_lines=dict(BIG_BUDGET), effective_on=date(2023, 1, 1), provider_name=PROVIDER,
            provider_uscc=PROVIDER_USCC, monthly_plan=[], output_targets=[])
        self.project = UUID(str(project["project_id"]))
        app.allocate_funds(OFFICER, self.fund, target_kind="project", project_id=self.project, amount="5000000.00",
                           effective_on=date(2023, 1, 2))

    def step(self, pid: UUID, step: str, on: date, **details: Any) -> None:
        self.app.record_procurement_step(OFFICER, pid, step=step, effective_on=on, details=details)

    def process(self, *, method: str = "open_tender", justification: str | None = None,
                plan: date | None = date(2023, 3, 2), announced: datetime | None = at(2023, 3, 3),
                deadline: datetime = at(2023, 3, 24), bids: list[tuple[str, str, str, datetime]] | None = _UNSET,
                evaluation: dict[str, Any] | None = _UNSET, evaluated: date = date(2023, 3, 24),
                winner: tuple[str, str] = (PROVIDER, PROVIDER_USCC), awarded: date | None = date(2023, 3, 27),
                award_published: date | None = date(2023, 3, 28), amount: str = "180000.00",
                signed: date | None = date(2023, 4, 3), term: tuple[date, date] | None = None,
                term_justification: str | None = None, contract_published: date | None = date(2023, 4, 4),
                amendments: list[tuple[str, date]] | None = None, disbursed: date | None = date(2023, 4, 10),
                cancelled: date | None = None, category: str = "staff") -> UUID:
        self.n += 1
        pid = UUID(str(self.app.open_procurement(
            OFFICER, self.project, method=method, subject="社工站运营服务", category=category,
            effective_on=date(2023, 3, 1), single_source_justification=justification)["procurement_id"]))
        if plan:
            self.step(pid, "plan_approved", plan, document_no=f"采购计划-{self.n}")
        if announced:
            self.step(pid, "announced", announced.date(), announced_at=announced, submission_deadline=deadline)
        bids = (BIDS if method != "single_source" else []) if bids is _UNSET else bids or []
        for name, uscc, price, received in bids:
            self.step(pid, "bid_received", received.astimezone(CST).date(), bidder_name=name, bidder_uscc=uscc,
                      price=price, received_at=received)
        evaluation = (EVALUATION if bids else None) if evaluation is _UNSET else evaluation
        if evaluation is not None:
            details = {"scores": {b[1]: "80" for b in bids}, "qualified": [b[1] for b in bids], **evaluation}
            self.step(pid, "bids_evaluated", evaluated, **details)
        if cancelled:
            self.step(pid, "cancelled", cancelled, reason="有效供应商不足，重新组织采购")
            return pid
        if awarded:
            self.step(pid, "awarded", awarded, supplier_name=winner[0], supplier_uscc=winner[1], amount=amount)
        if award_published:
            self.step(pid, "award_published", award_published)
        if signed:
            start, end = term or (signed, signed + timedelta(days=300))
            self.step(pid, "contract_signed", signed, contract_no=f"HT-{self.n:04d}", supplier_name=winner[0],
                      supplier_uscc=winner[1], amount=amount, term_start=start, term_end=end,
                      term_justification=term_justification,
                      installments=[{"no": 1, "amount": amount, "condition": "signing"}])
            if contract_published:
                self.step(pid, "contract_published", contract_published)
            for i, (delta, on) in enumerate(amendments or []):
                self.step(pid, "contract_amended", on, amendment_no=f"BC-{self.n}-{i}", amount_delta=delta,
                          reason="服务量增加")
            if disbursed:
                self.app.disburse(OFFICER, self.project, fund_id=self.fund, amount="1000.00", payee_name=winner[0],
                                  payee_uscc=winner[1], installment=1, procurement_id=pid, effective_on=disbursed)
        return pid

    def states(self, on: date | None = None) -> dict[str, ProcurementState]:
        log = self.app.recorder.select_notifications(start=None, limit=10**9)
        return fold_procurements(((n.topic, self.app.mapper.to_domain_event(n), n.id) for n in log), on=on)

    def findings(self, on: date | None = ON, params: dict[str, dict[str, Any]] | None = None) -> list[Finding]:
        states = self.states()

        def lookup(code: str) -> dict[str, Any]:
            return {**PRC_DEFAULTS.get(code, {}), **(params or {}).get(code, {})}

        return [f for s in states.values() for f in evaluate(ProcurementContext(
            s, params=lookup, on=on, others=[o for o in states.values() if o.region == s.region and o.id != s.id]))]


@pytest.fixture
def sc(memory_app: LedgerApplication) -> Scenario:
    return Scenario(memory_app)


def codes(found: list[Finding], rule: str | None = None) -> list[tuple[str, str]]:
    return sorted((f.rule, f.severity) for f in found if rule is None or f.rule == rule)


def test_all_thirteen_rules_are_registered() -> None:
    assert tuple(f"PRC-{n:02d}" for n in range(1, 14)) == PRC_RULES
    assert all(REGISTRY[c].code == c and REGISTRY[c].version >= 1 for c in PRC_RULES)


def test_a_clean_process_has_no_findings(sc: Scenario) -> None:
    sc.process()
    assert sc.findings() == []


def test_fold_keeps_steps_refs_and_evaluation_date(sc: Scenario) -> None:
    pid = str(sc.process(amendments=[("1000.00", date(2023, 6, 1))]))
    state = sc.states()[pid]
    assert [s["step"] for s in state.steps] == ["plan_approved", "announced", "bid_received", "bid_received",
                                                "bids_evaluated", "awarded", "award_published", "contract_signed",
                                                "contract_published", "contract_amended"]
    assert all(s["ref"]["event_id"].startswith(pid) and s["ref"]["position"] > 0 for s in state.steps)
    assert state.contract["amount"] == Decimal("181000.00") and state.contract["signed_amount"] == Decimal("180000.00")
    assert [d["effective_on"] for d in state.disbursements] == [date(2023, 4, 10)]
    early = sc.states(on=date(2023, 3, 27))[pid]
    assert early.award is not None and early.award_publication is None and early.contract is None


def test_findings_carry_code_version_severity_params_and_evidence(sc: Scenario) -> None:
    sc.process(signed=date(2023, 4, 27), contract_published=date(2023, 4, 27), disbursed=date(2023, 5, 4))
    [found] = sc.findings()
    assert (found.rule, found.version, found.severity, found.subject_kind) == ("PRC-08", 1, "S3", "procurement")
    assert found.params == {"days": 30}
    assert [r["type"] for r in found.evidence] == ["Awarded", "ContractSigned"]
    assert all(r["position"] > 0 for r in found.evidence)


# -- PRC-01 steps out of order ------------------------------------------------------------------------------------


def test_prc01_disbursement_before_contract_publication_fires(sc: Scenario) -> None:
    sc.process(contract_published=date(2023, 4, 12), disbursed=date(2023, 4, 11))
    found = [f for f in sc.findings() if f.rule == "PRC-01"]
    assert [(f.severity, f.key) for f in found] == [("S1", "step:disbursed")]
    assert [r["type"] for r in found[0].evidence] == ["ContractPublished", "Disbursed"]


def test_prc01_steps_on_the_same_day_are_in_order(sc: Scenario) -> None:
    sc.process(contract_published=date(2023, 4, 10), disbursed=date(2023, 4, 10))
    assert codes(sc.findings(), "PRC-01") == []


def test_prc01_bid_before_announcement_fires(sc: Scenario) -> None:
    sc.process(announced=at(2023, 3, 3), bids=[(PROVIDER, PROVIDER_USCC, "180000.00", at(2023, 3, 2)),
                                               (OTHER_ORG, OTHER_ORG_USCC, "175000.00", at(2023, 3, 21))])
    assert [f.key for f in sc.findings() if f.rule == "PRC-01"] == ["step:bid_received"]


def test_prc01_single_source_skips_the_bid_steps(sc: Scenario) -> None:
    sc.process(method="single_source", justification="unique_supplier", announced=None)
    assert sc.findings() == []


# -- PRC-02 contract before award ---------------------------------------------------------------------------------


def test_prc02_contract_signed_before_award_fires(sc: Scenario) -> None:
    sc.process(awarded=date(2023, 4, 5), award_published=date(2023, 4, 6), signed=date(2023, 4, 3),
               contract_published=date(2023, 4, 7), disbursed=None)
    assert codes(sc.findings(), "PRC-02") == [("PRC-02", "S1")]


def test_prc02_contract_without_any_award_fires(sc: Scenario) -> None:
    sc.process(awarded=None, award_published=None)
    assert codes(sc.findings(), "PRC-02") == [("PRC-02", "S1")]


def test_prc02_signed_on_the_award_day_does_not_fire(sc: Scenario) -> None:
    sc.process(awarded=date(2023, 3, 27), award_published=date(2023, 3, 27), signed=date(2023, 3, 27),
               contract_published=date(2023, 3, 28))
    assert sc.findings() == []


# -- PRC-03 single qualified supplier -----------------------------------------------------------------------------


def test_prc03_consultation_with_one_qualified_supplier_is_s1(sc: Scenario) -> None:
    sc.process(method="competitive_consultation", evaluation={**EVALUATION, "qualified": [PROVIDER_USCC]})
    assert codes(sc.findings(), "PRC-03") == [("PRC-03", "S1")]


def test_prc03_consultation_with_two_qualified_suppliers_may_proceed(sc: Scenario) -> None:
    sc.process(method="competitive_consultation")
    assert codes(sc.findings(), "PRC-03") == []


def test_prc03_open_tender_with_one_bidder_is_s3(sc: Scenario) -> None:
    sc.process(bids=[BIDS[0]])
    assert codes(sc.findings(), "PRC-03") == [("PRC-03", "S3")]


def test_prc03_open_tender_with_one_qualified_of_two_bidders_does_not_fire(sc: Scenario) -> None:
    sc.process(evaluation={**EVALUATION, "qualified": [PROVIDER_USCC]})
    assert codes(sc.findings(), "PRC-03") == []


# -- PRC-04 short submission period -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "deadline", "fires"), [
    ("open_tender", at(2023, 3, 23, 9, 0, 0), False),  # exactly 20 whole days
    ("open_tender", at(2023, 3, 23, 8, 59, 59), True),  # 19 days 23:59:59
    ("competitive_consultation", at(2023, 3, 13, 9, 0, 0), False),  # exactly 10 days
    ("competitive_consultation", at(2023, 3, 13, 8, 59, 59), True),
    ("other", at(2023, 3, 18, 9, 0, 0), False),  # exactly 15 days
    ("other", at(2023, 3, 18, 8, 59, 59), True),
])
def test_prc04_whole_days(sc: Scenario, method: str, deadline: datetime, fires: bool) -> None:
    sc.process(method=method, announced=at(2023, 3, 3), deadline=deadline, bids=[], evaluation=None,
               awarded=None, signed=None, award_published=None)
    assert codes(sc.findings(), "PRC-04") == ([("PRC-04", "S2")] if fires else [])


def test_prc04_whole_days_are_counted_in_absolute_time(sc: Scenario) -> None:
    # announced 2023-03-03 09:00 +08:00 = 01:00 UTC; a deadline given in UTC exactly 20 days later is enough
    sc.process(announced=at(2023, 3, 3), deadline=datetime(2023, 3, 23, 1, 0, tzinfo=UTC), bids=[],
               evaluation=None, awarded=None, signed=None, award_published=None)
    assert codes(sc.findings(), "PRC-04") == []


@pytest.mark.parametrize(("method", "deadline", "fires"), [
    # Spring Festival 2023: 01-21 … 01-27 off, Sat 01-28 and Sun 01-29 are make-up workdays (调休)
    ("competitive_negotiation", at(2023, 1, 30, 17), False),  # 28, 29, 30: three working days
    ("competitive_negotiation", at(2023, 1, 29, 17), True),  # 28, 29: two
    ("request_for_quotation", at(2023, 1, 30, 17), False),
    ("request_for_quotation", at(2023, 1, 29, 23, 59, 59), True),
])
def test_prc04_working_days_across_a_make_up_workday(sc: Scenario, method: str, deadline: datetime,
                                                     fires: bool) -> None:
    sc.process(method=method, plan=None, announced=at(2023, 1, 27, 9), deadline=deadline, bids=[], evaluation=None,
               awarded=None, signed=None, award_published=None)
    assert codes(sc.findings(), "PRC-04") == ([("PRC-04", "S2")] if fires else [])


# -- PRC-05 award without evaluation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("evaluation", "fires"), [
    ({"committee_size": 5, "expert_count": 4}, False),
    ({"committee_size": 9, "expert_count": 6}, False),  # exactly two thirds
    ({"committee_size": 7, "expert_count": 5}, False),
    ({"committee_size": 4, "expert_count": 4}, True),  # fewer than 5 (and even)
    ({"committee_size": 6, "expert_count": 6}, True),  # even
    ({"committee_size": 5, "expert_count": 3}, True),  # 3 < 10/3
    ({"committee_size": 9, "expert_count": 5}, True),
    (None, True),  # no evaluation at all
])
def test_prc05_committee(sc: Scenario, evaluation: dict[str, Any] | None, fires: bool) -> None:
    sc.process(evaluation=evaluation)
    assert codes(sc.findings(), "PRC-05") == ([("PRC-05", "S1")] if fires else [])


def test_prc05_a_bid_left_unscored_fires(sc: Scenario) -> None:
    pid = sc.process(bids=[BIDS[0]], evaluation=None, awarded=None, signed=None, award_published=None)
    sc.step(pid, "bid_received", date(2023, 3, 21), bidder_name=OTHER_ORG, bidder_uscc=OTHER_ORG_USCC,
            price="175000.00", received_at=at(2023, 3, 21))
    sc.step(pid, "bids_evaluated", date(2023, 3, 24), scores={PROVIDER_USCC: "80"}, qualified=[PROVIDER_USCC],
            **EVALUATION)
    sc.step(pid, "awarded", date(2023, 3, 27), supplier_name=PROVIDER, supplier_uscc=PROVIDER_USCC,
            amount="180000.00")
    assert [f.detail for f in sc.findings() if f.rule == "PRC-05"] == ["1 份投标未评分"]


# -- PRC-06 late bid won ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("received", "fires"), [(at(2023, 3, 24, 9, 0, 0), False), (at(2023, 3, 24, 9, 0, 1), True)])
def test_prc06_winner_bid_after_the_deadline(sc: Scenario, received: datetime, fires: bool) -> None:
    sc.process(deadline=at(2023, 3, 24, 9), bids=[(PROVIDER, PROVIDER_USCC, "180000.00", received), BIDS[1]])
    assert codes(sc.findings(), "PRC-06") == ([("PRC-06", "S2")] if fires else [])


def test_prc06_a_loser_bidding_late_does_not_fire(sc: Scenario) -> None:
    sc.process(deadline=at(2023, 3, 24, 9), bids=[BIDS[0], (OTHER_ORG, OTHER_ORG_USCC, "1.00", at(2023, 3, 24, 10))])
    assert codes(sc.findings(), "PRC-06") == []


# -- PRC-07 identical bid prices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("other_price", "fires"), [("180000.00", True), ("180000.01", False)])
def test_prc07_identical_prices(sc: Scenario, other_price: str, fires: bool) -> None:
    sc.process(bids=[BIDS[0], (OTHER_ORG, OTHER_ORG_USCC, other_price, at(2023, 3, 21)),
                     (SUPPLIER, SUPPLIER_USCC, "170000.00", at(2023, 3, 22))])
    found = [f for f in sc.findings() if f.rule == "PRC-07"]
    assert [(f.severity, len(f.evidence)) for f in found] == ([("S3", 2)] if fires else [])


# -- PRC-08 late contract signing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("signed", "fires"), [(date(2023, 4, 26), False), (date(2023, 4, 27), True)])
def test_prc08_signed_30_vs_31_days_after_award(sc: Scenario, signed: date, fires: bool) -> None:
    sc.process(awarded=date(2023, 3, 27), signed=signed, contract_published=signed, disbursed=None)
    assert codes(sc.findings(), "PRC-08") == ([("PRC-08", "S3")] if fires else [])


# -- PRC-09 not published in time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("awarded", "published", "fires"), [
    (date(2023, 3, 27), date(2023, 3, 29), False),  # Mon → Wed: 2 working days
    (date(2023, 3, 27), date(2023, 3, 30), True),  # Mon → Thu: 3
    (date(2023, 9, 28), date(2023, 10, 8), False),  # National Day: 10-07 and 10-08 are make-up workdays
    (date(2023, 9, 27), date(2023, 10, 8), True),  # 09-28, 10-07, 10-08
])
def test_prc09_award_published_within_two_working_days(sc: Scenario, awarded: date, published: date,
                                                       fires: bool) -> None:
    sc.process(awarded=awarded, award_published=published, signed=None)
    assert [f.key for f in sc.findings(on=None) if f.rule == "PRC-09"] == (["award"] if fires else [])


@pytest.mark.parametrize(("on", "fires"), [(date(2023, 4, 6), False), (date(2023, 4, 7), True)])
def test_prc09_contract_never_published(sc: Scenario, on: date, fires: bool) -> None:
    # signed Mon 2023-04-03; 04-04, 04-06 and 04-07 are working days (04-05 is 清明)
    sc.process(contract_published=None, disbursed=None)
    assert [f.key for f in sc.findings(on=on) if f.rule == "PRC-09"] == (["contract:unpublished"] if fires else [])


def test_prc09_contract_published_late_fires(sc: Scenario) -> None:
    sc.process(contract_published=date(2023, 4, 7), disbursed=None)
    assert [f.key for f in sc.findings() if f.rule == "PRC-09"] == ["contract"]


# -- PRC-10 contract term -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("end", "justification", "fires"), [
    (date(2024, 2, 29), None, False),  # one year
    (date(2024, 3, 1), None, True),  # more than one year, no justification
    (date(2024, 3, 1), "服务需要连续性，经财政部门同意", False),
    (date(2026, 2, 28), "服务需要连续性", False),  # three years
    (date(2026, 3, 1), "服务需要连续性", True),  # more than three years, justified or not
])
def test_prc10_term(sc: Scenario, end: date, justification: str | None, fires: bool) -> None:
    sc.process(term=(date(2023, 3, 1), end), term_justification=justification)
    assert codes(sc.findings(), "PRC-10") == ([("PRC-10", "S2")] if fires else [])


def test_prc10_one_year_from_a_leap_day() -> None:
    assert period_end(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert period_end(date(2023, 3, 1), 12) == date(2024, 2, 29)
    assert period_end(date(2023, 1, 31), 1) == date(2023, 2, 28)


# -- PRC-11 unjustified single source -----------------------------------------------------------------------------


@pytest.mark.parametrize(("justification", "fires"), [
    (None, True), ("领导指定", True), ("emergency：疫情期间紧急服务", False), ("只能从唯一供应商处采购", False),
])
def test_prc11_single_source_justification(sc: Scenario, justification: str | None, fires: bool) -> None:
    sc.process(method="single_source", justification=justification, announced=None)
    assert codes(sc.findings(), "PRC-11") == ([("PRC-11", "S2")] if fires else [])


def test_prc11_other_methods_need_no_justification(sc: Scenario) -> None:
    sc.process(justification=None)
    assert codes(sc.findings(), "PRC-11") == []


# -- PRC-12 amendments over the cap -------------------------------------------------------------------------------


@pytest.mark.parametrize(("deltas", "fires"), [
    (["18000.00"], False),  # exactly 10% of 180,000.00
    (["18000.01"], True),
    (["10000.00", "8000.00"], False),
    (["10000.00", "8000.01"], True),
    (["20000.00", "-5000.00"], True),  # judged at each amendment
])
def test_prc12_top_ups(sc: Scenario, deltas: list[str], fires: bool) -> None:
    sc.process(amendments=[(d, date(2023, 6, i + 1)) for i, d in enumerate(deltas)])
    assert codes(sc.findings(), "PRC-12") == ([("PRC-12", "S2")] if fires else [])


# -- PRC-13 threshold splitting -----------------------------------------------------------------------------------

SPLIT = {"PRC-13": {"threshold": Decimal("300000.00")}}


@pytest.mark.parametrize(("second", "fires"), [(date(2024, 4, 2), True), (date(2024, 4, 3), False)])
def test_prc13_two_contracts_within_twelve_months(sc: Scenario, second: date, fires: bool) -> None:
    sc.process(signed=date(2023, 4, 3), contract_published=date(2023, 4, 3), disbursed=None)
    sc.process(awarded=second, award_published=second, signed=second, contract_published=second, disbursed=None,
               amount="150000.00")
    found = [f for f in sc.findings(on=None, params=SPLIT) if f.rule == "PRC-13"]
    assert [(f.severity, len(f.evidence)) for f in found] == ([("S2", 2)] * 2 if fires else [])
    assert all(f.params["threshold"] == Decimal("300000.00") for f in found)


def test_prc13_below_the_threshold_in_sum_does_not_fire(sc: Scenario) -> None:
    sc.process(disbursed=None)
    sc.process(disbursed=None, amount="119999.99")
    assert codes(sc.findings(params=SPLIT), "PRC-13") == []


def test_prc13_other_provider_or_category_does_not_count(sc: Scenario) -> None:
    sc.process(disbursed=None)
    sc.process(disbursed=None, winner=(OTHER_ORG, OTHER_ORG_USCC), bids=[BIDS[1], BIDS[0]])
    sc.process(disbursed=None, category="activities")
    assert codes(sc.findings(params=SPLIT), "PRC-13") == []


def test_prc13_a_contract_at_the_threshold_is_not_split(sc: Scenario) -> None:
    sc.process(disbursed=None, amount="300000.00")
    sc.process(disbursed=None, amount="100000.00")
    assert codes(sc.findings(params=SPLIT), "PRC-13") == []


# -- cancelled processes and the calendar -------------------------------------------------------------------------


def test_cancelled_processes_are_excluded(sc: Scenario) -> None:
    sc.process(method="competitive_consultation", deadline=at(2023, 3, 5), bids=[BIDS[0]],
               evaluation={**EVALUATION, "committee_size": 4}, cancelled=date(2023, 3, 25))
    assert sc.findings() == []
    live = sc.process(method="competitive_consultation", deadline=at(2023, 3, 5), bids=[BIDS[0]], awarded=None,
                      signed=None, award_published=None)
    assert {f.rule for f in sc.findings()} == {"PRC-03", "PRC-04"}
    assert {f.subject_id for f in sc.findings()} == {str(live)}


def test_working_days_are_exclusive_of_the_start_and_inclusive_of_the_end() -> None:
    assert working_days(date(2023, 1, 27), date(2023, 1, 30)) == 3
    assert working_days(date(2023, 1, 20), date(2023, 1, 20)) == 0
    assert working_days(date(2023, 1, 19), date(2023, 1, 20)) == 1


def test_a_year_the_calendar_does_not_cover_is_a_clear_error() -> None:
    with pytest.raises(CalendarNotCoveredError, match="2099"):
        working_days(date(2099, 1, 1), date(2099, 1, 5))
