"""Project: one funded piece of work, e.g. running one township social work station for a year."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple, Self, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import (
    AlreadyReversedError,
    ClosedError,
    InvalidStateError,
    NotReversibleError,
    UnknownEntryError,
    ValidationError,
    require_available,
)
from ledger.money import ZERO

REVERSIBLE_KINDS = ("disbursement", "expenditure")


class Entry(NamedTuple):
    """A disbursement, expenditure or reversal of a project, kept for reversals.

    Never changed once made (a reversal replaces the entry it cancels), so every copy of a project shares its
    entries and copying a project copies one dict however many it holds (``Project.SHALLOW_COPIED``); a tuple
    instead of a dict each, because a project keeps every entry it ever posted and the API caches hundreds, and
    because a snapshot of a long project makes one per entry (a tuple is made in half the time of a frozen
    dataclass).
    """

    kind: str
    amount: Decimal
    fund_id: str | None = None  # a disbursement's
    line: str | None = None  # an expenditure's
    reversed_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The plain dict entries used to be, and still are in views (and in snapshots stored before ``as_row``):
        kind, amount, the fund_id of a disbursement or the line of an expenditure, reversed_by."""
        data: dict[str, Any] = {"kind": self.kind, "amount": self.amount}
        if self.fund_id is not None:
            data["fund_id"] = self.fund_id
        if self.line is not None:
            data["line"] = self.line
        data["reversed_by"] = self.reversed_by
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        return cls(kind=sys.intern(data["kind"]), amount=data["amount"], fund_id=_shared(data.get("fund_id")),
                   line=_shared(data.get("line")), reversed_by=data.get("reversed_by"))

    def as_row(self, key: str) -> list[Any]:
        """The entry as a snapshot row: ``[key, kind, amount as a decimal string, fund_id, line, reversed_by]``."""
        return [key, self.kind, str(self.amount), self.fund_id, self.line, self.reversed_by]

    @classmethod
    def from_rows(cls, rows: list[list[Any]]) -> dict[str, Entry]:
        """Entries by id from snapshot rows (``as_row``): one loop with nothing called per entry but the tuple's
        and the amount's constructors."""
        new, intern = tuple.__new__, sys.intern
        return {key: new(cls, (intern(kind), Decimal(amount), fund_id and intern(fund_id), line and intern(line),
                               reversed_by))
                for key, kind, amount, fund_id, line, reversed_by in rows}

    def __deepcopy__(self, memo: dict[int, Any]) -> Entry:
        return self  # immutable, and so is everything it holds


def _shared(text: str | None) -> str | None:
    """One string object for each fund id or budget line, however many entries name it (each event and each
    snapshot decodes its own)."""
    return None if text is None else sys.intern(text)


class Project(Aggregate):
    """Money received from funds, committed by contracts, disbursed to the provider and spent on budget lines.

    Integrity kept here: a fund's money cannot be disbursed or returned beyond what the project received from it,
    an entry is reversed at most once, and a closed project takes no postings.
    """

    TOPIC = "ledger:Project"
    id: UUID  # given by the caller: a uuid5 of the natural key

    class Event(Aggregate.Event):
        TOPIC = "ledger:Project.Event"

    # Containers whose items are replaced, never changed in place: a copy of a project (ledger/repository.py)
    # copies these containers and shares their items.
    SHALLOW_COPIED = frozenset({"entries"})

    class Snapshot(Aggregate.Snapshot):
        """Keeps entries as rows ``[entry id, kind, amount, fund id, line, reversed by]`` under ``entry_rows``, the
        amount as its decimal string: plain JSON that decodes without a call per entry, where a dict per entry
        costs the library's transcoder two object hooks each (a 1,000-entry project: ~8 ms instead of ~1 ms).
        Snapshots stored before hold ``entries`` as dicts; they load the same. Snapshots are a cache: a ledger
        older than this format, rolled back to, must have the ``ledger_snapshots`` rows deleted first (it then
        replays from events)."""

        TOPIC = "ledger:Project.Snapshot"

        @classmethod
        def take(cls, aggregate: Any) -> Self:
            snapshot: Self = super().take(aggregate)
            del snapshot.state["entries"]
            snapshot.state["entry_rows"] = [entry.as_row(key) for key, entry in aggregate.entries.items()]
            return snapshot

        def mutate(self, _: None) -> Project:
            project = cast(Project, super().mutate(_))
            state = project.__dict__
            rows = state.pop("entry_rows", None)
            if rows is not None:
                project.entries = Entry.from_rows(rows)
            else:  # stored before entries were rows: dicts
                stored = cast(dict[str, Mapping[str, Any]], project.entries)
                project.entries = {key: Entry.from_dict(entry) for key, entry in stored.items()}
            return project

    @event("Registered", topic="ledger:Project.Registered")
    def __init__(
        self,
        *,
        code: str,
        name: str,
        township_code: str,
        station_name: str,
        service_domains: list[str],
        provider_name: str | None,
        provider_uscc: str | None,
        period_start: date,
        period_end: date,
        budget_lines: dict[str, Decimal],
        monthly_plan: list[dict[str, Any]],
        output_targets: list[dict[str, Any]],
        effective_on: date,
        actor: str,
    ) -> None:
        self.code = code
        self.name = name
        self.township_code = township_code
        self.station_name = station_name
        self.service_domains = service_domains
        self.provider_name = provider_name
        self.provider_uscc = provider_uscc
        self.period_start = period_start
        self.period_end = period_end
        self.budget_lines = dict(budget_lines)
        self.monthly_plan = monthly_plan
        self.output_targets = output_targets
        self.registered_on = effective_on
        self.received: dict[str, Decimal] = {}
        self.disbursed: dict[str, Decimal] = {}
        self.spent: dict[str, Decimal] = {}
        self.entries: dict[str, Entry] = {}
        self.commitments: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, int]] = {}
        self.evaluations: list[dict[str, Any]] = []
        self.status = "active"

    # -- derived figures -------------------------------------------------------------------------------------

    @property
    def budget_total(self) -> Decimal:
        return sum(self.budget_lines.values(), ZERO)

    @property
    def received_total(self) -> Decimal:
        return sum(self.received.values(), ZERO)

    @property
    def disbursed_total(self) -> Decimal:
        return sum(self.disbursed.values(), ZERO)

    @property
    def spent_total(self) -> Decimal:
        return sum(self.spent.values(), ZERO)

    @property
    def committed_total(self) -> Decimal:
        return sum((c["amount"] for c in self.commitments.values()), ZERO)

    def undisbursed_from(self, fund_id: UUID) -> Decimal:
        """Money received from a fund and not yet paid out: what can still be disbursed or returned."""
        key = str(fund_id)
        return self.received.get(key, ZERO) - self.disbursed.get(key, ZERO)

    @property
    def is_closed(self) -> bool:
        return self.status == "closed"

    def _check_open(self) -> None:
        if self.is_closed:
            raise ClosedError(f"project {self.code} is closed and takes no postings", project_id=str(self.id))

    # -- money in ----------------------------------------------------------------------------------------------

    def receive_funds(
        self, *, fund_id: UUID, allocation_id: UUID, amount: Decimal, effective_on: date, actor: str
    ) -> None:
        self._check_open()
        self._funds_received(
            fund_id=fund_id, allocation_id=allocation_id, amount=amount, effective_on=effective_on, actor=actor
        )

    @event("FundsReceived", topic="ledger:Project.FundsReceived")
    def _funds_received(
        self, fund_id: UUID, allocation_id: UUID, amount: Decimal, effective_on: date, actor: str
    ) -> None:
        key = str(fund_id)
        self.received[key] = self.received.get(key, ZERO) + amount

    def return_surplus(
        self, *, entry_id: UUID, fund_id: UUID, amount: Decimal, reason: str, effective_on: date, actor: str
    ) -> None:
        """Returns unspent money to the fund it came from; allowed after closure, that is when it happens."""
        undisbursed = self.undisbursed_from(fund_id)
        require_available(amount, undisbursed, f"project {self.code} holds undisbursed from fund {fund_id}", "return")
        self._surplus_returned(
            entry_id=entry_id, fund_id=fund_id, amount=amount, reason=reason, effective_on=effective_on, actor=actor
        )

    @event("SurplusReturned", topic="ledger:Project.SurplusReturned")
    def _surplus_returned(
        self, entry_id: UUID, fund_id: UUID, amount: Decimal, reason: str, effective_on: date, actor: str
    ) -> None:
        key = str(fund_id)
        self.received[key] = self.received.get(key, ZERO) - amount

    # -- budget and commitments ----------------------------------------------------------------------------

    def revise_budget(
        self,
        *,
        revision_id: UUID,
        moves: list[dict[str, Any]],
        approval_document: str | None,
        reason: str,
        effective_on: date,
        actor: str,
    ) -> None:
        """Moves money between budget lines; a line can give at most what it has."""
        self._check_open()
        remaining = dict(self.budget_lines)
        for move in moves:
            source, target, amount = move["from_line"], move["to_line"], move["amount"]
            if source == target:
                raise ValidationError(f"a budget move needs two different lines, got {source} twice", field="moves")
            if source not in remaining:
                raise ValidationError(f"project {self.code} has no budget line {source!r}", field="moves")
            require_available(amount, remaining[source], f"budget line {source} has", "move")
            remaining[source] -= amount
            remaining[target] = remaining.get(target, ZERO) + amount
        self._budget_revised(
            revision_id=revision_id,
            moves=moves,
            approval_document=approval_document,
            reason=reason,
            effective_on=effective_on,
            actor=actor,
        )

    @event("BudgetRevised", topic="ledger:Project.BudgetRevised")
    def _budget_revised(
        self,
        revision_id: UUID,
        moves: list[dict[str, Any]],
        approval_document: str | None,
        reason: str,
        effective_on: date,
        actor: str,
    ) -> None:
        for move in moves:
            self.budget_lines[move["from_line"]] -= move["amount"]
            self.budget_lines[move["to_line"]] = self.budget_lines.get(move["to_line"], ZERO) + move["amount"]

    def commit_contract(
        self,
        *,
        procurement_id: UUID,
        contract_no: str,
        amount: Decimal,
        provider_name: str,
        provider_uscc: str,
        installments: list[dict[str, Any]],
        effective_on: date,
        actor: str,
    ) -> None:
        """Signing a contract encumbers the project's budget; disbursements post against the commitment."""
        self._check_open()
        self._contract_committed(
            procurement_id=procurement_id,
            contract_no=contract_no,
            amount=amount,
            provider_name=provider_name,
            provider_uscc=provider_uscc,
            installments=installments,
            effective_on=effective_on,
            actor=actor,
        )

    @event("ContractCommitted", topic="ledger:Project.ContractCommitted")
    def _contract_committed(
        self,
        procurement_id: UUID,
        contract_no: str,
        amount: Decimal,
        provider_name: str,
        provider_uscc: str,
        installments: list[dict[str, Any]],
        effective_on: date,
        actor: str,
    ) -> None:
        self.commitments[str(procurement_id)] = {
            "contract_no": contract_no,
            "amount": amount,
            "provider_name": provider_name,
            "provider_uscc": provider_uscc,
            "installments": installments,
            "signed_on": effective_on,
        }
        self.provider_name = provider_name
        self.provider_uscc = provider_uscc

    def amend_commitment(
        self, *, procurement_id: UUID, amount_delta: Decimal, effective_on: date, actor: str
    ) -> None:
        self._check_open()
        commitment = self.commitments.get(str(procurement_id))
        if commitment is None:
            raise InvalidStateError(f"project {self.code} has no contract from procurement {procurement_id}")
        if commitment["amount"] + amount_delta <= ZERO:
            raise ValidationError("an amendment cannot bring a contract to zero or below", field="amount_delta")
        self._commitment_amended(
            procurement_id=procurement_id, amount_delta=amount_delta, effective_on=effective_on, actor=actor
        )

    @event("CommitmentAmended", topic="ledger:Project.CommitmentAmended")
    def _commitment_amended(self, procurement_id: UUID, amount_delta: Decimal, effective_on: date, actor: str) -> None:
        self.commitments[str(procurement_id)]["amount"] += amount_delta

    # -- money out ----------------------------------------------------------------------------------------

    def disburse(
        self,
        *,
        entry_id: UUID,
        fund_id: UUID,
        amount: Decimal,
        installment: int | None,
        procurement_id: UUID | None,
        payee_name: str,
        payee_uscc: str | None,
        voucher_no: str | None,
        effective_on: date,
        actor: str,
    ) -> None:
        """Pays an installment from money the project received from the named fund (拨付)."""
        self._check_open()
        undisbursed = self.undisbursed_from(fund_id)
        require_available(amount, undisbursed, f"project {self.code} holds from fund {fund_id}", "disburse")
        self._disbursed(
            entry_id=entry_id,
            fund_id=fund_id,
            amount=amount,
            installment=installment,
            procurement_id=procurement_id,
            payee_name=payee_name,
            payee_uscc=payee_uscc,
            voucher_no=voucher_no,
            effective_on=effective_on,
            actor=actor,
        )

    @event("Disbursed", topic="ledger:Project.Disbursed")
    def _disbursed(
        self,
        entry_id: UUID,
        fund_id: UUID,
        amount: Decimal,
        installment: int | None,
        procurement_id: UUID | None,
        payee_name: str,
        payee_uscc: str | None,
        voucher_no: str | None,
        effective_on: date,
        actor: str,
    ) -> None:
        key = sys.intern(str(fund_id))
        self.disbursed[key] = self.disbursed.get(key, ZERO) + amount
        self.entries[str(entry_id)] = Entry(kind="disbursement", amount=amount, fund_id=key)

    def record_expenditure(
        self,
        *,
        entry_id: UUID,
        line: str,
        amount: Decimal,
        payee_name: str,
        payee_kind: str,
        payee_uscc: str | None,
        invoice_no: str | None,
        fund_id: UUID | None,
        description: str,
        effective_on: date,
        actor: str,
    ) -> None:
        """Records spending on a budget line; whether it was allowed is for the audit rules to judge."""
        self._check_open()
        self._expenditure_recorded(
            entry_id=entry_id,
            line=line,
            amount=amount,
            payee_name=payee_name,
            payee_kind=payee_kind,
            payee_uscc=payee_uscc,
            invoice_no=invoice_no,
            fund_id=fund_id,
            description=description,
            effective_on=effective_on,
            actor=actor,
        )

    @event("ExpenditureRecorded", topic="ledger:Project.ExpenditureRecorded")
    def _expenditure_recorded(
        self,
        entry_id: UUID,
        line: str,
        amount: Decimal,
        payee_name: str,
        payee_kind: str,
        payee_uscc: str | None,
        invoice_no: str | None,
        fund_id: UUID | None,
        description: str,
        effective_on: date,
        actor: str,
    ) -> None:
        line = sys.intern(line)
        self.spent[line] = self.spent.get(line, ZERO) + amount
        self.entries[str(entry_id)] = Entry(kind="expenditure", amount=amount, line=line)

    def reverse_entry(
        self, *, entry_id: UUID, reversed_entry_id: UUID, reason: str, effective_on: date, actor: str
    ) -> None:
        """Cancels a disbursement or expenditure by a new entry (冲销); nothing is edited or deleted."""
        self._check_open()
        original = self.entries.get(str(reversed_entry_id))
        if original is None:
            raise UnknownEntryError(f"project {self.code} has no entry {reversed_entry_id}")
        if original.kind not in REVERSIBLE_KINDS:
            raise NotReversibleError(f"entry {reversed_entry_id} is a {original.kind} and cannot be reversed")
        if original.reversed_by is not None:
            raise AlreadyReversedError(
                f"entry {reversed_entry_id} was already reversed by {original.reversed_by}",
                reversed_by=original.reversed_by,
            )
        self._entry_reversed(
            entry_id=entry_id,
            reversed_entry_id=reversed_entry_id,
            kind=original.kind,
            amount=original.amount,
            reason=reason,
            effective_on=effective_on,
            actor=actor,
        )

    @event("EntryReversed", topic="ledger:Project.EntryReversed")
    def _entry_reversed(
        self,
        entry_id: UUID,
        reversed_entry_id: UUID,
        kind: str,
        amount: Decimal,
        reason: str,
        effective_on: date,
        actor: str,
    ) -> None:
        key, original_key = str(entry_id), str(reversed_entry_id)
        original = self.entries[original_key]
        self.entries[original_key] = original._replace(reversed_by=key)  # replaced, not changed: copies share it
        if kind == "disbursement":
            self.disbursed[cast(str, original.fund_id)] -= amount
        else:
            self.spent[cast(str, original.line)] -= amount
        self.entries[key] = Entry(kind="reversal", amount=amount)

    # -- outputs, evaluations, life cycle ------------------------------------------------------------------

    def report_outputs(
        self, *, report_id: UUID, month: str, values: dict[str, int], effective_on: date, actor: str
    ) -> None:
        """A month's output indicators; a second report for the same month corrects the first."""
        self._check_open()
        self._outputs_reported(report_id=report_id, month=month, values=values, effective_on=effective_on, actor=actor)

    @event("OutputsReported", topic="ledger:Project.OutputsReported")
    def _outputs_reported(
        self, report_id: UUID, month: str, values: dict[str, int], effective_on: date, actor: str
    ) -> None:
        self.outputs[month] = values

    def evaluate(
        self,
        *,
        evaluation_id: UUID,
        kind: str,
        evaluator: str,
        weights: dict[str, Decimal],
        scores: dict[str, Decimal],
        total: Decimal,
        rating: str,
        note: str,
        effective_on: date,
        actor: str,
    ) -> None:
        self._evaluated(
            evaluation_id=evaluation_id,
            kind=kind,
            evaluator=evaluator,
            weights=weights,
            scores=scores,
            total=total,
            rating=rating,
            note=note,
            effective_on=effective_on,
            actor=actor,
        )

    @event("Evaluated", topic="ledger:Project.Evaluated")
    def _evaluated(
        self,
        evaluation_id: UUID,
        kind: str,
        evaluator: str,
        weights: dict[str, Decimal],
        scores: dict[str, Decimal],
        total: Decimal,
        rating: str,
        note: str,
        effective_on: date,
        actor: str,
    ) -> None:
        self.evaluations.append(
            {"evaluation_id": str(evaluation_id), "kind": kind, "total": total, "rating": rating, "on": effective_on}
        )

    def suspend(self, *, reason: str, effective_on: date, actor: str) -> None:
        if self.status != "active":
            raise InvalidStateError(f"project {self.code} is {self.status}, not active")
        self._suspended(reason=reason, effective_on=effective_on, actor=actor)

    @event("Suspended", topic="ledger:Project.Suspended")
    def _suspended(self, reason: str, effective_on: date, actor: str) -> None:
        self.status = "suspended"

    def resume(self, *, reason: str, effective_on: date, actor: str) -> None:
        if self.status != "suspended":
            raise InvalidStateError(f"project {self.code} is {self.status}, not suspended")
        self._resumed(reason=reason, effective_on=effective_on, actor=actor)

    @event("Resumed", topic="ledger:Project.Resumed")
    def _resumed(self, reason: str, effective_on: date, actor: str) -> None:
        self.status = "active"

    def close(self, *, reason: str, effective_on: date, actor: str) -> None:
        self._check_open()
        self._closed(reason=reason, effective_on=effective_on, actor=actor)

    @event("Closed", topic="ledger:Project.Closed")
    def _closed(self, reason: str, effective_on: date, actor: str) -> None:
        self.status = "closed"
