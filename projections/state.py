"""Read-model state folded from the ledger's events: everything the audit rules need about funds and projects.

The same fold serves the live projection (state kept as JSON rows between batches) and auditors' replays (state
kept in memory), so a replay and the live views cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from ledger.money import ZERO


def event_ref(event: Any, position: int, origin: str | None = None) -> dict[str, Any]:
    """How findings cite evidence: the event's id (aggregate id and version) and its log position. ``origin``:
    the aggregate id as text, when the caller has it already."""
    return {"event_id": f"{event.originator_id if origin is None else origin}:{event.originator_version}",
            "position": position, "type": type(event).__name__, "effective_on": getattr(event, "effective_on", None)}


class Texts(dict[Any, str]):
    """``str`` of ids, each worked out once (an event's aggregate id is asked for several times)."""

    def __missing__(self, key: Any) -> str:
        text = self[key] = str(key)
        return text


@dataclass
class FundState:
    id: str
    holder_region: str
    fiscal_year: int
    document_no: str
    parent_fund_id: str | None
    purpose: str
    allowed_categories: list[str]
    amount: Decimal
    appropriated_on: date
    allocated_to_funds: Decimal = ZERO
    allocated_to_projects: Decimal = ZERO
    recovered: Decimal = ZERO
    returned: Decimal = ZERO
    closed_as: str | None = None
    allocations: list[dict[str, Any]] = field(default_factory=list)
    last_position: int = 0

    @property
    def available(self) -> Decimal:
        return self.amount - self.allocated_to_funds - self.allocated_to_projects + self.recovered - self.returned

    def allocated_to(self, target_id: str) -> Decimal:
        return sum((a["amount"] for a in self.allocations if a["target_id"] == target_id), ZERO)


@dataclass
class ProjectState:
    id: str
    code: str
    name: str
    township_code: str
    period_start: date
    period_end: date
    provider_uscc: str | None
    provider_name: str | None
    registered_on: date
    budget_lines: dict[str, Decimal]
    monthly_plan: list[dict[str, Any]] = field(default_factory=list)
    output_targets: list[dict[str, Any]] = field(default_factory=list)
    registration: dict[str, Any] = field(default_factory=dict)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    returns: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    status: str = "active"
    closed_on: date | None = None
    last_position: int = 0

    # Set on a snapshot that nothing changes any more (``snapshot``, ``project_on``): the sorted live entries of
    # each kind, worked out once however many rules ask.
    _live: ClassVar[dict[str, list[dict[str, Any]]] | None] = None

    def live_entries(self, kind: str) -> list[dict[str, Any]]:
        """Unreversed disbursements or expenditures, in business-date order then log order."""
        if self._live is not None and kind in self._live:
            return list(self._live[kind])
        found = sorted((e for e in self.entries if e["kind"] == kind and e["reversed_by"] is None),
                       key=lambda e: (e["effective_on"], e["ref"]["position"]))
        if self._live is not None:
            self._live[kind] = found
            return list(found)
        return found

    def reversed_total(self) -> Decimal:
        return sum((e["amount"] for e in self.entries if e["kind"] != "reversal" and e["reversed_by"]), ZERO)


def snapshot(project: ProjectState) -> ProjectState:
    """The project as it stands, to be judged: the same data (not copied), which nothing may change any more."""
    state = ProjectState(**to_record(project))
    state._live = {}
    return state


def to_record(state: FundState | ProjectState) -> dict[str, Any]:
    """The state as plain data for storage (shallow: the encoder walks the nested lists and dicts)."""
    return {f.name: getattr(state, f.name) for f in fields(state)}


def from_record(cls: type[FundState] | type[ProjectState], record: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in record.items() if k in names})


class ReadModel:
    """Fund and project states keyed by id, updated event by event. A loader fetches states not yet in memory."""

    def __init__(self, load: Callable[[str, str], dict[str, Any] | None] | None = None) -> None:
        self.funds: dict[str, FundState] = {}
        self.projects: dict[str, ProjectState] = {}
        self.procurement_projects: dict[str, str] = {}
        self.decisions: list[dict[str, Any]] = []
        self._load = load
        self.texts = Texts()  # for one batch: they are never evicted
        self.touched_funds: set[str] = set()
        self.touched_projects: set[str] = set()
        # items of a state's lists changed in place (not appended): their stored rows are written again
        self.changed_items: dict[tuple[str, str], dict[str, set[int]]] = {}

    def fund(self, fund_id: str) -> FundState | None:
        if fund_id not in self.funds and self._load is not None:
            record = self._load("fund", fund_id)
            if record is not None:
                self.funds[fund_id] = from_record(FundState, record)
        return self.funds.get(fund_id)

    def project(self, project_id: str) -> ProjectState | None:
        if project_id not in self.projects and self._load is not None:
            record = self._load("project", project_id)
            if record is not None:
                self.projects[project_id] = from_record(ProjectState, record)
        return self.projects.get(project_id)

    def apply(self, topic: str, event: Any, position: int) -> None:
        handler = HANDLERS.get(topic)
        if handler is not None:
            handler(self, event, position)

    def _touch_fund(self, fund: FundState, position: int) -> None:
        fund.last_position = position
        self.touched_funds.add(fund.id)

    def _touch_project(self, project: ProjectState, position: int) -> None:
        project.last_position = position
        self.touched_projects.add(project.id)

    # -- funds ---------------------------------------------------------------------------------------------------

    def _fund_appropriated(self, e: Any, position: int) -> None:
        fund = FundState(
            id=str(e.originator_id), holder_region=e.holder_region, fiscal_year=e.fiscal_year,
            document_no=e.document_no, parent_fund_id=None if e.parent_fund_id is None else str(e.parent_fund_id),
            purpose=e.purpose, allowed_categories=list(e.allowed_categories), amount=e.amount,
            appropriated_on=e.effective_on,
        )
        self.funds[fund.id] = fund
        self._touch_fund(fund, position)

    def _fund_allocated(self, e: Any, position: int) -> None:
        fund = self.fund(str(e.originator_id))
        if fund is None:
            return
        if e.target_kind == "fund":
            fund.allocated_to_funds += e.amount
        else:
            fund.allocated_to_projects += e.amount
        fund.allocations.append({"allocation_id": str(e.allocation_id), "target_kind": e.target_kind,
                                 "target_id": str(e.target_id), "amount": e.amount, "effective_on": e.effective_on,
                                 "ref": event_ref(e, position)})
        self._touch_fund(fund, position)

    def _fund_recovered(self, e: Any, position: int) -> None:
        fund = self.fund(str(e.originator_id))
        if fund is None:
            return
        fund.recovered += e.amount
        fund.allocations.append({"allocation_id": str(e.recovery_id), "target_kind": "recovery",
                                 "target_id": str(e.source_id), "amount": -e.amount, "effective_on": e.effective_on,
                                 "ref": event_ref(e, position)})
        self._touch_fund(fund, position)

    def _fund_returned(self, e: Any, position: int) -> None:
        fund = self.fund(str(e.originator_id))
        if fund is not None:
            fund.returned += e.amount
            self._touch_fund(fund, position)

    def _fund_closed(self, e: Any, position: int) -> None:
        fund = self.fund(str(e.originator_id))
        if fund is not None:
            fund.closed_as = e.disposition
            self._touch_fund(fund, position)

    # -- projects ------------------------------------------------------------------------------------------------

    def _project_registered(self, e: Any, position: int) -> None:
        project = ProjectState(
            id=str(e.originator_id), code=e.code, name=e.name, township_code=e.township_code,
            period_start=e.period_start, period_end=e.period_end, provider_uscc=e.provider_uscc,
            provider_name=e.provider_name, registered_on=e.effective_on, budget_lines=dict(e.budget_lines),
            monthly_plan=list(e.monthly_plan), output_targets=list(e.output_targets),
            registration={"station_name": e.station_name, "service_domains": list(e.service_domains),
                          "ref": event_ref(e, position)},
        )
        self.projects[project.id] = project
        self._touch_project(project, position)

    def _with_project(self, e: Any, position: int, change: Callable[[ProjectState], None]) -> None:
        project = self.project(self.texts[e.originator_id])
        if project is not None:
            change(project)
            self._touch_project(project, position)

    def _project_received(self, e: Any, position: int) -> None:
        self._with_project(e, position, lambda p: p.receipts.append(
            {"fund_id": str(e.fund_id), "allocation_id": str(e.allocation_id), "amount": e.amount,
             "effective_on": e.effective_on, "ref": event_ref(e, position)}))

    def _project_surplus_returned(self, e: Any, position: int) -> None:
        self._with_project(e, position, lambda p: p.returns.append(
            {"fund_id": str(e.fund_id), "amount": e.amount, "effective_on": e.effective_on,
             "ref": event_ref(e, position)}))

    def _project_revised(self, e: Any, position: int) -> None:
        self._with_project(e, position, lambda p: p.revisions.append(
            {"moves": list(e.moves), "approval_document": e.approval_document, "effective_on": e.effective_on,
             "ref": event_ref(e, position)}))

    def _project_committed(self, e: Any, position: int) -> None:
        def change(p: ProjectState) -> None:
            p.contracts[str(e.procurement_id)] = {
                "contract_no": e.contract_no, "amount": e.amount, "provider_uscc": e.provider_uscc,
                "provider_name": e.provider_name, "installments": list(e.installments), "signed_on": e.effective_on,
                "amendments": [], "ref": event_ref(e, position)}
            p.provider_uscc, p.provider_name = e.provider_uscc, e.provider_name

        self._with_project(e, position, change)

    def _project_amended(self, e: Any, position: int) -> None:
        def change(p: ProjectState) -> None:
            contract = p.contracts.get(str(e.procurement_id))
            if contract is not None:
                contract["amendments"].append({"amount_delta": e.amount_delta, "effective_on": e.effective_on,
                                               "ref": event_ref(e, position)})

        self._with_project(e, position, change)

    def _project_disbursed(self, e: Any, position: int) -> None:
        self._with_project(e, position, lambda p: p.entries.append(
            {"entry_id": str(e.entry_id), "kind": "disbursement", "amount": e.amount, "fund_id": str(e.fund_id),
             "installment": e.installment, "procurement_id": None if e.procurement_id is None
             else str(e.procurement_id), "payee_name": e.payee_name, "payee_uscc": e.payee_uscc,
             "effective_on": e.effective_on, "reversed_by": None, "ref": event_ref(e, position)}))

    def _project_spent(self, e: Any, position: int) -> None:
        self._with_project(e, position, lambda p: p.entries.append(
            {"entry_id": str(e.entry_id), "kind": "expenditure", "amount": e.amount, "line": e.line,
             "payee_name": e.payee_name, "payee_kind": e.payee_kind, "payee_uscc": e.payee_uscc,
             "invoice_no": e.invoice_no, "fund_id": None if e.fund_id is None else str(e.fund_id),
             "effective_on": e.effective_on, "reversed_by": None,
             "ref": event_ref(e, position, self.texts[e.originator_id])}))

    def _project_reversed(self, e: Any, position: int) -> None:
        def change(p: ProjectState) -> None:
            for index, entry in enumerate(p.entries):
                if entry["entry_id"] == str(e.reversed_entry_id):
                    entry["reversed_by"] = str(e.entry_id)
                    entry["reversed_on"] = e.effective_on
                    self.changed_items.setdefault(("project", p.id), {}).setdefault("entries", set()).add(index)
            p.entries.append({"entry_id": str(e.entry_id), "kind": "reversal", "amount": e.amount,
                              "reversed_entry_id": str(e.reversed_entry_id), "effective_on": e.effective_on,
                              "reversed_by": None, "ref": event_ref(e, position)})

        self._with_project(e, position, change)

    def _project_outputs(self, e: Any, position: int) -> None:
        self._with_project(e, position, lambda p: p.outputs.__setitem__(
            e.month, {"values": dict(e.values), "effective_on": e.effective_on, "ref": event_ref(e, position)}))

    def _project_evaluated(self, e: Any, position: int) -> None:
        self._with_project(e, position, lambda p: p.evaluations.append(
            {"evaluation_id": str(e.evaluation_id), "kind": e.kind, "evaluator": e.evaluator,
             "weights": dict(e.weights), "scores": dict(e.scores), "total": e.total, "rating": e.rating,
             "effective_on": e.effective_on, "ref": event_ref(e, position)}))


def _status_handler(status: str) -> Callable[[ReadModel, Any, int], None]:
    def handler(model: ReadModel, e: Any, position: int) -> None:
        def change(p: ProjectState) -> None:
            p.status = status
            if status == "closed":
                p.closed_on = e.effective_on

        model._with_project(e, position, change)

    return handler


HANDLERS: dict[str, Callable[[ReadModel, Any, int], None]] = {
    "ledger:Fund.Appropriated": ReadModel._fund_appropriated,
    "ledger:Fund.Allocated": ReadModel._fund_allocated,
    "ledger:Fund.AllocationRecovered": ReadModel._fund_recovered,
    "ledger:Fund.Returned": ReadModel._fund_returned,
    "ledger:Fund.Closed": ReadModel._fund_closed,
    "ledger:Project.Registered": ReadModel._project_registered,
    "ledger:Project.FundsReceived": ReadModel._project_received,
    "ledger:Project.SurplusReturned": ReadModel._project_surplus_returned,
    "ledger:Project.BudgetRevised": ReadModel._project_revised,
    "ledger:Project.ContractCommitted": ReadModel._project_committed,
    "ledger:Project.CommitmentAmended": ReadModel._project_amended,
    "ledger:Project.Disbursed": ReadModel._project_disbursed,
    "ledger:Project.ExpenditureRecorded": ReadModel._project_spent,
    "ledger:Project.EntryReversed": ReadModel._project_reversed,
    "ledger:Project.OutputsReported": ReadModel._project_outputs,
    "ledger:Project.Evaluated": ReadModel._project_evaluated,
    "ledger:Project.Suspended": _status_handler("suspended"),
    "ledger:Project.Resumed": _status_handler("active"),
    "ledger:Project.Closed": _status_handler("closed"),
}


def project_on(project: ProjectState, on: date) -> ProjectState:
    """The project as it stood on a business date: only what had taken effect by then, reversals included."""
    def by(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [dict(i) for i in items if i["effective_on"] <= on]

    entries = by(project.entries)
    reversals = {e["entry_id"] for e in entries if e["kind"] == "reversal"}
    for entry in entries:
        if entry["reversed_by"] is not None and entry["reversed_by"] not in reversals:
            entry["reversed_by"] = None
    contracts = {}
    for pid, contract in project.contracts.items():
        if contract["signed_on"] <= on:
            contracts[pid] = {**contract, "amendments": by(contract["amendments"])}
    state = ProjectState(
        **{**to_record(project), "receipts": by(project.receipts), "returns": by(project.returns),
           "revisions": by(project.revisions), "contracts": contracts, "entries": entries,
           "outputs": {m: o for m, o in project.outputs.items() if o["effective_on"] <= on},
           "evaluations": by(project.evaluations),
           "status": project.status if project.closed_on is None or project.closed_on <= on else "active",
           "closed_on": project.closed_on if project.closed_on is not None and project.closed_on <= on else None}
    )
    state._live = {}
    return state


def fund_on(fund: FundState, on: date) -> FundState | None:
    """The fund as it stood on a business date (None before it was appropriated). Money returned up is kept as an
    undated total by the fold, so it is counted whenever it happened."""
    if fund.appropriated_on > on:
        return None
    allocations = [a for a in fund.allocations if a["effective_on"] <= on]

    def total(kind: str) -> Decimal:
        return sum((a["amount"] for a in allocations if a["target_kind"] == kind), ZERO)

    return FundState(**{**to_record(fund), "allocations": allocations, "allocated_to_funds": total("fund"),
                        "allocated_to_projects": total("project"), "recovered": -total("recovery")})
