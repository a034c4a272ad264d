"""Property: whatever officers post, in whatever order, money is conserved and no balance ever goes below zero.

Hypothesis drives random sequences of appropriations, allocations to child funds and to projects, recoveries,
disbursements, expenditures, reversals and closings, valid and invalid, against a model kept in the test. After every
step it checks, on the application's own reads:

* every fund: appropriated = available + allocated (net of recoveries) + returned, and available >= 0;
* every fund's net allocations are exactly what its child funds still hold from it (appropriated - returned) plus
  what each project has received from it (received is net of surplus returned);
* every project, per fund: received - disbursed >= 0 (disbursements never exceed what that fund gave);
* the whole tree: the sum of top-level appropriations = the funds' available balances + what projects hold
  undisbursed + what they have disbursed. Expenditures move no money between funds, so they are not in it;
* the model and ``get_fund`` / ``get_project`` agree, and a refused command wrote nothing to the log.

The big run uses the in-memory store (fast); a smaller run of the same machine uses SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_UP, Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from builders import CHANGAN, HEBEI, JIANBEI, LANZHOU, NATIONWIDE_OFFICER, QINGYUAN, SHIJIAZHUANG, Ledger
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger.application import LedgerApplication
from ledger.errors import (
    AlreadyReversedError,
    ClosedError,
    DuplicateKeyError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidRegionError,
    LedgerError,
    NotReversibleError,
    UnknownEntryError,
)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
CHILD_REGIONS = {HEBEI: [SHIJIAZHUANG, CHANGAN], SHIJIAZHUANG: [CHANGAN], CHANGAN: []}
LINES = ["staff", "activities", "equipment", "official_reception"]  # the last two are compliance problems only
BAD_AMOUNTS = ["0.00", "-5.00", "1.001", "1000000000000.01", "NaN", "Infinity", 2.5, "1e30", True, None]
POSTING_KINDS = ["appropriate", "allocate to project", "allocate to fund", "recover", "disburse", "spend"]

AppFactory = Callable[[], LedgerApplication]


@dataclass
class FundModel:
    region: str
    document_no: str
    amount: Decimal
    parent: UUID | None
    allocated_to: dict[UUID, Decimal] = field(default_factory=dict)  # net of recoveries
    returned: Decimal = ZERO
    closed: bool = False

    @property
    def allocated(self) -> Decimal:
        return sum(self.allocated_to.values(), ZERO)

    @property
    def available(self) -> Decimal:
        return self.amount - self.allocated - self.returned


@dataclass
class EntryModel:
    kind: str  # disbursement / expenditure / reversal
    amount: Decimal
    fund_id: UUID | None = None
    line: str | None = None
    reversed: bool = False


@dataclass
class ProjectModel:
    received: dict[UUID, Decimal] = field(default_factory=dict)
    disbursed: dict[UUID, Decimal] = field(default_factory=dict)
    spent: dict[str, Decimal] = field(default_factory=dict)
    entries: dict[UUID, EntryModel] = field(default_factory=dict)
    closed: bool = False

    def undisbursed_from(self, fund_id: UUID) -> Decimal:
        return self.received.get(fund_id, ZERO) - self.disbursed.get(fund_id, ZERO)


def _add(totals: dict[Any, Decimal], name: Any, amount: Decimal) -> None:
    totals[name] = totals.get(name, ZERO) + amount


def _nonzero(totals: dict[Any, Decimal]) -> dict[str, Decimal]:
    return {str(name): amount for name, amount in totals.items() if amount != ZERO}


def _text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _amount(data: st.DataObject, limit: Decimal) -> Decimal:
    """An amount around ``limit`` (the balance the posting draws on): within it, all of it, a cent over, or any."""
    kind = data.draw(st.sampled_from(["within", "within", "all of it", "a cent over", "any"]))
    if kind == "any" or limit < CENT:
        cents = data.draw(st.integers(1, 10**9))
    elif kind == "within":
        cents = data.draw(st.integers(1, int(limit * 100)))
    else:
        cents = int(limit * 100) + (1 if kind == "a cent over" else 0)
    return (Decimal(cents) / 100).quantize(CENT)


def _pick(data: st.DataObject, preferred: list[UUID], anything: list[UUID]) -> UUID:
    """One of ``anything``; three times in four from ``preferred``, when there are any."""
    if preferred and data.draw(st.integers(0, 3)) > 0:
        return data.draw(st.sampled_from(preferred))
    return data.draw(st.sampled_from(anything))


def conservation_machine(new_app: AppFactory) -> type[RuleBasedStateMachine]:
    """A state machine posting through a fresh application from ``new_app`` in each example."""

    class MoneyIsConserved(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.app = new_app()
            self.ledger = Ledger(self.app, actor=NATIONWIDE_OFFICER)
            self.numbers = itertools.count(1)
            self.funds: dict[UUID, FundModel] = {}
            self.projects: dict[UUID, ProjectModel] = {}

        def teardown(self) -> None:
            self.app.close()

        # -- helpers --------------------------------------------------------------------------------------

        def expect(self, error: type[LedgerError] | None, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
            """Runs a command the model predicts is accepted (error None) or refused with ``error``."""
            position = self.app.recorder.max_notification_id()
            if error is None:
                result = call()
                assert result["replayed"] is False
                assert result["position"] > (position or 0)
                return result
            try:
                call()
            except error as refusal:
                assert type(refusal) is error, f"expected {error.__name__}, got {type(refusal).__name__}"
            else:
                raise AssertionError(f"expected {error.__name__}, the command was accepted")
            assert self.app.recorder.max_notification_id() == position, "a refused command wrote to the log"
            return {}

        def pick_fund(self, data: st.DataObject, preferring: Callable[[FundModel], bool] | None = None) -> UUID:
            """Any fund; more often one for which ``preferring`` holds, so that more postings can succeed."""
            preferred = [fund_id for fund_id, fund in self.funds.items() if preferring and preferring(fund)]
            return _pick(data, preferred, list(self.funds))

        def pick_project(self, data: st.DataObject, holding_money: bool = False) -> UUID:
            """Any project; more often an open one (or one holding undisbursed money)."""
            preferred = [project_id for project_id, project in self.projects.items()
                         if not project.closed and (not holding_money or any(
                             project.undisbursed_from(fund_id) > ZERO for fund_id in project.received))]
            return _pick(data, preferred, list(self.projects))

        def open_count(self, models: dict[UUID, Any]) -> int:
            return sum(not model.closed for model in models.values())

        # -- a few funds and projects to start from -------------------------------------------------------

        @initialize(data=st.data())
        def start_with_a_fund_and_two_projects(self, data: st.DataObject) -> None:
            self.appropriate(data)
            self.register_project(JIANBEI)
            self.register_project(QINGYUAN)
            (fund_id, fund), project_id = next(iter(self.funds.items())), next(iter(self.projects))
            half = (fund.amount / 2).quantize(CENT, rounding=ROUND_UP)
            self.ledger.allocate_to_project(fund_id, project_id, _text(half))
            _add(fund.allocated_to, project_id, half)
            _add(self.projects[project_id].received, fund_id, half)

        # -- rules ----------------------------------------------------------------------------------------

        @rule(data=st.data())
        def appropriate(self, data: st.DataObject) -> None:
            amount = data.draw(st.integers(1, 10**9).map(lambda cents: Decimal(cents) / 100)).quantize(CENT)
            document_no = f"财社〔2023〕{next(self.numbers)}号"
            fund_id = self.ledger.appropriate(_text(amount), document_no=document_no)
            self.funds[fund_id] = FundModel(HEBEI, document_no, amount, None)

        @precondition(lambda self: len(self.projects) < 5)
        @rule(township=st.sampled_from([JIANBEI, QINGYUAN]))
        def register_project(self, township: str) -> None:
            project_id = self.ledger.register_project(code=f"P-{next(self.numbers)}", township_code=township)
            self.projects[project_id] = ProjectModel()

        @precondition(lambda self: self.funds and self.projects)
        @rule(data=st.data())
        def allocate_to_project(self, data: st.DataObject) -> None:
            fund_id = self.pick_fund(data, lambda fund: fund.available > ZERO and not fund.closed)
            project_id = self.pick_project(data)
            fund, project = self.funds[fund_id], self.projects[project_id]
            amount = _amount(data, fund.available)
            error = (ClosedError if fund.closed else InsufficientFundsError if amount > fund.available
                     else ClosedError if project.closed else None)
            if self.expect(error, lambda: self.ledger.allocate_to_project(fund_id, project_id, _text(amount))):
                _add(fund.allocated_to, project_id, amount)
                _add(project.received, fund_id, amount)

        @precondition(lambda self: self.funds)
        @rule(data=st.data())
        def allocate_to_child_fund(self, data: st.DataObject) -> None:
            fund_id = self.pick_fund(data, lambda fund: fund.available > ZERO and fund.region != CHANGAN)
            fund = self.funds[fund_id]
            region = data.draw(st.sampled_from([*CHILD_REGIONS[fund.region], LANZHOU]))
            known = [f.document_no for f in self.funds.values()]
            document_no = data.draw(st.sampled_from([f"冀财社〔2023〕{next(self.numbers)}号", *known]))
            amount = _amount(data, fund.available)
            taken = any(f.region == region and f.document_no == document_no for f in self.funds.values())
            error = (InvalidRegionError if region not in CHILD_REGIONS[fund.region] else DuplicateKeyError if taken
                     else ClosedError if fund.closed else InsufficientFundsError if amount > fund.available else None)
            result = self.expect(error, lambda: self.ledger.allocate_to_fund(fund_id, _text(amount), region,
                                                                             document_no=document_no))
            if result:
                child_id = result["target_id"]
                _add(fund.allocated_to, child_id, amount)
                self.funds[child_id] = FundModel(region, document_no, amount, fund_id)

        @precondition(lambda self: self.funds and self.projects)
        @rule(data=st.data())
        def recover_from_project(self, data: st.DataObject) -> None:
            project_id = self.pick_project(data, holding_money=True)
            project = self.projects[project_id]
            fund_id = _pick(data, [f for f in project.received if project.undisbursed_from(f) > ZERO], list(self.funds))
            fund = self.funds[fund_id]
            amount = _amount(data, project.undisbursed_from(fund_id))
            error = InsufficientFundsError if amount > project.undisbursed_from(fund_id) else None
            if self.expect(error, lambda: self.ledger.recover(fund_id, project_id, _text(amount))):
                _add(fund.allocated_to, project_id, -amount)
                _add(project.received, fund_id, -amount)

        @precondition(lambda self: self.funds)
        @rule(data=st.data())
        def recover_from_child_fund(self, data: st.DataObject) -> None:
            parents = {fund.parent for fund in self.funds.values()}
            parent_id = _pick(data, [fund_id for fund_id in self.funds if fund_id in parents], list(self.funds))
            children = [fund_id for fund_id, fund in self.funds.items() if fund.parent == parent_id]
            source_id = _pick(data, children, list(self.funds))
            parent, source = self.funds[parent_id], self.funds[source_id]
            amount = _amount(data, source.available)
            error = (UnknownEntryError if source.parent != parent_id
                     else InsufficientFundsError if amount > source.available else None)
            if self.expect(error, lambda: self.ledger.recover(parent_id, source_id, _text(amount))):
                _add(parent.allocated_to, source_id, -amount)
                source.returned += amount

        @precondition(lambda self: self.funds and self.projects)
        @rule(data=st.data())
        def disburse(self, data: st.DataObject) -> None:
            project_id = self.pick_project(data, holding_money=True)
            project = self.projects[project_id]
            fund_id = _pick(data, [f for f in project.received if project.undisbursed_from(f) > ZERO], list(self.funds))
            amount = _amount(data, project.undisbursed_from(fund_id))
            error = (ClosedError if project.closed
                     else InsufficientFundsError if amount > project.undisbursed_from(fund_id) else None)
            result = self.expect(error, lambda: self.ledger.disburse(project_id, fund_id, _text(amount)))
            if result:
                _add(project.disbursed, fund_id, amount)
                project.entries[result["entry_id"]] = EntryModel("disbursement", amount, fund_id=fund_id)

        @precondition(lambda self: self.projects)
        @rule(data=st.data(), line=st.sampled_from(LINES))
        def spend(self, data: st.DataObject, line: str) -> None:
            project_id = self.pick_project(data)
            project = self.projects[project_id]
            amount = _amount(data, Decimal("5000.00"))
            result = self.expect(ClosedError if project.closed else None,
                                 lambda: self.ledger.spend(project_id, _text(amount), line=line))
            if result:
                _add(project.spent, line, amount)
                project.entries[result["entry_id"]] = EntryModel("expenditure", amount, line=line)

        @precondition(lambda self: self.projects)
        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            project_id = self.pick_project(data)
            project = self.projects[project_id]
            everyones = [entry_id for p in self.projects.values() for entry_id in p.entries]
            entry_id = _pick(data, list(project.entries), [uuid4(), *everyones])
            entry = project.entries.get(entry_id)
            error = (ClosedError if project.closed else UnknownEntryError if entry is None
                     else NotReversibleError if entry.kind == "reversal"
                     else AlreadyReversedError if entry.reversed else None)
            result = self.expect(error, lambda: self.ledger.reverse(project_id, entry_id))
            if result:
                assert entry is not None
                entry.reversed = True
                if entry.kind == "disbursement":
                    _add(project.disbursed, entry.fund_id, -entry.amount)
                else:
                    _add(project.spent, entry.line, -entry.amount)
                project.entries[result["entry_id"]] = EntryModel("reversal", entry.amount)

        @precondition(lambda self: self.open_count(self.projects) >= 3)  # leave most projects open to post to
        @rule(data=st.data())
        def close_project(self, data: st.DataObject) -> None:
            project_id = data.draw(st.sampled_from(list(self.projects)))
            project = self.projects[project_id]
            if self.expect(ClosedError if project.closed else None, lambda: self.ledger.close_project(project_id)):
                project.closed = True

        @precondition(lambda self: self.open_count(self.funds) >= 3)
        @rule(data=st.data())
        def close_fund(self, data: st.DataObject) -> None:
            fund_id = data.draw(st.sampled_from(list(self.funds)))
            fund = self.funds[fund_id]
            if self.expect(ClosedError if fund.closed else None,
                           lambda: self.app.close_fund(NATIONWIDE_OFFICER, fund_id, disposition="carry_over",
                                                       note="", effective_on=date(2023, 12, 31))):
                fund.closed = True

        @precondition(lambda self: self.funds and self.projects)
        @rule(data=st.data(), kind=st.sampled_from(POSTING_KINDS), amount=st.sampled_from(BAD_AMOUNTS))
        def post_an_invalid_amount(self, data: st.DataObject, kind: str, amount: Any) -> None:
            fund_id, project_id = self.pick_fund(data), self.pick_project(data)
            calls: dict[str, Callable[[], Any]] = {
                "appropriate": lambda: self.ledger.appropriate(amount),
                "allocate to project": lambda: self.ledger.allocate_to_project(fund_id, project_id, amount),
                "allocate to fund": lambda: self.ledger.allocate_to_fund(fund_id, amount, SHIJIAZHUANG),
                "recover": lambda: self.ledger.recover(fund_id, project_id, amount),
                "disburse": lambda: self.ledger.disburse(project_id, fund_id, amount),
                "spend": lambda: self.ledger.spend(project_id, amount),
            }
            self.expect(InvalidAmountError, calls[kind])

        # -- what must hold after every step ---------------------------------------------------------------

        @invariant()
        def funds_balance_and_agree_with_the_model(self) -> None:
            for fund_id, model in self.funds.items():
                fund = self.app.get_fund(fund_id)
                assert fund["appropriated"] == fund["available"] + fund["allocated"] + fund["returned"]
                assert fund["available"] >= ZERO
                assert (fund["appropriated"], fund["available"], fund["allocated"], fund["returned"]) == (
                    model.amount, model.available, model.allocated, model.returned)
                assert (fund["closed_as"] is not None) == model.closed
                assert fund["parent_fund_id"] == model.parent

        @invariant()
        def projects_never_disburse_more_than_each_fund_gave_and_agree_with_the_model(self) -> None:
            for project_id, model in self.projects.items():
                project = self.app.get_project(project_id)
                for fund_id, received in project["received"].items():
                    assert received - project["disbursed"].get(fund_id, ZERO) >= ZERO
                assert all(amount >= ZERO for amount in project["disbursed"].values())
                assert _nonzero(project["received"]) == _nonzero(model.received)
                assert _nonzero(project["disbursed"]) == _nonzero(model.disbursed)
                assert _nonzero(project["spent"]) == _nonzero(model.spent)
                assert project["status"] == ("closed" if model.closed else "active")
                assert {UUID(str(e["entry_id"])): (e["kind"], e["reversed_by"] is not None)
                        for e in project["entries"]} == {
                    entry_id: (entry.kind, entry.reversed) for entry_id, entry in model.entries.items()}

        @invariant()
        def each_fund_has_allocated_exactly_what_its_children_and_projects_hold_from_it(self) -> None:
            funds = {fund_id: self.app.get_fund(fund_id) for fund_id in self.funds}
            projects = [self.app.get_project(project_id) for project_id in self.projects]
            for fund_id, fund in funds.items():
                in_children = sum((child["appropriated"] - child["returned"] for child in funds.values()
                                   if child["parent_fund_id"] == fund_id), ZERO)
                in_projects = sum((p["received"].get(str(fund_id), ZERO) for p in projects), ZERO)
                assert fund["allocated"] == in_children + in_projects

        @invariant()
        def money_is_conserved_across_the_tree(self) -> None:
            funds = [self.app.get_fund(fund_id) for fund_id in self.funds]
            projects = [self.app.get_project(project_id) for project_id in self.projects]
            appropriated_at_the_top = sum((f["appropriated"] for f in funds if f["parent_fund_id"] is None), ZERO)
            held_by_funds = sum((f["available"] for f in funds), ZERO)
            undisbursed = sum((p["received_total"] - p["disbursed_total"] for p in projects), ZERO)
            disbursed = sum((p["disbursed_total"] for p in projects), ZERO)
            assert appropriated_at_the_top == held_by_funds + undisbursed + disbursed

    return MoneyIsConserved


def _settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=True,  # the same sequences on every run and machine: CI is deterministic
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def test_money_is_conserved_and_no_balance_goes_negative_under_random_postings_in_memory() -> None:
    run_state_machine_as_test(conservation_machine(lambda: LedgerApplication(env={})), settings=_settings(50, 50))


def test_money_is_conserved_and_no_balance_goes_negative_under_random_postings_on_each_store(
    fresh_env: Callable[[], dict[str, str]],
) -> None:
    run_state_machine_as_test(conservation_machine(lambda: LedgerApplication(env=fresh_env())),
                              settings=_settings(8, 25))


@pytest.mark.parametrize("amount", ["0.01", "999999999999.99"])
def test_money_is_conserved_at_the_extremes_of_an_amount(amount: str) -> None:
    app = LedgerApplication(env={})
    ledger = Ledger(app, actor=NATIONWIDE_OFFICER)
    fund_id = ledger.appropriate(amount)
    child_id = ledger.allocate_to_fund(fund_id, amount)["target_id"]
    project_id = ledger.register_project()
    ledger.allocate_to_project(child_id, project_id, amount)
    ledger.disburse(project_id, child_id, amount)

    fund, child, project = app.get_fund(fund_id), app.get_fund(child_id), app.get_project(project_id)
    assert fund["available"] == child["available"] == ZERO
    assert project["disbursed_total"] == Decimal(amount)
