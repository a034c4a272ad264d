"""The aggregates on their own, without any store: what each command records, and what each one refuses.

A refused command triggers no event: the aggregate's version, its pending events and its figures stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from ledger.errors import (
    AlreadyReversedError,
    ClosedError,
    InsufficientFundsError,
    InvalidStateError,
    LedgerError,
    NotReversibleError,
    UnknownEntryError,
    ValidationError,
)
from ledger.fund import Fund
from ledger.procurement import Procurement
from ledger.project import Entry, Project
from ledger.repository import copy_aggregate

DAY = date(2023, 3, 1)
ACTOR = "hebei-officer"
USCC = "91620105MA71T4YW8Q"


def d(text: str) -> Decimal:
    return Decimal(text)


def new_fund(amount: str = "1000.00", parent_fund_id: UUID | None = None) -> Fund:
    return Fund(
        id=uuid4(), holder_region="130000", fiscal_year=2023, document_no="财社〔2023〕60号", source_level="central",
        purpose="社工站建设", allowed_categories=["staff"], service_domains=["elderly_care"],
        valid_from=date(2023, 1, 1), valid_to=date(2023, 12, 31), amount=d(amount), parent_fund_id=parent_fund_id,
        parent_allocation_id=None if parent_fund_id is None else uuid4(), effective_on=DAY, actor=ACTOR,
    )


def new_project() -> Project:
    return Project(
        id=uuid4(), code="SJZ-CA-2023-001", name="建北街道社工站运营", township_code="130102001",
        station_name="建北街道社会工作服务站", service_domains=["elderly_care"], provider_name=None,
        provider_uscc=None, period_start=date(2023, 3, 1), period_end=date(2024, 2, 29),
        budget_lines={"staff": d("1000.00"), "training": d("100.00")}, monthly_plan=[], output_targets=[],
        effective_on=DAY, actor=ACTOR,
    )


def new_procurement() -> Procurement:
    return Procurement(project_id=uuid4(), region="130102001", method="competitive_consultation", subject="运营服务",
                       category="staff", estimated_amount=d("1000.00"), single_source_justification=None,
                       effective_on=DAY, actor=ACTOR)


def allocate(fund: Fund, amount: str, target_id: UUID | None = None) -> None:
    fund.allocate(allocation_id=uuid4(), target_kind="project", target_id=target_id or uuid4(), amount=d(amount),
                  document_no=None, effective_on=DAY, actor=ACTOR)


def receive(project: Project, fund_id: UUID, amount: str) -> None:
    project.receive_funds(fund_id=fund_id, allocation_id=uuid4(), amount=d(amount), effective_on=DAY, actor=ACTOR)


def disburse(project: Project, fund_id: UUID, amount: str) -> UUID:
    entry_id = uuid4()
    project.disburse(entry_id=entry_id, fund_id=fund_id, amount=d(amount), installment=None, procurement_id=None,
                     payee_name="服务中心", payee_uscc=USCC, voucher_no=None, effective_on=DAY, actor=ACTOR)
    return entry_id


def spend(project: Project, amount: str, line: str = "staff") -> UUID:
    entry_id = uuid4()
    project.record_expenditure(entry_id=entry_id, line=line, amount=d(amount), payee_name="服务中心",
                               payee_kind="provider", payee_uscc=None, invoice_no=None, fund_id=None,
                               description="", effective_on=DAY, actor=ACTOR)
    return entry_id


def reverse(project: Project, entry_id: UUID) -> UUID:
    reversal_id = uuid4()
    project.reverse_entry(entry_id=reversal_id, reversed_entry_id=entry_id, reason="录入错误", effective_on=DAY,
                          actor=ACTOR)
    return reversal_id


def assert_refused_unchanged(aggregate: Aggregate, error: type[LedgerError], command: Callable[[], object]) -> None:
    """``command`` is refused with ``error`` and leaves no trace: same version, no new event, same state."""
    version, pending, state = aggregate.version, len(aggregate.pending_events), dict(vars(aggregate))
    snapshot = {name: repr(value) for name, value in state.items() if name != "_pending_events"}
    with pytest.raises(error):
        command()
    assert aggregate.version == version
    assert len(aggregate.pending_events) == pending
    assert {name: repr(value) for name, value in vars(aggregate).items() if name != "_pending_events"} == snapshot


def replayed(aggregate: Aggregate) -> Any:
    """A new copy of the aggregate, rebuilt from the events it has triggered."""
    state: Any = None
    for domain_event in aggregate.pending_events:
        state = domain_event.mutate(state)
    return state


# -- Fund ------------------------------------------------------------------------------------------------------------


def test_an_appropriated_fund_holds_its_whole_amount_available() -> None:
    fund = new_fund("1000.00")

    assert (fund.amount, fund.available, fund.allocated, fund.returned) == (d("1000.00"), d("1000.00"), 0, 0)
    [appropriated] = fund.pending_events
    assert isinstance(appropriated, Fund.Appropriated)
    assert (appropriated.actor, appropriated.effective_on) == (ACTOR, DAY)  # type: ignore[attr-defined]


def test_allocating_moves_money_from_available_to_allocated_with_the_target_recorded() -> None:
    fund, target_id = new_fund("1000.00"), uuid4()

    allocate(fund, "600.00", target_id)

    assert (fund.available, fund.allocated) == (d("400.00"), d("600.00"))
    assert fund.outstanding_with(target_id) == d("600.00")
    assert isinstance(fund.pending_events[-1], Fund.Allocated)
    assert fund.amount == fund.available + fund.allocated + fund.returned


def test_fund_refuses_to_allocate_more_than_is_available() -> None:
    fund = new_fund("1000.00")
    allocate(fund, "600.00")

    assert_refused_unchanged(fund, InsufficientFundsError, lambda: allocate(fund, "400.01"))
    allocate(fund, "400.00")
    assert fund.available == 0


def test_a_closed_fund_refuses_allocations_and_a_second_closing() -> None:
    fund = new_fund()
    fund.close(disposition="carry_over", note="结转", effective_on=DAY, actor=ACTOR)

    assert_refused_unchanged(fund, ClosedError, lambda: allocate(fund, "1.00"))
    assert_refused_unchanged(fund, ClosedError, lambda: fund.close(disposition="surplus", note="", effective_on=DAY,
                                                                   actor=ACTOR))
    assert fund.closed_as == "carry_over"


def test_fund_recovers_at_most_what_it_has_outstanding_with_a_target() -> None:
    fund, target_id = new_fund("1000.00"), uuid4()
    allocate(fund, "600.00", target_id)

    def recover(amount: str, source_id: UUID = target_id) -> None:
        fund.recover(recovery_id=uuid4(), source_id=source_id, amount=d(amount), reason="收回", effective_on=DAY,
                     actor=ACTOR)

    assert_refused_unchanged(fund, InsufficientFundsError, lambda: recover("600.01"))
    assert_refused_unchanged(fund, InsufficientFundsError, lambda: recover("0.01", uuid4()))
    recover("600.00")
    assert (fund.available, fund.allocated, fund.outstanding_with(target_id)) == (d("1000.00"), 0, 0)


def test_a_child_fund_returns_at_most_its_available_balance_and_a_top_level_fund_has_no_one_to_return_to() -> None:
    top, child = new_fund("1000.00"), new_fund("300.00", parent_fund_id=uuid4())
    allocate(child, "100.00")

    def give_back(fund: Fund, amount: str) -> None:
        fund.return_to_parent(recovery_id=uuid4(), amount=d(amount), reason="结余", effective_on=DAY, actor=ACTOR)

    assert_refused_unchanged(child, InsufficientFundsError, lambda: give_back(child, "200.01"))
    assert_refused_unchanged(top, InsufficientFundsError, lambda: give_back(top, "1.00"))
    give_back(child, "200.00")
    assert (child.available, child.returned) == (0, d("200.00"))
    assert child.amount == child.available + child.allocated + child.returned


def test_replaying_a_funds_events_rebuilds_the_same_fund() -> None:
    fund, target_id = new_fund("1000.00"), uuid4()
    allocate(fund, "600.00", target_id)
    fund.recover(recovery_id=uuid4(), source_id=target_id, amount=d("100.00"), reason="收回", effective_on=DAY,
                 actor=ACTOR)
    fund.close(disposition="surplus", note="", effective_on=DAY, actor=ACTOR)

    copy = replayed(fund)

    assert {k: v for k, v in vars(copy).items() if k != "_pending_events"} == {
        k: v for k, v in vars(fund).items() if k != "_pending_events"}


# -- Project ---------------------------------------------------------------------------------------------------------


def test_project_keeps_money_received_per_fund_and_disburses_only_from_what_that_fund_gave() -> None:
    project, central, provincial = new_project(), uuid4(), uuid4()
    receive(project, central, "800.00")
    receive(project, provincial, "200.00")

    assert_refused_unchanged(project, InsufficientFundsError, lambda: disburse(project, provincial, "200.01"))
    assert_refused_unchanged(project, InsufficientFundsError, lambda: disburse(project, uuid4(), "0.01"))
    disburse(project, provincial, "200.00")
    assert project.undisbursed_from(provincial) == 0
    assert project.undisbursed_from(central) == d("800.00")
    assert (project.received_total, project.disbursed_total) == (d("1000.00"), d("200.00"))


def test_project_returns_surplus_only_from_undisbursed_money_even_after_closing() -> None:
    project, fund_id = new_project(), uuid4()
    receive(project, fund_id, "1000.00")
    disburse(project, fund_id, "700.00")
    project.close(reason="结项", effective_on=DAY, actor=ACTOR)

    def give_back(amount: str) -> None:
        project.return_surplus(entry_id=uuid4(), fund_id=fund_id, amount=d(amount), reason="结余上缴",
                               effective_on=DAY, actor=ACTOR)

    assert_refused_unchanged(project, InsufficientFundsError, lambda: give_back("300.01"))
    give_back("300.00")
    assert project.undisbursed_from(fund_id) == 0


def test_expenditure_is_recorded_whatever_its_category_or_size() -> None:
    project = new_project()

    spend(project, "5000.00", line="official_reception")  # not a budget line, prohibited, more than received

    assert project.spent == {"official_reception": d("5000.00")}
    assert isinstance(project.pending_events[-1], Project.ExpenditureRecorded)


def test_reversal_cancels_an_entry_once_and_cannot_itself_be_reversed() -> None:
    project, fund_id = new_project(), uuid4()
    receive(project, fund_id, "1000.00")
    paid = disburse(project, fund_id, "400.00")
    spent = spend(project, "50.00")

    reversal = reverse(project, paid)
    reverse(project, spent)

    assert (project.disbursed_total, project.spent_total) == (0, 0)
    assert project.entries[str(paid)].reversed_by == str(reversal)
    assert_refused_unchanged(project, AlreadyReversedError, lambda: reverse(project, paid))
    assert_refused_unchanged(project, NotReversibleError, lambda: reverse(project, reversal))
    assert_refused_unchanged(project, UnknownEntryError, lambda: reverse(project, uuid4()))


def test_a_closed_project_refuses_every_posting() -> None:
    project, fund_id = new_project(), uuid4()
    receive(project, fund_id, "1000.00")
    paid = disburse(project, fund_id, "100.00")
    project.close(reason="结项", effective_on=DAY, actor=ACTOR)

    for command in (
        lambda: receive(project, fund_id, "1.00"),
        lambda: disburse(project, fund_id, "1.00"),
        lambda: spend(project, "1.00"),
        lambda: reverse(project, paid),
        lambda: project.report_outputs(report_id=uuid4(), month="2024-02", values={"cases": 1}, effective_on=DAY,
                                       actor=ACTOR),
        lambda: project.close(reason="again", effective_on=DAY, actor=ACTOR),
    ):
        assert_refused_unchanged(project, ClosedError, command)


def test_a_project_is_suspended_only_when_active_and_resumed_only_when_suspended() -> None:
    project = new_project()

    assert_refused_unchanged(project, InvalidStateError, lambda: project.resume(reason="", effective_on=DAY,
                                                                                actor=ACTOR))
    project.suspend(reason="整改", effective_on=DAY, actor=ACTOR)
    assert_refused_unchanged(project, InvalidStateError, lambda: project.suspend(reason="", effective_on=DAY,
                                                                                 actor=ACTOR))
    project.resume(reason="整改完成", effective_on=DAY, actor=ACTOR)
    assert project.status == "active"


def test_a_budget_move_needs_two_known_lines_and_at_most_what_the_source_line_holds() -> None:
    project = new_project()

    def move(source: str, target: str, amount: str) -> None:
        project.revise_budget(revision_id=uuid4(), moves=[{"from_line": source, "to_line": target,
                                                          "amount": d(amount)}],
                              approval_document=None, reason="调整", effective_on=DAY, actor=ACTOR)

    assert_refused_unchanged(project, ValidationError, lambda: move("staff", "staff", "1.00"))
    assert_refused_unchanged(project, ValidationError, lambda: move("equipment", "staff", "1.00"))
    assert_refused_unchanged(project, InsufficientFundsError, lambda: move("training", "staff", "100.01"))
    move("training", "equipment", "100.00")
    assert project.budget_lines == {"staff": d("1000.00"), "training": 0, "equipment": d("100.00")}
    assert project.budget_total == d("1100.00")


def test_a_commitment_is_amended_only_if_a_contract_was_signed_and_never_to_zero() -> None:
    project, procurement_id = new_project(), uuid4()

    def amend(delta: str, which: UUID = procurement_id) -> None:
        project.amend_commitment(procurement_id=which, amount_delta=d(delta), effective_on=DAY, actor=ACTOR)

    assert_refused_unchanged(project, InvalidStateError, lambda: amend("10.00"))
    project.commit_contract(procurement_id=procurement_id, contract_no="HT-1", amount=d("1000.00"),
                            provider_name="服务中心", provider_uscc=USCC,
                            installments=[{"no": 1, "amount": d("1000.00"), "condition": "signing"}],
                            effective_on=DAY, actor=ACTOR)
    assert_refused_unchanged(project, ValidationError, lambda: amend("-1000.00"))
    amend("100.00")
    assert project.committed_total == d("1100.00")
    assert project.provider_uscc == USCC


def test_replaying_a_projects_events_rebuilds_the_same_project() -> None:
    project, fund_id = new_project(), uuid4()
    receive(project, fund_id, "1000.00")
    reverse(project, disburse(project, fund_id, "400.00"))
    spend(project, "30.00", line="training")
    project.report_outputs(report_id=uuid4(), month="2023-04", values={"cases": 3}, effective_on=DAY, actor=ACTOR)

    copy = replayed(project)

    assert {k: v for k, v in vars(copy).items() if k != "_pending_events"} == {
        k: v for k, v in vars(project).items() if k != "_pending_events"}


def test_a_project_keeps_each_entry_as_a_record_that_is_replaced_never_changed() -> None:
    project, fund_id = new_project(), uuid4()
    receive(project, fund_id, "1000.00")
    paid = disburse(project, fund_id, "400.00")
    spent = spend(project, "30.00", line="training")
    before = project.entries[str(paid)]

    reversal = reverse(project, paid)

    assert project.entries[str(paid)] is not before and before.reversed_by is None
    with pytest.raises(AttributeError):
        project.entries[str(spent)].reversed_by = "x"  # type: ignore[misc]
    assert [{"entry_id": k, **e.as_dict()} for k, e in project.entries.items()] == [  # as views show them
        {"entry_id": str(paid), "kind": "disbursement", "amount": d("400.00"), "fund_id": str(fund_id),
         "reversed_by": str(reversal)},
        {"entry_id": str(spent), "kind": "expenditure", "amount": d("30.00"), "line": "training", "reversed_by": None},
        {"entry_id": str(reversal), "kind": "reversal", "amount": d("400.00"), "reversed_by": None},
    ]
    assert all(Entry.from_dict(e.as_dict()) == e for e in project.entries.values())
    assert Entry.from_rows([e.as_row(k) for k, e in project.entries.items()]) == project.entries


def test_a_copy_of_a_project_shares_its_entries_and_nothing_a_command_changes() -> None:
    project, fund_id = new_project(), uuid4()
    receive(project, fund_id, "1000.00")
    paid = [disburse(project, fund_id, "10.00") for _ in range(50)]
    project.collect_events()
    original = {k: repr(v) for k, v in vars(project).items()}

    copy = copy_aggregate(project)
    assert copy.entries is not project.entries
    assert all(copy.entries[k] is e for k, e in project.entries.items())  # one dict copied, however many entries
    assert copy.budget_lines is not project.budget_lines and copy.commitments is not project.commitments
    reverse(copy, paid[0])
    spend(copy, "5.00")
    copy.revise_budget(revision_id=uuid4(), moves=[{"from_line": "staff", "to_line": "training", "amount": d("1.00")}],
                       approval_document=None, reason="调整", effective_on=DAY, actor=ACTOR)

    assert {k: repr(v) for k, v in vars(project).items()} == original
    assert copy.entries[str(paid[0])].reversed_by is not None and len(copy.entries) == len(project.entries) + 2


# -- Procurement -----------------------------------------------------------------------------------------------------

CONTRACT: dict[str, Any] = {
    "contract_no": "HT-2023-001", "supplier_name": "服务中心", "supplier_uscc": USCC, "amount": d("1000.00"),
    "term_start": date(2023, 4, 1), "term_end": date(2024, 2, 29),
    "installments": [{"no": 1, "amount": d("1000.00"), "condition": "signing"}], "term_justification": None,
}


def test_procurement_records_its_steps_in_the_order_they_were_posted() -> None:
    procurement = new_procurement()

    procurement.record_step("plan_approved", {"document_no": "采购计划1"}, DAY, ACTOR)
    procurement.record_step("awarded", {"supplier_name": "服务中心", "supplier_uscc": USCC, "amount": d("1000.00")},
                            DAY, ACTOR)  # before any bid: a fact for PRC-05 to judge, not an integrity failure
    procurement.record_step("contract_signed", CONTRACT, date(2023, 4, 1), ACTOR)
    procurement.record_step("contract_published", {"notice_no": None}, date(2023, 4, 2), ACTOR)

    assert [s["step"] for s in procurement.steps] == ["plan_approved", "awarded", "contract_signed",
                                                      "contract_published"]
    assert procurement.contract is not None and procurement.contract["amount"] == d("1000.00")


def test_procurement_signs_at_most_one_contract_and_publishes_or_amends_only_a_signed_one() -> None:
    procurement = new_procurement()
    amendment = {"amendment_no": "补1", "amount_delta": d("100.00"), "new_term_end": None, "reason": "追加"}

    assert_refused_unchanged(procurement, InvalidStateError,
                             lambda: procurement.record_step("contract_published", {"notice_no": None}, DAY, ACTOR))
    assert_refused_unchanged(procurement, InvalidStateError,
                             lambda: procurement.record_step("contract_amended", amendment, DAY, ACTOR))
    procurement.record_step("contract_signed", CONTRACT, DAY, ACTOR)
    assert_refused_unchanged(procurement, InvalidStateError,
                             lambda: procurement.record_step("contract_signed", {**CONTRACT, "contract_no": "HT-2"},
                                                             DAY, ACTOR))
    assert_refused_unchanged(procurement, InvalidStateError,
                             lambda: procurement.record_step("cancelled", {"reason": "流标"}, DAY, ACTOR))
    procurement.record_step("contract_amended", amendment, DAY, ACTOR)
    assert procurement.contract is not None and procurement.contract["amount"] == d("1100.00")


def test_a_cancelled_procurement_takes_no_further_step() -> None:
    procurement = new_procurement()
    procurement.record_step("cancelled", {"reason": "有效供应商不足"}, DAY, ACTOR)

    assert_refused_unchanged(procurement, ClosedError,
                             lambda: procurement.record_step("plan_approved", {"document_no": "X"}, DAY, ACTOR))
    assert_refused_unchanged(procurement, ClosedError,
                             lambda: procurement.record_step("contract_signed", CONTRACT, DAY, ACTOR))
