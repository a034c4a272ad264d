"""Read-model state of contracting processes (政府购买服务), folded from the Procurement aggregate's events.

The same fold serves the live audit projection (``ProcurementModel``, event by event, states kept as JSON rows
between batches) and whole-log folds (``fold_procurements``). Disbursements that name a procurement
(``ledger:Project.Disbursed`` with a ``procurement_id``) are folded in as well, with their reversals, because PRC-01
needs the first disbursement. Each state keeps its step records (``history``) so that ``procurement_on`` can fold
it again as it stood on a business date, for the rules judged on an evaluation date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ledger.money import ZERO
from projections.state import event_ref

PREFIX = "ledger:Procurement."
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass
class ProcurementState:
    id: str
    project_id: str
    region: str
    method: str
    subject: str
    category: str
    estimated_amount: Decimal | None
    single_source_justification: str | None
    opened_on: date
    opened_ref: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)  # {"step", "effective_on", "ref"} in log order
    plan: dict[str, Any] | None = None
    announcement: dict[str, Any] | None = None  # announced_at, submission_deadline, notice_no, effective_on, ref
    bids: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    award: dict[str, Any] | None = None
    award_publication: dict[str, Any] | None = None
    contract: dict[str, Any] | None = None  # as signed, plus "amount" and "term_end" after amendments
    contract_publication: dict[str, Any] | None = None
    amendments: list[dict[str, Any]] = field(default_factory=list)
    cancelled: dict[str, Any] | None = None
    disbursements: list[dict[str, Any]] = field(default_factory=list)  # {"entry_id", "effective_on", "ref", ...}
    history: list[dict[str, Any]] = field(default_factory=list)  # every step record in log order (``step_record``)
    last_position: int = 0

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled is not None

    @property
    def evaluation(self) -> dict[str, Any] | None:
        """The latest evaluation of the bids (a re-evaluation replaces an earlier one)."""
        return self.evaluations[-1] if self.evaluations else None

    def dates_of(self, step: str) -> list[dict[str, Any]]:
        """Every occurrence of a step (first disbursements included as ``disbursed``), each with its date and ref."""
        if step == "disbursed":
            return [{"step": "disbursed", "effective_on": d["effective_on"], "ref": d["ref"]}
                    for d in self.disbursements if d.get("reversed_by") is None]
        return [s for s in self.steps if s["step"] == step]


def _topic(event: Any) -> str:
    return str(getattr(type(event), "TOPIC", ""))


def _items(events_with_positions: Iterable[Any]) -> Iterable[tuple[str, Any, int]]:
    for item in events_with_positions:
        if len(item) == 3:
            topic, event, position = item
        else:
            event, position = item
            topic = _topic(event)
        yield str(topic or _topic(event)), event, int(position)


# The fields each procurement step records, by event kind (the topic after ``ledger:Procurement.``).
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "PlanApproved": ("document_no",),
    "Announced": ("announced_at", "submission_deadline", "notice_no"),
    "BidReceived": ("bidder_name", "bidder_uscc", "price", "received_at"),
    "BidsEvaluated": ("scores", "qualified", "committee_size", "expert_count"),
    "Awarded": ("supplier_name", "supplier_uscc", "amount"),
    "AwardPublished": ("notice_no",),
    "ContractSigned": ("contract_no", "supplier_name", "supplier_uscc", "amount", "term_start", "term_end",
                       "installments", "term_justification"),
    "ContractPublished": ("notice_no",),
    "ContractAmended": ("amendment_no", "amount_delta", "new_term_end", "reason"),
    "Cancelled": ("reason",),
}


def step_record(kind: str, e: Any, position: int) -> dict[str, Any]:
    """One step as plain data: what the state keeps in ``history`` so that it can be folded again up to a date."""
    fields = {name: getattr(e, name, None) for name in STEP_FIELDS[kind]}
    for name in ("scores",):
        if name in fields and fields[name] is not None:
            fields[name] = dict(fields[name])
    for name in ("qualified", "installments"):
        if name in fields and fields[name] is not None:
            fields[name] = list(fields[name])
    return {"kind": kind, "effective_on": e.effective_on, "fields": fields, "ref": event_ref(e, position)}


def _step(state: ProcurementState, name: str, record: dict[str, Any]) -> dict[str, Any]:
    ref = record["ref"]
    state.steps.append({"step": name, "effective_on": record["effective_on"], "ref": ref})
    state.last_position = max(state.last_position, int(ref["position"]))
    return ref


def apply_step(s: ProcurementState, record: dict[str, Any]) -> None:
    """Folds one step record (see ``step_record``) into the state."""
    kind, f, on = record["kind"], record["fields"], record["effective_on"]
    if kind == "PlanApproved":
        s.plan = {"document_no": f["document_no"], "effective_on": on, "ref": _step(s, "plan_approved", record)}
    elif kind == "Announced":
        s.announcement = {"announced_at": f["announced_at"], "submission_deadline": f["submission_deadline"],
                          "notice_no": f["notice_no"], "effective_on": on, "ref": _step(s, "announced", record)}
    elif kind == "BidReceived":
        s.bids.append({"bidder_name": f["bidder_name"], "bidder_uscc": f["bidder_uscc"], "price": f["price"],
                       "received_at": f["received_at"], "effective_on": on,
                       "ref": _step(s, "bid_received", record)})
    elif kind == "BidsEvaluated":
        s.evaluations.append({"scores": dict(f["scores"]), "qualified": list(f["qualified"]),
                              "committee_size": f["committee_size"], "expert_count": f["expert_count"],
                              "effective_on": on, "ref": _step(s, "bids_evaluated", record)})
    elif kind == "Awarded":
        s.award = {"supplier_name": f["supplier_name"], "supplier_uscc": f["supplier_uscc"], "amount": f["amount"],
                   "effective_on": on, "ref": _step(s, "awarded", record)}
    elif kind == "AwardPublished":
        s.award_publication = {"notice_no": f["notice_no"], "effective_on": on,
                               "ref": _step(s, "award_published", record)}
    elif kind == "ContractSigned":
        s.contract = {"contract_no": f["contract_no"], "supplier_name": f["supplier_name"],
                      "supplier_uscc": f["supplier_uscc"], "signed_amount": f["amount"], "amount": f["amount"],
                      "term_start": f["term_start"], "term_end": f["term_end"], "signed_term_end": f["term_end"],
                      "installments": list(f["installments"]), "term_justification": f["term_justification"],
                      "signed_on": on, "effective_on": on, "ref": _step(s, "contract_signed", record)}
    elif kind == "ContractPublished":
        s.contract_publication = {"notice_no": f["notice_no"], "effective_on": on,
                                  "ref": _step(s, "contract_published", record)}
    elif kind == "ContractAmended":
        ref = _step(s, "contract_amended", record)
        s.amendments.append({"amendment_no": f["amendment_no"], "amount_delta": f["amount_delta"],
                             "new_term_end": f["new_term_end"], "reason": f["reason"], "effective_on": on,
                             "ref": ref})
        if s.contract is not None:
            s.contract["amount"] = s.contract["amount"] + f["amount_delta"]
            if f["new_term_end"] is not None:
                s.contract["term_end"] = f["new_term_end"]
    elif kind == "Cancelled":
        s.cancelled = {"reason": f["reason"], "effective_on": on, "ref": _step(s, "cancelled", record)}


def opened(e: Any, position: int) -> ProcurementState:
    return ProcurementState(
        id=str(e.originator_id), project_id=str(e.project_id), region=e.region, method=e.method, subject=e.subject,
        category=e.category, estimated_amount=e.estimated_amount,
        single_source_justification=e.single_source_justification, opened_on=e.effective_on,
        opened_ref=event_ref(e, position), last_position=position)


def _sort_disbursements(state: ProcurementState) -> None:
    state.disbursements.sort(key=lambda d: (d["effective_on"], d["ref"].get("position", 0)))


class ProcurementModel:
    """Procurement states keyed by id, updated event by event (the incremental form of ``fold_procurements``).

    A loader fetches states not yet in memory (the live projection keeps them as JSON rows between batches);
    ``owner_of(project_id, entry_id)`` names the procurement a reversed disbursement paid, when the disbursement
    was applied in an earlier batch. ``touched`` holds the ids changed since the model was made, ``changed_on``
    the latest business date among the events that changed each.
    """

    def __init__(self, load: Callable[[str], dict[str, Any] | None] | None = None,
                 owner_of: Callable[[str, str], str | None] | None = None, on: date | None = None) -> None:
        self.procurements: dict[str, ProcurementState] = {}
        self.touched: set[str] = set()
        self.opened: list[str] = []  # opened in this run, in log order
        self.changed_on: dict[str, date] = {}
        self._load = load
        self._owner_of = owner_of
        self._owners: dict[str, str] = {}
        self._on = on

    def procurement(self, procurement_id: str) -> ProcurementState | None:
        if procurement_id not in self.procurements and self._load is not None:
            record = self._load(procurement_id)
            if record is not None:
                self.procurements[procurement_id] = from_record(record)
        return self.procurements.get(procurement_id)

    def _touch(self, state: ProcurementState, on: date) -> None:
        self.touched.add(state.id)
        self.changed_on[state.id] = max(on, self.changed_on.get(state.id, on))

    def apply(self, topic: str, e: Any, position: int) -> None:
        effective_on = getattr(e, "effective_on", None)
        if self._on is not None and effective_on is not None and effective_on > self._on:
            return
        if topic == "ledger:Project.Disbursed":
            if getattr(e, "procurement_id", None) is None:
                return
            state = self.procurement(str(e.procurement_id))
            if state is not None:
                state.disbursements.append(
                    {"entry_id": str(e.entry_id), "amount": e.amount, "effective_on": e.effective_on,
                     "reversed_by": None, "reversed_on": None, "ref": event_ref(e, position)})
                _sort_disbursements(state)
                self._owners[str(e.entry_id)] = state.id
                self._touch(state, e.effective_on)
            return
        if topic == "ledger:Project.EntryReversed":
            entry_id = str(e.reversed_entry_id)
            owner = self._owners.get(entry_id)
            if owner is None and self._owner_of is not None:
                owner = self._owner_of(str(e.originator_id), entry_id)
            state = None if owner is None else self.procurement(owner)
            if state is not None:
                for d in state.disbursements:
                    if d["entry_id"] == entry_id:
                        d["reversed_by"], d["reversed_on"] = str(e.entry_id), e.effective_on
                        self._touch(state, e.effective_on)
            return
        if not topic.startswith(PREFIX):
            return
        kind = topic[len(PREFIX):]
        if kind == "Opened":
            state = opened(e, position)
            self.procurements[state.id] = state
            self.opened.append(state.id)
            self._touch(state, e.effective_on)
            return
        if kind not in STEP_FIELDS:
            return
        s = self.procurement(str(e.originator_id))
        if s is None:
            return
        record = step_record(kind, e, position)
        s.history.append(record)
        apply_step(s, record)
        self._touch(s, e.effective_on)


def fold_procurements(events_with_positions: Iterable[Any], *, on: date | None = None,
                      disbursements: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, ProcurementState]:
    """Folds procurement events into states keyed by procurement id.

    Items are ``(topic, event, position)`` (``topic`` from the notification) or ``(event, position)`` (the topic
    then comes from ``type(event).TOPIC``). With ``on``, events whose business date is after it are ignored.
    ``disbursements`` maps a procurement id to extra disbursement refs (dicts with at least ``effective_on`` and
    ``ref``) to add to those folded from ``ledger:Project.Disbursed``.
    """
    model = ProcurementModel(on=on)
    for topic, e, position in _items(events_with_positions):
        model.apply(topic, e, position)
    states = model.procurements
    for pid, extra in (disbursements or {}).items():
        if pid in states:
            states[pid].disbursements.extend(
                {"reversed_by": None, "reversed_on": None, **d} for d in extra if on is None or d["effective_on"] <= on)
    for s in states.values():
        _sort_disbursements(s)
    return states


def procurement_on(state: ProcurementState, on: date) -> ProcurementState | None:
    """The process as it stood on a business date: only the steps and disbursements that had taken effect by then
    (a disbursement reversed later still counts). None before it was opened."""
    if state.opened_on > on:
        return None
    base = {f.name: getattr(state, f.name) for f in fields(ProcurementState) if f.name in BASE_FIELDS}
    dated = ProcurementState(**base, last_position=state.opened_ref["position"])
    for record in state.history:
        if record["effective_on"] <= on:
            dated.history.append(record)
            apply_step(dated, record)
    for d in state.disbursements:
        if d["effective_on"] <= on:
            reversed_on = d.get("reversed_on")
            live = reversed_on is None or reversed_on > on
            dated.disbursements.append({**d, "reversed_by": None if live else d["reversed_by"],
                                        "reversed_on": None if live else reversed_on})
    return dated


BASE_FIELDS = ("id", "project_id", "region", "method", "subject", "category", "estimated_amount",
               "single_source_justification", "opened_on", "opened_ref")


def to_record(state: ProcurementState) -> dict[str, Any]:
    """The state as plain data for storage (shallow: the encoder walks the nested lists and dicts)."""
    return {f.name: getattr(state, f.name) for f in fields(state)}


def from_record(record: dict[str, Any]) -> ProcurementState:
    names = {f.name for f in fields(ProcurementState)}
    return ProcurementState(**{k: v for k, v in record.items() if k in names})


def group_key(state: ProcurementState) -> str | None:
    """Processes that PRC-13 (threshold splitting) compares: the same buyer (region), category and provider."""
    if state.contract is None:
        return None
    return f"{state.region}|{state.category}|{state.contract['supplier_uscc']}"


def amended_total(state: ProcurementState) -> Decimal:
    return sum((a["amount_delta"] for a in state.amendments), ZERO)


def local_datetime(value: datetime) -> datetime:
    """A timestamp in China Standard Time (UTC+8, no daylight saving since 1991)."""
    return value.astimezone(CHINA_STANDARD_TIME)
