"""Integrity failures (RULES.md): the write side refuses them with a named error and a machine code, writing nothing.

Each test runs on SQLite and on PostgreSQL. "Nothing written" means the log's last position and the versions of the
aggregates involved are the same after the refusal as before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from builders import (
    BARKHOR,
    CHANGAN,
    CHANGAN_OFFICER,
    DAY,
    HEBEI,
    JIANBEI,
    JIUQUANLU,
    LANZHOU,
    LANZHOU_CHENGGUAN,
    LANZHOU_OFFICER,
    LHASA,
    MISTYPED_USCC,
    NATIONWIDE_OFFICER,
    OTHER_USCC,
    QINGYUAN,
    SHIJIAZHUANG,
    Ledger,
    contract_details,
    fund_fields,
    project_fields,
    refused,
)

from ledger import ids
from ledger.application import LedgerApplication
from ledger.errors import (
    AlreadyReversedError,
    ClosedError,
    DuplicateKeyError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidRegionError,
    InvalidStateError,
    InvalidUSCCError,
    NotReversibleError,
    OutOfScopeError,
    UnknownEntryError,
    UnknownFundError,
    UnknownProcurementError,
    UnknownProjectError,
    VersionConflictError,
)

# -- money a fund or project does not have --------------------------------------------------------------------------


def test_refuses_allocation_to_a_project_beyond_the_funds_available(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id = ledger.appropriate("1000.00")
    project_id = ledger.register_project()
    ledger.allocate_to_project(fund_id, project_id, "600.00")

    error = refused(app, InsufficientFundsError, "insufficient_funds",
                    lambda: ledger.allocate_to_project(fund_id, project_id, "400.01"), fund_id, project_id)

    assert error.details == {"available": "400.00", "requested": "400.01"}
    assert app.get_fund(fund_id)["available"] == Decimal("400.00")
    assert app.get_project(project_id)["received_total"] == Decimal("600.00")


def test_allocates_exactly_the_available_balance_down_to_zero(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id = ledger.appropriate("1000.00")
    project_id = ledger.register_project()
    ledger.allocate_to_project(fund_id, project_id, "600.00")
    ledger.allocate_to_fund(fund_id, "400.00")

    assert app.get_fund(fund_id)["available"] == Decimal("0.00")
    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.allocate_to_project(fund_id, project_id, "0.01"), fund_id, project_id)


def test_refuses_allocation_to_a_child_fund_beyond_the_funds_available(app: LedgerApplication,
                                                                       ledger: Ledger) -> None:
    fund_id = ledger.appropriate("1000.00")

    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.allocate_to_fund(fund_id, "1000.01", document_no="石财社〔2023〕9号"), fund_id)

    with pytest.raises(UnknownFundError):
        app.get_fund(ids.fund_id(SHIJIAZHUANG, "石财社〔2023〕9号"))


def test_refuses_disbursement_beyond_money_received_from_that_fund(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project(received="200000.00")
    provincial_id = ledger.appropriate("500000.00", source_level="province")
    ledger.allocate_to_project(provincial_id, project_id, "50000.00")
    unrelated_id = ledger.appropriate("500000.00")

    # The project holds 250,000 in all, but only 50,000 of it came from the provincial fund.
    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.disburse(project_id, provincial_id, "50000.01"), project_id, provincial_id)
    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.disburse(project_id, unrelated_id, "0.01"), project_id, unrelated_id)
    ledger.disburse(project_id, provincial_id, "50000.00")
    assert app.get_project(project_id)["disbursed"] == {str(provincial_id): Decimal("50000.00")}


def test_refuses_disbursement_of_money_already_disbursed(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project(received="200000.00")
    ledger.disburse(project_id, fund_id, "150000.00")

    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.disburse(project_id, fund_id, "50000.01"), project_id, fund_id)


def test_refuses_recovery_beyond_what_the_project_still_holds_from_that_fund(app: LedgerApplication,
                                                                            ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project(received="200000.00")
    ledger.disburse(project_id, fund_id, "150000.00")

    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.recover(fund_id, project_id, "50000.01"), fund_id, project_id)

    ledger.recover(fund_id, project_id, "50000.00")
    assert app.get_fund(fund_id)["available"] == Decimal("850000.00")
    assert app.get_project(project_id)["received_total"] == Decimal("150000.00")


def test_refuses_recovery_beyond_what_a_child_fund_still_has_available(app: LedgerApplication,
                                                                      ledger: Ledger) -> None:
    province_id = ledger.appropriate("1000000.00")
    child_id = ledger.allocate_to_fund(province_id, "300000.00", child_region=CHANGAN)["target_id"]
    project_id = ledger.register_project()
    ledger.allocate_to_project(child_id, project_id, "100000.00")

    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.recover(province_id, child_id, "200000.01"), province_id, child_id)

    ledger.recover(province_id, child_id, "200000.00")
    assert app.get_fund(child_id)["available"] == Decimal("0.00")
    assert app.get_fund(child_id)["returned"] == Decimal("200000.00")
    assert app.get_fund(province_id)["available"] == Decimal("900000.00")


def test_refuses_recovery_from_a_fund_that_this_fund_did_not_allocate_to(app: LedgerApplication,
                                                                       ledger: Ledger) -> None:
    first_id = ledger.appropriate("1000.00")
    second_id = ledger.appropriate("1000.00")

    refused(app, UnknownEntryError, "unknown_entry", lambda: ledger.recover(first_id, second_id, "1.00"),
            first_id, second_id)


def test_refuses_allocation_from_a_closed_fund(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id = ledger.appropriate("1000.00")
    project_id = ledger.register_project()
    app.close_fund(ledger.actor, fund_id, disposition="carry_over", note="结转下年", effective_on=date(2023, 12, 31))

    refused(app, ClosedError, "closed", lambda: ledger.allocate_to_project(fund_id, project_id, "1.00"),
            fund_id, project_id)


def test_refuses_a_budget_move_of_more_than_the_line_holds(app: LedgerApplication, ledger: Ledger) -> None:
    project_id = ledger.register_project()  # training line: 10,000.00

    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: app.revise_budget(ledger.actor, project_id, reason="调整",
                                      moves=[{"from_line": "training", "to_line": "staff", "amount": "10000.01"}],
                                      effective_on=DAY),
            project_id)


# -- amounts ---------------------------------------------------------------------------------------------------------

NOT_AMOUNTS: list[Any] = [
    pytest.param("0.00", id="zero"),
    pytest.param("0", id="zero-integer-string"),
    pytest.param(0, id="zero-int"),
    pytest.param("-0.00", id="negative-zero"),
    pytest.param("-0.01", id="negative"),
    pytest.param(Decimal("-100"), id="negative-decimal"),
    pytest.param("1000000000000.01", id="a-cent-above-10^12"),
    pytest.param(10**13, id="int-above-10^12"),
    pytest.param("1e30", id="exponent-above-the-decimal-precision"),
    pytest.param("12.345", id="three-decimals"),
    pytest.param("1.000", id="three-decimals-trailing-zero"),
    pytest.param(Decimal("0.001"), id="three-decimals-decimal"),
    pytest.param("NaN", id="nan-string"),
    pytest.param(Decimal("NaN"), id="nan-decimal"),
    pytest.param("sNaN", id="signalling-nan"),
    pytest.param("Infinity", id="infinity"),
    pytest.param(Decimal("-Infinity"), id="negative-infinity-decimal"),
    pytest.param(12.5, id="float"),
    pytest.param(float("nan"), id="float-nan"),
    pytest.param(float("inf"), id="float-infinity"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param(" 1.00", id="padded"),
    pytest.param("1,000.00", id="thousands-separator"),
    pytest.param("¥100", id="currency-sign"),
]


def _postings(ledger: Ledger, fund_id: UUID, project_id: UUID) -> dict[str, Callable[[Any], object]]:
    """Every use case that posts an amount, with all its other arguments valid."""
    return {
        "appropriate": lambda amount: ledger.appropriate(amount),
        "allocate to project": lambda amount: ledger.allocate_to_project(fund_id, project_id, amount),
        "allocate to child fund": lambda amount: ledger.allocate_to_fund(fund_id, amount),
        "recover": lambda amount: ledger.recover(fund_id, project_id, amount),
        "disburse": lambda amount: ledger.disburse(project_id, fund_id, amount),
        "record expenditure": lambda amount: ledger.spend(project_id, amount),
    }


@pytest.mark.parametrize("amount", NOT_AMOUNTS)
def test_refuses_amounts_that_are_not_positive_two_place_decimals_up_to_10_to_the_12(
    app: LedgerApplication, ledger: Ledger, amount: Any
) -> None:
    fund_id, project_id = ledger.funded_project()

    for posting, call in _postings(ledger, fund_id, project_id).items():
        error = refused(app, InvalidAmountError, "invalid_amount", lambda call=call: call(amount),
                        fund_id, project_id)
        assert error.field == "amount", posting


def test_accepts_every_posting_of_exactly_one_cent_and_an_appropriation_of_exactly_10_to_the_12(
    app: LedgerApplication, ledger: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project()
    for call in _postings(ledger, fund_id, project_id).values():
        assert call("0.01")
    big_id = ledger.appropriate("1000000000000.00")
    assert app.get_fund(big_id)["appropriated"] == Decimal("1000000000000.00")


def test_takes_amounts_given_as_ints_and_decimals_as_exact_two_place_yuan(app: LedgerApplication,
                                                                          ledger: Ledger) -> None:
    fund_id = ledger.appropriate(5000)
    project_id = ledger.register_project()
    ledger.allocate_to_project(fund_id, project_id, Decimal("1234.5"))

    fund = app.get_fund(fund_id)
    assert (fund["appropriated"], fund["available"]) == (Decimal("5000.00"), Decimal("3765.50"))
    assert str(fund["available"]) == "3765.50"


# -- unknown ids -----------------------------------------------------------------------------------------------------


def test_refuses_allocation_from_an_unknown_fund(app: LedgerApplication, ledger: Ledger) -> None:
    project_id = ledger.register_project()
    refused(app, UnknownFundError, "unknown_fund", lambda: ledger.allocate_to_project(uuid4(), project_id, "1.00"),
            project_id)


def test_refuses_a_project_id_given_where_a_fund_id_is_expected(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project()
    refused(app, UnknownFundError, "unknown_fund", lambda: ledger.allocate_to_project(project_id, project_id, "1.00"),
            fund_id, project_id)
    refused(app, UnknownFundError, "unknown_fund", lambda: ledger.disburse(project_id, project_id, "1.00"),
            fund_id, project_id)


def test_refuses_allocation_to_an_unknown_project(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id = ledger.appropriate()
    refused(app, UnknownProjectError, "unknown_project", lambda: ledger.allocate_to_project(fund_id, uuid4(), "1.00"),
            fund_id)
    assert app.get_fund(fund_id)["allocations"] == []


def test_refuses_disbursement_and_expenditure_for_an_unknown_project(app: LedgerApplication,
                                                                     ledger: Ledger) -> None:
    fund_id = ledger.appropriate()
    refused(app, UnknownProjectError, "unknown_project", lambda: ledger.disburse(uuid4(), fund_id, "1.00"), fund_id)
    refused(app, UnknownProjectError, "unknown_project", lambda: ledger.spend(uuid4(), "1.00"), fund_id)


def test_refuses_disbursement_and_expenditure_naming_an_unknown_fund(app: LedgerApplication,
                                                                     ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()
    refused(app, UnknownFundError, "unknown_fund", lambda: ledger.disburse(project_id, uuid4(), "1.00"), project_id)
    refused(app, UnknownFundError, "unknown_fund", lambda: ledger.spend(project_id, "1.00", fund_id=uuid4()),
            project_id)


def test_refuses_disbursement_against_an_unknown_procurement_or_one_for_another_project(
    app: LedgerApplication, ledger: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project()
    other_project_id = ledger.register_project(township_code=QINGYUAN)
    others_procurement_id = ledger.open_procurement(other_project_id)

    for procurement_id in (uuid4(), others_procurement_id):
        refused(app, UnknownProcurementError, "unknown_procurement",
                lambda procurement_id=procurement_id: ledger.disburse(project_id, fund_id, "1.00",
                                                                      procurement_id=procurement_id),
                project_id, fund_id, others_procurement_id)


def test_refuses_a_step_of_an_unknown_procurement(app: LedgerApplication, ledger: Ledger) -> None:
    refused(app, UnknownProcurementError, "unknown_procurement", lambda: ledger.sign_contract(uuid4()))


def test_refuses_opening_a_procurement_for_an_unknown_project(app: LedgerApplication, ledger: Ledger) -> None:
    refused(app, UnknownProjectError, "unknown_project", lambda: ledger.open_procurement(uuid4()))


def test_refuses_reversal_of_an_unknown_entry_or_an_entry_of_another_project(app: LedgerApplication,
                                                                            ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project()
    other_project_id = ledger.register_project(township_code=QINGYUAN)
    ledger.allocate_to_project(fund_id, other_project_id, "1000.00")
    others_entry_id = ledger.disburse(other_project_id, fund_id, "10.00")["entry_id"]

    for entry_id in (uuid4(), others_entry_id):
        refused(app, UnknownEntryError, "unknown_entry", lambda entry_id=entry_id: ledger.reverse(project_id, entry_id),
                project_id, other_project_id)


def test_refuses_recovery_from_an_unknown_source(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id = ledger.appropriate()
    refused(app, UnknownEntryError, "unknown_entry", lambda: ledger.recover(fund_id, uuid4(), "1.00"), fund_id)


def test_refuses_reads_of_unknown_funds_projects_and_procurements(app: LedgerApplication) -> None:
    with pytest.raises(UnknownFundError):
        app.get_fund(uuid4())
    with pytest.raises(UnknownProjectError):
        app.get_project(uuid4())
    with pytest.raises(UnknownProcurementError):
        app.get_procurement(uuid4())


# -- reversals -------------------------------------------------------------------------------------------------------


def test_refuses_reversing_an_entry_twice(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project()
    entry_id = ledger.disburse(project_id, fund_id, "1000.00")["entry_id"]
    reversal_id = ledger.reverse(project_id, entry_id)["entry_id"]

    error = refused(app, AlreadyReversedError, "already_reversed", lambda: ledger.reverse(project_id, entry_id),
                    project_id)
    assert error.details == {"reversed_by": str(reversal_id)}


def test_refuses_reversing_a_reversal(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()
    entry_id = ledger.spend(project_id, "300.00")["entry_id"]
    reversal_id = ledger.reverse(project_id, entry_id)["entry_id"]

    refused(app, NotReversibleError, "not_reversible", lambda: ledger.reverse(project_id, reversal_id), project_id)


def test_reversing_a_disbursement_makes_its_money_disbursable_again(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    entry_id = ledger.disburse(project_id, fund_id, "1000.00")["entry_id"]
    refused(app, InsufficientFundsError, "insufficient_funds", lambda: ledger.disburse(project_id, fund_id, "0.01"))

    ledger.reverse(project_id, entry_id)
    ledger.disburse(project_id, fund_id, "1000.00")

    project = app.get_project(project_id)
    assert project["disbursed_total"] == Decimal("1000.00")
    assert [e["kind"] for e in project["entries"]] == ["disbursement", "reversal", "disbursement"]


def test_reversing_an_expenditure_takes_it_off_its_budget_line(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()
    ledger.spend(project_id, "200.00", line="activities")
    entry_id = ledger.spend(project_id, "300.00", line="activities")["entry_id"]

    ledger.reverse(project_id, entry_id)

    assert app.get_project(project_id)["spent"] == {"activities": Decimal("200.00")}


# -- closed projects -------------------------------------------------------------------------------------------------

CLOSED_PROJECT_POSTINGS: dict[str, Callable[[Ledger, UUID, UUID, UUID], object]] = {
    "disbursement": lambda ledger, fund_id, project_id, entry_id: ledger.disburse(project_id, fund_id, "1.00"),
    "expenditure": lambda ledger, fund_id, project_id, entry_id: ledger.spend(project_id, "1.00"),
    "reversal": lambda ledger, fund_id, project_id, entry_id: ledger.reverse(project_id, entry_id),
    "allocation to it": lambda ledger, fund_id, project_id, entry_id: ledger.allocate_to_project(
        fund_id, project_id, "1.00"),
    "budget revision": lambda ledger, fund_id, project_id, entry_id: ledger.app.revise_budget(
        ledger.actor, project_id, moves=[{"from_line": "staff", "to_line": "training", "amount": "1.00"}],
        reason="调整", effective_on=DAY),
    "outputs": lambda ledger, fund_id, project_id, entry_id: ledger.app.report_outputs(
        ledger.actor, project_id, month="2024-02", values={"cases": 3}, effective_on=DAY),
    "closing again": lambda ledger, fund_id, project_id, entry_id: ledger.close_project(project_id),
}


@pytest.mark.parametrize("posting", CLOSED_PROJECT_POSTINGS)
def test_refuses_postings_to_a_closed_project(app: LedgerApplication, ledger: Ledger, posting: str) -> None:
    fund_id, project_id = ledger.funded_project()
    entry_id = ledger.disburse(project_id, fund_id, "100.00")["entry_id"]
    ledger.close_project(project_id)

    refused(app, ClosedError, "closed", lambda: CLOSED_PROJECT_POSTINGS[posting](ledger, fund_id, project_id, entry_id),
            fund_id, project_id)


def test_refuses_signing_a_contract_that_would_commit_a_closed_projects_budget(app: LedgerApplication,
                                                                             ledger: Ledger) -> None:
    project_id = ledger.register_project()
    procurement_id = ledger.open_procurement(project_id)
    ledger.close_project(project_id)

    refused(app, ClosedError, "closed", lambda: ledger.sign_contract(procurement_id), project_id, procurement_id)


def test_a_closed_project_still_returns_its_surplus_to_the_fund(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project(appropriated="1000.00", received="1000.00")
    ledger.disburse(project_id, fund_id, "700.00")
    ledger.close_project(project_id)

    ledger.recover(fund_id, project_id, "300.00")

    assert app.get_fund(fund_id)["available"] == Decimal("300.00")
    assert app.get_project(project_id)["status"] == "closed"


# -- region scope ----------------------------------------------------------------------------------------------------


def test_refuses_commands_for_a_region_outside_the_actors_scope(app: LedgerApplication, ledger: Ledger) -> None:
    hebei_fund_id, hebei_project_id = ledger.funded_project()
    lanzhou = Ledger(app, actor=LANZHOU_OFFICER)
    county = Ledger(app, actor=CHANGAN_OFFICER)

    attempts: dict[str, Callable[[], object]] = {
        "appropriate in Lhasa": lambda: lanzhou.appropriate(holder_region=LHASA),
        "appropriate at the city above": lambda: lanzhou.appropriate(holder_region=LANZHOU),
        "register a Lhasa project": lambda: lanzhou.register_project(township_code=BARKHOR),
        "allocate from a Hebei fund": lambda: lanzhou.allocate_to_project(hebei_fund_id, hebei_project_id, "1.00"),
        "disburse for a Hebei project": lambda: lanzhou.disburse(hebei_project_id, hebei_fund_id, "1.00"),
        "spend for a Hebei project": lambda: lanzhou.spend(hebei_project_id, "1.00"),
        "recover into a Hebei fund": lambda: lanzhou.recover(hebei_fund_id, hebei_project_id, "1.00"),
        "county allocates from the province's fund": lambda: county.allocate_to_project(
            hebei_fund_id, hebei_project_id, "1.00"),
    }
    for attempt, call in attempts.items():
        error = refused(app, OutOfScopeError, "out_of_scope", call, hebei_fund_id, hebei_project_id)
        assert error.details["scope"] in ("620102", "130102"), attempt


def test_an_officer_posts_for_divisions_inside_its_scope(app: LedgerApplication) -> None:
    lanzhou = Ledger(app, actor=LANZHOU_OFFICER)
    fund_id = lanzhou.appropriate("50000.00", holder_region=LANZHOU_CHENGGUAN, source_level="city")
    project_id = lanzhou.register_project(township_code=JIUQUANLU)

    lanzhou.allocate_to_project(fund_id, project_id, "50000.00")

    assert app.get_project(project_id)["received"] == {str(fund_id): Decimal("50000.00")}


# -- natural keys ----------------------------------------------------------------------------------------------------


def test_refuses_a_second_appropriation_of_the_same_document_to_the_same_region(app: LedgerApplication,
                                                                               ledger: Ledger) -> None:
    fund_id = ledger.appropriate(document_no="财社〔2023〕60号")

    refused(app, DuplicateKeyError, "duplicate_key",
            lambda: ledger.appropriate("1.00", document_no="财社〔2023〕60号"), fund_id)

    other_region = Ledger(app, actor=LANZHOU_OFFICER).appropriate(document_no="财社〔2023〕60号",
                                                                  holder_region=LANZHOU_CHENGGUAN)
    assert other_region != fund_id


def test_refuses_allocating_to_a_child_fund_under_a_document_already_held_at_that_region(
    app: LedgerApplication, ledger: Ledger
) -> None:
    fund_id = ledger.appropriate()
    existing_id = ledger.appropriate(holder_region=SHIJIAZHUANG, source_level="province",
                                     document_no="冀财社〔2023〕7号")

    refused(app, DuplicateKeyError, "duplicate_key",
            lambda: ledger.allocate_to_fund(fund_id, "100.00", document_no="冀财社〔2023〕7号"), fund_id, existing_id)


def test_refuses_a_second_project_with_the_same_code(app: LedgerApplication, ledger: Ledger) -> None:
    project_id = ledger.register_project(code="SJZ-CA-2023-001")

    refused(app, DuplicateKeyError, "duplicate_key",
            lambda: ledger.register_project(code="SJZ-CA-2023-001", township_code=QINGYUAN), project_id)
    assert app.get_project(project_id)["township_code"] == JIANBEI


def test_refuses_a_contract_number_already_signed_in_another_procurement(app: LedgerApplication,
                                                                        ledger: Ledger) -> None:
    project_id = ledger.register_project()
    first_id = ledger.open_procurement(project_id)
    ledger.sign_contract(first_id, contract_no="HT-2023-001")
    failed_again_id = ledger.open_procurement(project_id)
    other_project_id = ledger.register_project(township_code=QINGYUAN)
    others_id = ledger.open_procurement(other_project_id)

    for procurement_id in (failed_again_id, others_id):
        refused(app, DuplicateKeyError, "duplicate_key",
                lambda procurement_id=procurement_id: ledger.sign_contract(procurement_id, contract_no="HT-2023-001"),
                procurement_id, project_id, other_project_id)
    assert app.get_project(other_project_id)["committed_total"] == Decimal("0.00")
    assert app.get_procurement(others_id)["contract"] is None


def test_refuses_a_second_contract_in_the_same_procurement(app: LedgerApplication, ledger: Ledger) -> None:
    project_id = ledger.register_project()
    procurement_id = ledger.open_procurement(project_id)
    ledger.sign_contract(procurement_id, contract_no="HT-2023-001")

    refused(app, InvalidStateError, "invalid_state",
            lambda: ledger.sign_contract(procurement_id, contract_no="HT-2023-002"), procurement_id, project_id)


# -- region codes and USCCs ------------------------------------------------------------------------------------------

INVALID_REGIONS: dict[str, Callable[[Ledger, UUID], object]] = {
    "fund at a five-digit code": lambda ledger, fund_id: ledger.appropriate(holder_region="13000"),
    "fund at an unknown province": lambda ledger, fund_id: ledger.appropriate(holder_region="990000"),
    "fund at a code with a letter": lambda ledger, fund_id: ledger.appropriate(holder_region="13010A"),
    "fund at a code given as a number": lambda ledger, fund_id: ledger.appropriate(holder_region=130000),
    "fund held at a township": lambda ledger, fund_id: ledger.appropriate(holder_region=JIANBEI),
    "project at a county code": lambda ledger, fund_id: ledger.register_project(township_code=CHANGAN),
    "project at an unknown township": lambda ledger, fund_id: ledger.register_project(township_code="130102999"),
    "project at an empty code": lambda ledger, fund_id: ledger.register_project(township_code=""),
    "child fund at a township": lambda ledger, fund_id: ledger.allocate_to_fund(fund_id, "1.00",
                                                                               child_region=JIANBEI),
    "child fund in another province": lambda ledger, fund_id: ledger.allocate_to_fund(fund_id, "1.00",
                                                                                     child_region=LANZHOU),
    "child fund at the fund's own region": lambda ledger, fund_id: ledger.allocate_to_fund(fund_id, "1.00",
                                                                                          child_region=HEBEI),
    "child fund at an unknown code": lambda ledger, fund_id: ledger.allocate_to_fund(fund_id, "1.00",
                                                                                    child_region="139999"),
}


@pytest.mark.parametrize("attempt", INVALID_REGIONS)
def test_refuses_invalid_region_codes(app: LedgerApplication, attempt: str) -> None:
    ledger = Ledger(app, actor=NATIONWIDE_OFFICER)
    fund_id = ledger.appropriate()

    refused(app, InvalidRegionError, "invalid_region", lambda: INVALID_REGIONS[attempt](ledger, fund_id), fund_id)


def test_refuses_allocation_to_a_project_outside_the_funds_region(app: LedgerApplication) -> None:
    ledger = Ledger(app, actor=NATIONWIDE_OFFICER)
    fund_id = ledger.appropriate()  # held by 河北省
    project_id = ledger.register_project(township_code=JIUQUANLU)

    refused(app, InvalidRegionError, "invalid_region", lambda: ledger.allocate_to_project(fund_id, project_id, "1.00"),
            fund_id, project_id)


INVALID_USCCS: dict[str, Callable[[Ledger, UUID, UUID, UUID], object]] = {
    "provider with a bad check character": lambda ledger, fund_id, project_id, procurement_id: ledger.register_project(
        provider_uscc=MISTYPED_USCC),
    "provider code one character short": lambda ledger, fund_id, project_id, procurement_id: ledger.register_project(
        provider_uscc=OTHER_USCC[:-1]),
    "payee of a disbursement": lambda ledger, fund_id, project_id, procurement_id: ledger.disburse(
        project_id, fund_id, "1.00", payee_uscc=MISTYPED_USCC),
    "payee of an expenditure": lambda ledger, fund_id, project_id, procurement_id: ledger.spend(
        project_id, "1.00", payee_uscc="91110000600O37341L"),  # letter O where the digit 0 belongs
    "contracted supplier": lambda ledger, fund_id, project_id, procurement_id: ledger.sign_contract(
        procurement_id, supplier_uscc=MISTYPED_USCC),
}


@pytest.mark.parametrize("attempt", INVALID_USCCS)
def test_refuses_invalid_unified_social_credit_codes(app: LedgerApplication, ledger: Ledger, attempt: str) -> None:
    fund_id, project_id = ledger.funded_project()
    procurement_id = ledger.open_procurement(project_id)

    refused(app, InvalidUSCCError, "invalid_uscc",
            lambda: INVALID_USCCS[attempt](ledger, fund_id, project_id, procurement_id),
            fund_id, project_id, procurement_id)


# -- concurrency guard ----------------------------------------------------------------------------------------------


def test_refuses_a_command_whose_expected_version_is_stale(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project()
    seen = app.get_project(project_id)["version"]
    ledger.spend(project_id, "1.00")

    error = refused(app, VersionConflictError, "version_conflict",
                    lambda: ledger.disburse(project_id, fund_id, "1.00", expected_version=seen), project_id)
    assert error.details == {"current_version": seen + 1}


def test_builders_give_valid_commands(app: LedgerApplication) -> None:
    """The defaults the tests start from are themselves accepted, so every refusal above is about its one change."""
    actor = NATIONWIDE_OFFICER
    fund_id = app.appropriate_fund(actor, **fund_fields())["fund_id"]
    project_id = app.register_project(actor, **project_fields())["project_id"]
    procurement_id = app.open_procurement(actor, project_id, method="single_source", subject="运营服务",
                                          category="staff", effective_on=DAY)["procurement_id"]
    app.record_procurement_step(actor, procurement_id, step="contract_signed", details=contract_details(),
                                effective_on=DAY)
    assert app.get_fund(fund_id)["available"] == Decimal("1000000.00")
    assert app.get_project(project_id)["committed_total"] == Decimal("180000.00")
