"""专款专用: the thirteen EAR rules of RULES.md, each with a case that fires and a boundary case that must not.

Real ledger events from an in-memory ``LedgerApplication`` are folded by ``ReadModel`` and judged by the rule engine,
exactly as the projection does; no view database is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from projection_builders import (
    JIANBEI,
    JIUQUANLU,
    LATER,
    OTHER_ORG,
    OTHER_ORG_USCC,
    QINGYUAN,
    SIGNED,
    SUPPLIER,
    SUPPLIER_USCC,
    Officer,
    findings,
    of_rule,
)

from ledger.application import LedgerApplication
from ledger.vocabulary import PROHIBITED_CATEGORIES
from projections.rules import REGISTRY
from projections.rules.earmarking import PROJECT_RULES
from projections.rules.params import DEFAULTS, RuleParameters

EAR = [f"EAR-{n:02d}" for n in range(1, 14)]


def fired(app: LedgerApplication, rule: str, **kwargs: Any) -> list[str]:
    """The keys of the findings of one rule over the whole log."""
    return [f.key for f in of_rule(findings(app, **kwargs), rule)]


def test_all_thirteen_earmarking_rules_are_registered_with_a_code_and_version() -> None:
    assert sorted([*PROJECT_RULES, "EAR-09"]) == EAR  # EAR-09 looks across projects, the others at one
    assert all(REGISTRY[code].code == code and REGISTRY[code].version >= 1 for code in PROJECT_RULES)


# -- EAR-01 超范围支出 -------------------------------------------------------------------------------------------------


def test_ear01_flags_spending_on_a_category_outside_the_approved_budget_lines(officer: Officer,
                                                                              memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    entry = officer.spend(project, "800.00", line="equipment")

    [finding] = of_rule(findings(memory_app), "EAR-01")

    assert (finding.severity, finding.key, finding.subject_id) == ("S1", str(entry), str(project))
    assert "设备购置(equipment)" in finding.detail
    assert [e["type"] for e in finding.evidence] == ["ExpenditureRecorded", "Registered"]
    assert finding.evidence[0]["position"] == officer.last_position


def test_ear01_accepts_spending_on_an_approved_line_that_the_fund_allows(officer: Officer,
                                                                        memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.spend(project, "800.00", line="staff", fund=fund)
    officer.spend(project, "800.00", line="training")

    assert fired(memory_app, "EAR-01") == []


def test_ear01_flags_a_budgeted_category_that_the_fund_does_not_allow(officer: Officer,
                                                                      memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project(lines={"staff": "100000.00", "travel": "5000.00"})
    entry = officer.spend(project, "600.00", line="travel", fund=fund)

    [finding] = of_rule(findings(memory_app), "EAR-01")

    assert finding.key == str(entry)
    assert "使用范围" in finding.detail and "财社〔2023〕" in finding.detail


def test_ear01_a_child_fund_inherits_the_earmark_of_the_fund_it_was_allocated_from(
        officer: Officer, memory_app: LedgerApplication) -> None:
    province_fund = officer.fund(categories=["staff"])
    city_fund = officer.child_fund(province_fund, "200000.00")
    project = officer.project(lines={"staff": "100000.00", "travel": "5000.00"})
    officer.allocate(city_fund, project, "100000.00")
    officer.spend(project, "600.00", line="staff")
    travel = officer.spend(project, "600.00", line="travel")

    [finding] = of_rule(findings(memory_app), "EAR-01")

    assert finding.key == str(travel)
    assert "冀财社〔2023〕" in finding.detail  # judged against the city fund, which carries the province's earmark


def test_ear01_a_line_opened_by_an_approved_revision_counts_from_the_revision_date(
        officer: Officer, memory_app: LedgerApplication) -> None:
    fund = officer.fund(categories=["staff", "activities", "training", "equipment"])
    project = officer.project()
    officer.allocate(fund, project, "100000.00")
    officer.revise(project, ("staff", "equipment", "5000.00"), approval="冀民发〔2023〕12号", on=date(2023, 6, 1))
    early = officer.spend(project, "800.00", line="equipment", on=date(2023, 5, 31))
    officer.spend(project, "800.00", line="equipment", on=date(2023, 6, 1))

    assert fired(memory_app, "EAR-01") == [str(early)]


def test_ear01_an_unapproved_revision_does_not_open_a_line(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.revise(project, ("staff", "equipment", "5000.00"), approval=None, on=date(2023, 5, 1))
    entry = officer.spend(project, "800.00", line="equipment")

    assert fired(memory_app, "EAR-01") == [str(entry)]


# -- EAR-02 禁止性支出 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", sorted(PROHIBITED_CATEGORIES))
def test_ear02_flags_every_prohibited_category(officer: Officer, memory_app: LedgerApplication,
                                               category: str) -> None:
    _, project = officer.funded_project(lines={"staff": "100000.00", category: "10000.00"})
    entry = officer.spend(project, "3600.00", line=category, payee=SUPPLIER, payee_kind="supplier")

    [finding] = of_rule(findings(memory_app), "EAR-02")

    assert (finding.severity, finding.key) == ("S1", str(entry))
    assert "彩票公益金不得用于" in finding.detail


def test_ear02_does_not_flag_an_ordinary_category_paid_to_a_supplier(officer: Officer,
                                                                     memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.spend(project, "3600.00", line="activities", payee=SUPPLIER, payee_kind="supplier",
                  payee_uscc=SUPPLIER_USCC)

    assert fired(memory_app, "EAR-02") == []


# -- EAR-03 超预算支出 -------------------------------------------------------------------------------------------------


def test_ear03_spending_exactly_the_approved_line_is_not_over_budget(officer: Officer,
                                                                    memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.spend(project, "6000.00", line="training")
    officer.spend(project, "4000.00", line="training")  # the line holds 10,000.00

    assert fired(memory_app, "EAR-03") == []


def test_ear03_one_fen_over_the_approved_line_is_over_budget(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.spend(project, "6000.00", line="training", on=date(2023, 6, 1))
    officer.spend(project, "4000.01", line="training", on=date(2023, 6, 2))

    [finding] = of_rule(findings(memory_app), "EAR-03")

    assert (finding.severity, finding.key, finding.effective_on) == ("S2", "line:training", date(2023, 6, 2))
    assert "10000.01" in finding.detail and "10000.00" in finding.detail
    assert finding.evidence[0]["position"] == officer.last_position
    assert finding.params == {"tolerance": Decimal("0.00")}


def test_ear03_an_approved_revision_raises_the_line_from_its_effective_date(officer: Officer,
                                                                           memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.revise(project, ("staff", "training", "500.00"), approval="冀民发〔2023〕12号", on=date(2023, 6, 1))
    officer.spend(project, "10500.00", line="training", on=date(2023, 6, 1))

    assert fired(memory_app, "EAR-03") == []


def test_ear03_spending_dated_before_an_approved_increase_is_judged_against_the_old_line(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.revise(project, ("staff", "training", "500.00"), approval="冀民发〔2023〕12号", on=date(2023, 6, 1))
    officer.spend(project, "10500.00", line="training", on=date(2023, 5, 31))

    assert fired(memory_app, "EAR-03") == ["line:training"]


def test_ear03_an_unapproved_revision_does_not_raise_the_line(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.revise(project, ("staff", "training", "500.00"), approval=None, on=date(2023, 5, 1))
    officer.spend(project, "10500.00", line="training")

    assert fired(memory_app, "EAR-03") == ["line:training"]


# -- EAR-04 未经批准调整预算 -------------------------------------------------------------------------------------------


def test_ear04_unapproved_moves_of_exactly_ten_percent_are_allowed(officer: Officer,
                                                                  memory_app: LedgerApplication) -> None:
    project = officer.project()  # budget 180,000.00: 10% is 18,000.00
    officer.revise(project, ("staff", "activities", "10000.00"))
    officer.revise(project, ("staff", "training", "8000.00"))

    assert fired(memory_app, "EAR-04") == []


def test_ear04_unapproved_moves_above_ten_percent_are_flagged_with_every_move_as_evidence(
        officer: Officer, memory_app: LedgerApplication) -> None:
    project = officer.project()
    first = officer.revise(project, ("staff", "activities", "10000.00"), on=date(2023, 5, 1))["position"]
    second = officer.revise(project, ("staff", "training", "8000.01"), on=date(2023, 6, 1))["position"]

    [finding] = of_rule(findings(memory_app), "EAR-04")

    assert (finding.severity, finding.key, finding.effective_on) == ("S2", "budget", date(2023, 6, 1))
    assert [e["position"] for e in finding.evidence] == [first, second]
    assert finding.params == {"share": Decimal("0.10")}
    assert "18000.01" in finding.detail


def test_ear04_moves_with_an_approval_document_do_not_count(officer: Officer, memory_app: LedgerApplication) -> None:
    project = officer.project()
    officer.revise(project, ("staff", "activities", "30000.00"), approval="冀民发〔2023〕12号")
    officer.revise(project, ("staff", "training", "18000.00"))

    assert fired(memory_app, "EAR-04") == []


# -- EAR-05 挪用 -------------------------------------------------------------------------------------------------------


def test_ear05_flags_spending_charged_to_a_fund_never_allocated_to_the_project(officer: Officer,
                                                                              memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    other_fund = officer.fund()
    entry = officer.spend(project, "500.00", fund=other_fund)

    [finding] = of_rule(findings(memory_app), "EAR-05")

    assert (finding.severity, finding.key) == ("S1", str(entry))
    assert memory_app.get_fund(other_fund)["document_no"] in finding.detail  # named by its document, for auditors


def test_ear05_spending_up_to_what_the_fund_allocated_is_not_diversion(officer: Officer,
                                                                      memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project(received="20000.00")
    officer.spend(project, "12000.00", fund=fund)
    officer.spend(project, "8000.00", fund=fund)

    assert fired(memory_app, "EAR-05") == []


def test_ear05_spending_beyond_what_the_fund_allocated_is_diversion(officer: Officer,
                                                                   memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project(received="20000.00")
    officer.spend(project, "12000.00", fund=fund)
    officer.spend(project, "8000.01", fund=fund)

    assert fired(memory_app, "EAR-05") == [f"fund:{fund}"]


def test_ear05_money_returned_to_the_fund_is_no_longer_allocated_to_the_project(officer: Officer,
                                                                               memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project(received="20000.00")
    officer.recover(fund, project, "5000.00")
    officer.spend(project, "15000.00", fund=fund)
    assert fired(memory_app, "EAR-05") == []

    officer.spend(project, "0.01", fund=fund)
    assert fired(memory_app, "EAR-05") == [f"fund:{fund}"]


def test_ear05_flags_a_disbursement_to_someone_other_than_the_contracted_provider(
        officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project)
    officer.disburse(project, fund, "1000.00", on=SIGNED)
    other = officer.disburse(project, fund, "1000.00", on=SIGNED, payee=OTHER_ORG, payee_uscc=OTHER_ORG_USCC)

    [finding] = of_rule(findings(memory_app), "EAR-05")

    assert (finding.key, finding.evidence[0]["type"]) == (str(other), "Disbursed")
    assert OTHER_ORG in finding.detail


def test_ear05_a_payee_given_by_name_only_is_matched_to_the_contracted_provider_by_name(
        officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project)
    officer.disburse(project, fund, "1000.00", on=SIGNED, payee_uscc=None)
    stranger = officer.disburse(project, fund, "1000.00", on=SIGNED, payee=OTHER_ORG, payee_uscc=None)

    assert fired(memory_app, "EAR-05") == [str(stranger)]


# -- EAR-06 挤占 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payee_kind", ["government_unit", "government_staff"])
def test_ear06_flags_project_money_paid_to_a_government_unit_or_its_staff(officer: Officer,
                                                                         memory_app: LedgerApplication,
                                                                         payee_kind: str) -> None:
    _, project = officer.funded_project()
    entry = officer.spend(project, "2000.00", line="activities", payee="某街道办事处", payee_kind=payee_kind)

    [finding] = of_rule(findings(memory_app), "EAR-06")

    assert (finding.severity, finding.key) == ("S1", str(entry))


def test_ear06_management_fees_of_exactly_ten_percent_of_spending_are_allowed(officer: Officer,
                                                                             memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(lines={"staff": "100000.00", "management": "20000.00"})
    officer.spend(project, "9000.00", line="staff")
    officer.spend(project, "1000.00", line="management")

    assert fired(memory_app, "EAR-06") == []


def test_ear06_management_fees_above_ten_percent_of_spending_are_crowding_out(officer: Officer,
                                                                             memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(lines={"staff": "100000.00", "management": "20000.00"})
    officer.spend(project, "9000.00", line="staff")
    officer.spend(project, "1000.01", line="management")

    [finding] = of_rule(findings(memory_app), "EAR-06")

    assert (finding.severity, finding.key) == ("S2", "management")
    assert finding.params == {"management_share": Decimal("0.10")}


# -- EAR-07 先支出后签约 -----------------------------------------------------------------------------------------------


def test_ear07_a_disbursement_on_the_signing_day_is_not_before_the_contract(officer: Officer,
                                                                           memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project, on=SIGNED)
    officer.disburse(project, fund, "90000.00", on=SIGNED, installment=1)
    officer.spend(project, "100.00", on=SIGNED)

    assert fired(memory_app, "EAR-07") == []


def test_ear07_a_disbursement_the_day_before_signing_is_spending_before_the_contract(
        officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project, on=SIGNED)
    early = officer.disburse(project, fund, "90000.00", on=date(2023, 3, 31), installment=1)

    [finding] = of_rule(findings(memory_app), "EAR-07")

    assert (finding.severity, finding.key) == ("S1", str(early))
    assert "2023-04-01" in finding.detail


def test_ear07_an_expenditure_the_day_before_signing_is_spending_before_the_contract(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    early = officer.spend(project, "100.00", on=date(2023, 3, 31))
    officer.contract(project, on=SIGNED)  # posted after the expenditure, signed after it too

    assert fired(memory_app, "EAR-07") == [str(early)]


def test_ear07_spending_with_no_contract_at_all_is_spending_before_the_contract(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    entry = officer.spend(project, "100.00")

    [finding] = of_rule(findings(memory_app), "EAR-07")

    assert finding.key == str(entry) and "尚未签订合同" in finding.detail


# -- EAR-08 超期支出 ---------------------------------------------------------------------------------------------------


def test_ear08_spending_on_day_30_of_the_settlement_grace_is_inside_the_period(officer: Officer,
                                                                              memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()  # period 2023-03-01 to 2024-02-29
    officer.spend(project, "100.00", on=date(2024, 3, 30))
    officer.spend(project, "100.00", on=date(2023, 3, 1))

    assert fired(memory_app, "EAR-08") == []


def test_ear08_spending_on_day_31_after_the_period_is_outside_it(officer: Officer,
                                                                memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    late = officer.spend(project, "100.00", on=date(2024, 3, 31))

    [finding] = of_rule(findings(memory_app), "EAR-08")

    assert (finding.severity, finding.key) == ("S2", str(late))
    assert finding.params == {"grace_days": 30}


def test_ear08_spending_the_day_before_the_project_starts_is_outside_the_period(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    early = officer.spend(project, "100.00", on=date(2023, 2, 28))

    assert fired(memory_app, "EAR-08") == [str(early)]


# -- EAR-09 重复列支 ---------------------------------------------------------------------------------------------------


def _supplier_invoice(officer: Officer, project: UUID, number: str = "13000231234567", **kwargs: Any) -> UUID:
    options: dict[str, Any] = {"payee": SUPPLIER, "payee_kind": "supplier", "payee_uscc": SUPPLIER_USCC,
                                  "line": "activities", **kwargs}
    return officer.spend(project, "500.00", invoice_no=number, **options)


def test_ear09_the_same_invoice_from_the_same_payee_in_two_projects_is_listed_twice(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, first_project = officer.funded_project()
    _, second_project = officer.funded_project(township=QINGYUAN)
    first = _supplier_invoice(officer, first_project, on=date(2023, 6, 1))
    first_position = officer.last_position
    second = _supplier_invoice(officer, second_project, on=date(2023, 6, 2))

    [finding] = of_rule(findings(memory_app), "EAR-09")

    assert (finding.severity, finding.key, finding.subject_id) == ("S1", str(second), str(second_project))
    assert [e["position"] for e in finding.evidence] == [first_position, officer.last_position]
    assert str(first) not in finding.detail and "13000231234567" in finding.detail


def test_ear09_the_same_number_from_another_payee_is_not_a_duplicate(officer: Officer,
                                                                    memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    _supplier_invoice(officer, project)
    _supplier_invoice(officer, project, payee=OTHER_ORG, payee_uscc=OTHER_ORG_USCC)

    assert fired(memory_app, "EAR-09") == []


def test_ear09_without_a_uscc_the_payee_name_identifies_the_issuer(officer: Officer,
                                                                   memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    _supplier_invoice(officer, project, payee_uscc=None)
    duplicate = _supplier_invoice(officer, project, payee_uscc=None)
    _supplier_invoice(officer, project, payee_uscc=None, payee="另一家文具店")

    assert fired(memory_app, "EAR-09") == [str(duplicate)]


def test_ear09_the_earlier_business_date_is_the_original_whatever_the_posting_order(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    later = _supplier_invoice(officer, project, on=date(2023, 6, 10))
    _supplier_invoice(officer, project, on=date(2023, 6, 1))

    assert fired(memory_app, "EAR-09") == [str(later)]


# -- EAR-10 超合同拨付 -------------------------------------------------------------------------------------------------


def test_ear10_disbursing_exactly_the_contract_amount_is_allowed(officer: Officer,
                                                                memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project, amount="180000.00")
    officer.disburse(project, fund, "90000.00", on=SIGNED)
    officer.disburse(project, fund, "90000.00", on=LATER)

    assert fired(memory_app, "EAR-10") == []


def test_ear10_disbursing_one_fen_beyond_the_contract_is_over_disbursement(officer: Officer,
                                                                          memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project, amount="180000.00")
    officer.disburse(project, fund, "90000.00", on=SIGNED)
    officer.disburse(project, fund, "90000.01", on=LATER)

    [finding] = of_rule(findings(memory_app), "EAR-10")

    assert (finding.severity, finding.key, finding.effective_on) == ("S1", "contracts", LATER)
    assert [e["type"] for e in finding.evidence] == ["Disbursed", "ContractCommitted"]


def test_ear10_an_amendment_raises_the_cap_from_its_effective_date(officer: Officer,
                                                                  memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    procurement = officer.contract(project, amount="180000.00")
    officer.amend(procurement, "20000.00", on=date(2023, 6, 1))
    officer.disburse(project, fund, "180000.00", on=SIGNED)
    officer.disburse(project, fund, "20000.00", on=date(2023, 6, 1))
    assert fired(memory_app, "EAR-10") == []

    officer.disburse(project, fund, "0.01", on=date(2023, 5, 31))
    assert fired(memory_app, "EAR-10") == ["contracts"]


# -- EAR-11 提前拨付 ---------------------------------------------------------------------------------------------------


def test_ear11_an_installment_paid_on_the_day_its_midterm_passed_is_not_early(officer: Officer,
                                                                             memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    procurement = officer.contract(project)
    officer.evaluate(project, "60.0", kind="midterm", on=date(2023, 9, 1))
    officer.disburse(project, fund, "90000.00", on=SIGNED, installment=1, procurement=procurement)
    officer.disburse(project, fund, "90000.00", on=date(2023, 9, 1), installment=2, procurement=procurement)

    assert fired(memory_app, "EAR-11") == []


def test_ear11_an_installment_paid_the_day_before_its_midterm_passed_is_early(officer: Officer,
                                                                             memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project)
    early = officer.disburse(project, fund, "90000.00", on=date(2023, 8, 31), installment=2)
    officer.evaluate(project, "75.0", kind="midterm", on=date(2023, 9, 1))

    [finding] = of_rule(findings(memory_app), "EAR-11")

    assert (finding.severity, finding.key) == ("S2", str(early))
    assert "2023-09-01" in finding.detail


def test_ear11_a_midterm_total_of_59_9_never_meets_the_condition(officer: Officer,
                                                                memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project)
    officer.evaluate(project, "59.9", kind="midterm", on=date(2023, 9, 1))
    paid = officer.disburse(project, fund, "90000.00", on=date(2023, 12, 1), installment=2)

    [finding] = of_rule(findings(memory_app), "EAR-11")

    assert finding.key == str(paid) and "尚未满足" in finding.detail


def test_ear11_a_signing_installment_is_due_on_the_signing_day(officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project, on=SIGNED)
    officer.disburse(project, fund, "90000.00", on=SIGNED, installment=1)

    assert fired(memory_app, "EAR-11") == []


# -- EAR-12 超拨付支出 -------------------------------------------------------------------------------------------------


def test_ear12_spending_equal_to_what_was_disbursed_is_allowed(officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project)
    officer.disburse(project, fund, "10000.00", on=date(2023, 5, 1))
    officer.spend(project, "6000.00", on=date(2023, 5, 2))
    officer.spend(project, "4000.00", on=date(2023, 5, 2))

    assert fired(memory_app, "EAR-12") == []


def test_ear12_spending_one_fen_beyond_what_was_disbursed_is_flagged(officer: Officer,
                                                                    memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project)
    officer.disburse(project, fund, "10000.00", on=date(2023, 5, 1))
    officer.spend(project, "6000.00", on=date(2023, 5, 2))
    officer.spend(project, "4000.01", on=date(2023, 5, 3))

    [finding] = of_rule(findings(memory_app), "EAR-12")

    assert (finding.severity, finding.key, finding.effective_on) == ("S3", "project", date(2023, 5, 3))
    assert finding.params == {"tolerance": Decimal("0.00")}


def test_ear12_is_judged_at_each_business_date_whatever_the_posting_order(officer: Officer,
                                                                         memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.contract(project)
    officer.spend(project, "10000.00", on=date(2023, 5, 2))  # posted before the disbursement it spends
    officer.disburse(project, fund, "10000.00", on=date(2023, 5, 1))
    assert fired(memory_app, "EAR-12") == []

    officer.spend(project, "1.00", on=date(2023, 4, 30))  # nothing had been disbursed by then
    assert fired(memory_app, "EAR-12") == ["project"]


# -- EAR-13 转包 -------------------------------------------------------------------------------------------------------


def test_ear13_paying_other_organisations_exactly_30_percent_of_the_contract_is_allowed(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.contract(project, amount="180000.00")  # 30% is 54,000.00
    officer.spend(project, "54000.00", line="staff", payee=OTHER_ORG, payee_kind="service_organisation",
                  payee_uscc=OTHER_ORG_USCC)

    assert fired(memory_app, "EAR-13") == []


def test_ear13_paying_other_organisations_above_30_percent_of_the_contract_is_subcontracting(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.contract(project, amount="180000.00")
    officer.spend(project, "30000.00", line="staff", payee=OTHER_ORG, payee_kind="service_organisation")
    officer.spend(project, "24000.01", line="subcontracting", payee="某个人", payee_kind="individual")

    [finding] = of_rule(findings(memory_app), "EAR-13")

    assert (finding.severity, finding.key) == ("S2", "subcontracting")
    assert len(finding.evidence) == 2 and finding.params == {"share": Decimal("0.30")}


# -- reversed entries never count --------------------------------------------------------------------------------------


def _violation(rule: str) -> Callable[[Officer, UUID, UUID], UUID]:
    """Posts one entry that breaks ``rule`` in a funded, contracted project; returns the entry to reverse."""
    spend: dict[str, dict[str, Any]] = {
        "EAR-01": {"amount": "100.00", "line": "equipment"},
        "EAR-02": {"amount": "100.00", "line": "official_reception", "payee_kind": "supplier"},
        "EAR-03": {"amount": "10000.01", "line": "training"},
        "EAR-06": {"amount": "100.00", "payee_kind": "government_unit"},
        "EAR-07": {"amount": "100.00", "on": date(2023, 3, 31)},
        "EAR-08": {"amount": "100.00", "on": date(2024, 3, 31)},
        "EAR-12": {"amount": "90000.01", "on": SIGNED},
        "EAR-13": {"amount": "54000.01", "payee_kind": "service_organisation"},
    }
    disburse: dict[str, dict[str, Any]] = {
        "EAR-05": {"amount": "100.00", "payee": OTHER_ORG, "payee_uscc": OTHER_ORG_USCC, "on": SIGNED},
        "EAR-10": {"amount": "90000.01", "on": SIGNED},
        "EAR-11": {"amount": "100.00", "installment": 2, "on": SIGNED},
    }

    def post(officer: Officer, fund: UUID, project: UUID) -> UUID:
        if rule == "EAR-09":
            _supplier_invoice(officer, project)
            return _supplier_invoice(officer, project)
        if rule in disburse:
            return officer.disburse(project, fund, **disburse[rule])
        return officer.spend(project, **spend[rule])

    return post


@pytest.mark.parametrize("rule", [r for r in EAR if r != "EAR-04"])  # EAR-04 judges revisions, not entries
def test_a_reversed_entry_never_counts(officer: Officer, memory_app: LedgerApplication, rule: str) -> None:
    fund, project = officer.funded_project()
    officer.contract(project, amount="180000.00", on=SIGNED)
    officer.disburse(project, fund, "90000.00", on=SIGNED, installment=1)
    entry = _violation(rule)(officer, fund, project)
    assert fired(memory_app, rule) != []

    officer.reverse(project, entry, on=date(2023, 12, 1))

    assert fired(memory_app, rule) == []


# -- the evaluation date -----------------------------------------------------------------------------------------------


def test_rules_see_only_what_had_taken_effect_by_the_evaluation_date(officer: Officer,
                                                                     memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.spend(project, "10000.01", line="training", on=date(2023, 6, 1))

    assert fired(memory_app, "EAR-03", on=date(2023, 5, 31)) == []
    assert fired(memory_app, "EAR-03", on=date(2023, 6, 1)) == ["line:training"]


def test_a_reversal_effective_after_the_evaluation_date_does_not_yet_cancel_its_entry(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    entry = officer.spend(project, "300.00", line="official_reception", payee_kind="supplier", on=date(2023, 6, 1))
    officer.reverse(project, entry, on=date(2023, 7, 1))

    assert fired(memory_app, "EAR-02", on=date(2023, 6, 30)) == [str(entry)]
    assert fired(memory_app, "EAR-02", on=date(2023, 7, 1)) == []


# -- parameters: defaults in code, overrides per region prefix and fiscal year -----------------------------------------


def _overrides(tmp_path: Path, text: str) -> RuleParameters:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return RuleParameters.from_file(path)


LANZHOU_2023 = """
[[override]]
rule = "EAR-04"
region = "6201"
fiscal_year = 2023
share = "0.05"
"""


def test_an_ear04_override_for_lanzhou_2023_changes_the_result_for_a_lanzhou_project_only(
        tmp_path: Path, officer: Officer, memory_app: LedgerApplication) -> None:
    lanzhou = officer.project(township=JIUQUANLU)
    hebei = officer.project(township=JIANBEI)
    for project in (lanzhou, hebei):
        officer.revise(project, ("staff", "activities", "10000.00"))  # 5.6% of 180,000.00

    found = of_rule(findings(memory_app, parameters=_overrides(tmp_path, LANZHOU_2023)), "EAR-04")

    assert [f.subject_id for f in found] == [str(lanzhou)]
    assert found[0].params == {"share": Decimal("0.05")}
    assert "5%" in found[0].detail
    assert fired(memory_app, "EAR-04") == []  # with the defaults neither project is flagged


def test_an_override_for_one_fiscal_year_leaves_other_years_on_the_default(tmp_path: Path, officer: Officer,
                                                                          memory_app: LedgerApplication) -> None:
    project = officer.project(township=JIUQUANLU, start=date(2024, 3, 1), end=date(2025, 2, 28))
    officer.revise(project, ("staff", "activities", "10000.00"), on=date(2024, 5, 1))

    assert fired(memory_app, "EAR-04", parameters=_overrides(tmp_path, LANZHOU_2023)) == []


def test_the_longest_region_prefix_wins_and_a_year_specific_override_beats_an_all_years_one(tmp_path: Path) -> None:
    parameters = _overrides(tmp_path, """
[[override]]
rule = "EAR-08"
region = "62"
grace_days = 60

[[override]]
rule = "EAR-08"
region = "6201"
grace_days = 45

[[override]]
rule = "EAR-08"
region = "6201"
fiscal_year = 2023
grace_days = 15
""")

    assert parameters.for_rule("EAR-08", JIUQUANLU, 2023) == {"grace_days": 15}
    assert parameters.for_rule("EAR-08", JIUQUANLU, 2024) == {"grace_days": 45}
    assert parameters.for_rule("EAR-08", "621002001", 2023) == {"grace_days": 60}
    assert parameters.for_rule("EAR-08", JIANBEI, 2023) == DEFAULTS["EAR-08"]
    assert parameters.for_rule("EAR-01", JIUQUANLU, 2023) == {}


def test_an_overridden_grace_period_is_applied_and_recorded_in_the_finding(tmp_path: Path, officer: Officer,
                                                                           memory_app: LedgerApplication) -> None:
    parameters = _overrides(tmp_path, '[[override]]\nrule = "EAR-08"\nregion = "13"\ngrace_days = 10\n')
    _, project = officer.funded_project()  # ends 2024-02-29: day 10 of the grace is 2024-03-10
    officer.spend(project, "100.00", on=date(2024, 3, 10))
    late = officer.spend(project, "100.00", on=date(2024, 3, 11))

    [finding] = of_rule(findings(memory_app, parameters=parameters), "EAR-08")

    assert finding.key == str(late) and finding.params == {"grace_days": 10}


@pytest.mark.parametrize("text, message", [
    ('[[override]]\nrule = "EAR-01"\nregion = "13"\n', "parameterless"),
    ('[[override]]\nrule = "EAR-99"\n', "unknown"),
    ('[[override]]\nrule = "EAR-04"\nshares = "0.2"\n', "no parameter"),
])
def test_a_parameter_file_naming_an_unknown_rule_or_parameter_is_refused(tmp_path: Path, text: str,
                                                                         message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _overrides(tmp_path, text)


def test_without_a_parameter_file_the_defaults_apply() -> None:
    assert RuleParameters.from_file(None).for_rule("EAR-04", JIUQUANLU, 2023) == {"share": Decimal("0.10")}
