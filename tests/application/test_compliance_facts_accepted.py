"""Compliance problems are facts that happened: the write side records them, and the audit rules judge them later.

Refusing them would hide exactly what an auditor must find (EAR-01, -02, -03, -05, -07, -09, -10, -12 ...).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from builders import OTHER_USCC, QINGYUAN, Ledger

from ledger.application import LedgerApplication


def _types(app: LedgerApplication, aggregate_id: UUID) -> list[str]:
    return [row["type"] for row in app.get_history(aggregate_id)]


def test_records_expenditure_on_a_category_that_is_not_in_the_budget(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()

    result = ledger.spend(project_id, "8000.00", line="equipment")  # budget: staff, activities, training

    project = app.get_project(project_id)
    assert project["spent"] == {"equipment": Decimal("8000.00")}
    assert "equipment" not in project["budget_lines"]
    assert app.get_history(project_id)[-1]["data"]["entry_id"] == result["entry_id"]


def test_records_expenditure_beyond_its_budget_line(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()

    ledger.spend(project_id, "9000.00", line="training")
    ledger.spend(project_id, "6000.00", line="training")  # the line holds 10,000.00

    assert app.get_project(project_id)["spent"] == {"training": Decimal("15000.00")}


def test_records_the_same_invoice_twice_within_and_across_projects(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()
    other_project_id = ledger.register_project(township_code=QINGYUAN)

    ledger.spend(project_id, "500.00", invoice_no="13000231234567", payee_uscc=OTHER_USCC, payee_kind="supplier")
    ledger.spend(project_id, "500.00", invoice_no="13000231234567", payee_uscc=OTHER_USCC, payee_kind="supplier")
    ledger.spend(other_project_id, "500.00", invoice_no="13000231234567", payee_uscc=OTHER_USCC,
                 payee_kind="supplier")

    invoices = [row["data"]["invoice_no"] for aggregate_id in (project_id, other_project_id)
                for row in app.get_history(aggregate_id) if row["type"] == "ExpenditureRecorded"]
    assert invoices == ["13000231234567"] * 3


def test_records_disbursement_and_expenditure_dated_before_the_contract_was_signed(app: LedgerApplication,
                                                                                  ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project()
    ledger.disburse(project_id, fund_id, "30000.00", effective_on=date(2023, 3, 10))
    ledger.spend(project_id, "2000.00", effective_on=date(2023, 3, 12))

    ledger.sign_contract(ledger.open_procurement(project_id), effective_on=date(2023, 4, 1))

    history = app.get_history(project_id)
    assert [row["type"] for row in history] == [
        "Registered", "FundsReceived", "Disbursed", "ExpenditureRecorded", "ContractCommitted"
    ]
    assert [row["effective_on"] for row in history[2:]] == [date(2023, 3, 10), date(2023, 3, 12), date(2023, 4, 1)]


def test_records_spending_on_a_prohibited_category(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()

    ledger.spend(project_id, "3600.00", line="official_reception", payee_name="某宾馆", payee_kind="supplier")
    ledger.spend(project_id, "5000.00", line="government_staff_pay", payee_name="街道办工作人员",
                 payee_kind="government_staff")

    assert app.get_project(project_id)["spent"] == {
        "official_reception": Decimal("3600.00"),
        "government_staff_pay": Decimal("5000.00"),
    }


def test_records_disbursement_beyond_the_contract_amount(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project(received="300000.00")
    procurement_id = ledger.open_procurement(project_id)
    ledger.sign_contract(procurement_id)  # 180,000.00

    ledger.disburse(project_id, fund_id, "200000.00", procurement_id=procurement_id, installment=1)

    project = app.get_project(project_id)
    assert (project["committed_total"], project["disbursed_total"]) == (Decimal("180000.00"), Decimal("200000.00"))


def test_records_spending_beyond_what_was_disbursed_and_from_a_fund_that_never_allocated_to_the_project(
    app: LedgerApplication, ledger: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project()
    stranger_id = ledger.appropriate("1000.00")
    ledger.disburse(project_id, fund_id, "1000.00")

    ledger.spend(project_id, "5000.00", fund_id=stranger_id)

    project = app.get_project(project_id)
    assert (project["disbursed_total"], project["spent_total"]) == (Decimal("1000.00"), Decimal("5000.00"))
    assert app.get_history(project_id)[-1]["data"]["fund_id"] == stranger_id


def test_records_spending_outside_the_project_period(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()

    ledger.spend(project_id, "100.00", effective_on=date(2022, 12, 31))
    ledger.spend(project_id, "100.00", effective_on=date(2024, 6, 30))

    assert _types(app, project_id).count("ExpenditureRecorded") == 2
