"""Idempotency: a retried request (same key, same request hash) gets the original answer and never posts twice."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from builders import (
    CHANGAN_OFFICER,
    DAY,
    HEBEI_OFFICER,
    Ledger,
    contract_details,
    fund_fields,
    key,
    project_fields,
    refused,
)

from ledger.application import Idempotency, LedgerApplication
from ledger.errors import IdempotencyKeyReusedError, InsufficientFundsError, ValidationError


def _without_replayed(result: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in result.items() if name != "replayed"}


def _requests(ledger: Ledger, fund_id: UUID, project_id: UUID) -> dict[str, Callable[[Idempotency], dict[str, Any]]]:
    """One request of each kind, each a posting the ledger accepts once."""
    app, actor = ledger.app, ledger.actor
    entry_id = ledger.spend(project_id, "10.00")["entry_id"]
    procurement_id = ledger.open_procurement(project_id)
    return {
        "appropriation": lambda k: app.appropriate_fund(actor, **fund_fields(document_no="冀财社〔2023〕88号"),
                                                        idempotency=k),
        "allocation": lambda k: ledger.allocate_to_project(fund_id, project_id, "100.00", idempotency=k),
        "child fund": lambda k: ledger.allocate_to_fund(fund_id, "100.00", document_no="石财社〔2023〕1号",
                                                       idempotency=k),
        "recovery": lambda k: ledger.recover(fund_id, project_id, "1.00", idempotency=k),
        "disbursement": lambda k: ledger.disburse(project_id, fund_id, "100.00", idempotency=k),
        "expenditure": lambda k: ledger.spend(project_id, "100.00", idempotency=k),
        "reversal": lambda k: ledger.reverse(project_id, entry_id, idempotency=k),
        "project": lambda k: app.register_project(actor, **project_fields(code="SJZ-CA-2023-900"), idempotency=k),
        "contract": lambda k: app.record_procurement_step(actor, procurement_id, step="contract_signed",
                                                          details=contract_details(), effective_on=DAY,
                                                          idempotency=k),
    }


@pytest.mark.parametrize(
    "kind",
    ["appropriation", "allocation", "child fund", "recovery", "disbursement", "expenditure", "reversal", "project",
     "contract"],
)
def test_a_retried_request_returns_the_original_result_and_position_and_writes_nothing(
    app: LedgerApplication, ledger: Ledger, kind: str
) -> None:
    fund_id, project_id = ledger.funded_project()
    request = _requests(ledger, fund_id, project_id)[kind]
    original = request(key(f"{kind}-1"))
    position = app.recorder.max_notification_id()

    retried = request(key(f"{kind}-1"))

    assert original["replayed"] is False and retried["replayed"] is True
    assert _without_replayed(retried) == _without_replayed(original)
    assert retried["position"] == original["position"] == position
    assert app.recorder.max_notification_id() == position


def test_a_retry_is_recognised_by_a_restarted_application_on_the_same_store(
    app: LedgerApplication, app_env: dict[str, str], ledger: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project()
    original = ledger.disburse(project_id, fund_id, "5000.00", idempotency=key("pay-1"))
    app.close()

    restarted = LedgerApplication(env=app_env)
    try:
        position = restarted.recorder.max_notification_id()
        retried = Ledger(restarted).disburse(project_id, fund_id, "5000.00", idempotency=key("pay-1"))

        assert retried["replayed"] is True
        assert _without_replayed(retried) == _without_replayed(original)
        assert restarted.recorder.max_notification_id() == position
        assert restarted.get_project(project_id)["disbursed_total"] == Decimal("5000.00")
    finally:
        restarted.close()


def test_a_retry_replays_the_original_answer_even_after_the_state_has_moved_on(app: LedgerApplication,
                                                                               ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    original = ledger.disburse(project_id, fund_id, "1000.00", idempotency=key("pay-all"))
    ledger.spend(project_id, "10.00")

    retried = ledger.disburse(project_id, fund_id, "1000.00", idempotency=key("pay-all"))

    assert retried["replayed"] is True and retried["entry_id"] == original["entry_id"]
    assert app.get_project(project_id)["disbursed_total"] == Decimal("1000.00")


def test_refuses_a_reused_idempotency_key_with_a_different_request(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project()
    ledger.disburse(project_id, fund_id, "5000.00", idempotency=key("pay-1", "hash-a"))

    refused(app, IdempotencyKeyReusedError, "idempotency_key_reused",
            lambda: ledger.disburse(project_id, fund_id, "6000.00", idempotency=key("pay-1", "hash-b")),
            fund_id, project_id)
    refused(app, IdempotencyKeyReusedError, "idempotency_key_reused",
            lambda: ledger.spend(project_id, "6000.00", idempotency=key("pay-1", "hash-c")), fund_id, project_id)
    assert app.get_project(project_id)["disbursed_total"] == Decimal("5000.00")


def test_idempotency_keys_are_per_actor(app: LedgerApplication) -> None:
    province, county = Ledger(app, actor=HEBEI_OFFICER), Ledger(app, actor=CHANGAN_OFFICER)
    _, project_id = province.funded_project()

    by_province = province.spend(project_id, "100.00", idempotency=key("2023-03-001"))
    by_county = county.spend(project_id, "100.00", idempotency=key("2023-03-001"))

    assert (by_province["replayed"], by_county["replayed"]) == (False, False)
    assert by_province["entry_id"] != by_county["entry_id"]
    assert app.get_project(project_id)["spent_total"] == Decimal("200.00")


def test_a_refused_request_is_not_remembered_so_its_key_can_be_retried_once_it_is_valid(
    app: LedgerApplication, ledger: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    refused(app, InsufficientFundsError, "insufficient_funds",
            lambda: ledger.disburse(project_id, fund_id, "1500.00", idempotency=key("pay-1")), fund_id, project_id)
    ledger.allocate_to_project(fund_id, project_id, "500.00")

    result = ledger.disburse(project_id, fund_id, "1500.00", idempotency=key("pay-1"))

    assert result["replayed"] is False
    assert app.get_project(project_id)["disbursed_total"] == Decimal("1500.00")


@pytest.mark.parametrize("bad_key", ["", "k" * 201, "line\nbreak", "tab\there"], ids=["empty", "201-chars",
                                                                                   "newline", "tab"])
def test_refuses_an_idempotency_key_that_is_not_1_to_200_printable_characters(bad_key: str) -> None:
    with pytest.raises(ValidationError) as refused_key:
        Idempotency(bad_key, "hash")
    assert refused_key.value.code == "validation_error"
    assert Idempotency("k" * 200, "hash").key == "k" * 200


def test_a_retry_sent_while_the_original_is_in_flight_gets_the_original_posting_not_a_refusal(
    app: LedgerApplication, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original lands just after the retry looked for it, and takes the money the retry would have needed."""
    fund_id, project_id = ledger.funded_project(received="1000.00")
    look_up = app._replay
    landed: list[dict[str, Any]] = []
    raced = False

    def original_lands_right_after_the_retry_looked(actor: Any, idempotency: Idempotency) -> Any:
        nonlocal raced
        found = look_up(actor, idempotency)
        if not raced:
            raced = True
            landed.append(ledger.disburse(project_id, fund_id, "1000.00", idempotency=key("pay-all")))
        return found

    monkeypatch.setattr(app, "_replay", original_lands_right_after_the_retry_looked)
    retried = ledger.disburse(project_id, fund_id, "1000.00", idempotency=key("pay-all"))

    assert landed[0]["replayed"] is False
    assert retried["replayed"] is True and retried["entry_id"] == landed[0]["entry_id"]
    assert app.get_project(project_id)["disbursed_total"] == Decimal("1000.00")
