"""Read-model state of contracting processes (政府购买服务), folded from the Procurement aggregate's events.

Groundwork for the PRC rules: not yet wired into the live projection. The fold is pure: it takes the events (with
their log positions) and returns one ``ProcurementState`` per procurement. Disbursements that name a procurement
(``ledger:Project.Disbursed`` with a ``procurement_id``) are folded in as well, reversals excluded, because PRC-01
needs the first disbursement; callers may also pass further disbursement refs per procurement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
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


def _step(state: ProcurementState, name: str, e: Any, position: int) -> dict[str, Any]:
    ref = event_ref(e, position)
    state.steps.append({"step": name, "effective_on": e.effective_on, "ref": ref})
    state.last_position = position
    return ref


def fold_procurements(events_with_positions: Iterable[Any], *, on: date | None = None,
                      disbursements: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, ProcurementState]:
    """Folds procurement events into states keyed by procurement id.

    Items are ``(topic, event, position)`` (``topic`` from the notification) or ``(event, position)`` (the topic
    then comes from ``type(event).TOPIC``). With ``on``, events whose business date is after it are ignored.
    ``disbursements`` maps a procurement id to extra disbursement refs (dicts with at least ``effective_on`` and
    ``ref``) to add to those folded from ``ledger:Project.Disbursed``.
    """
    states: dict[str, ProcurementState] = {}
    entry_owner: dict[str, tuple[str, dict[str, Any]]] = {}
    for topic, e, position in _items(events_with_positions):
        effective_on = getattr(e, "effective_on", None)
        if on is not None and effective_on is not None and effective_on > on:
            continue
        if topic == "ledger:Project.Disbursed":
            if getattr(e, "procurement_id", None) is not None and str(e.procurement_id) in states:
                entry = {"entry_id": str(e.entry_id), "amount": e.amount, "effective_on": e.effective_on,
                         "reversed_by": None, "ref": event_ref(e, position)}
                states[str(e.procurement_id)].disbursements.append(entry)
                entry_owner[str(e.entry_id)] = (str(e.procurement_id), entry)
            continue
        if topic == "ledger:Project.EntryReversed":
            owner = entry_owner.get(str(e.reversed_entry_id))
            if owner is not None:
                owner[1]["reversed_by"] = str(e.entry_id)
            continue
        if not topic.startswith(PREFIX):
            continue
        kind = topic[len(PREFIX):]
        pid = str(e.originator_id)
        if kind == "Opened":
            states[pid] = ProcurementState(
                id=pid, project_id=str(e.project_id), region=e.region, method=e.method, subject=e.subject,
                category=e.category, estimated_amount=e.estimated_amount,
                single_source_justification=e.single_source_justification, opened_on=e.effective_on,
                opened_ref=event_ref(e, position), last_position=position)
            continue
        s = states.get(pid)
        if s is None:
            continue
        if kind == "PlanApproved":
            s.plan = {"document_no": e.document_no, "effective_on": e.effective_on, "ref": _step(s, "plan_approved",
                                                                                                 e, position)}
        elif kind == "Announced":
            s.announcement = {"announced_at": e.announced_at, "submission_deadline": e.submission_deadline,
                              "notice_no": e.notice_no, "effective_on": e.effective_on,
                              "ref": _step(s, "announced", e, position)}
        elif kind == "BidReceived":
            s.bids.append({"bidder_name": e.bidder_name, "bidder_uscc": e.bidder_uscc, "price": e.price,
                           "received_at": e.received_at, "effective_on": e.effective_on,
                           "ref": _step(s, "bid_received", e, position)})
        elif kind == "BidsEvaluated":
            s.evaluations.append({"scores": dict(e.scores), "qualified": list(e.qualified),
                                  "committee_size": e.committee_size, "expert_count": e.expert_count,
                                  "effective_on": e.effective_on, "ref": _step(s, "bids_evaluated", e, position)})
        elif kind == "Awarded":
            s.award = {"supplier_name": e.supplier_name, "supplier_uscc": e.supplier_uscc, "amount": e.amount,
                       "effective_on": e.effective_on, "ref": _step(s, "awarded", e, position)}
        elif kind == "AwardPublished":
            s.award_publication = {"notice_no": e.notice_no, "effective_on": e.effective_on,
                                   "ref": _step(s, "award_published", e, position)}
        elif kind == "ContractSigned":
            s.contract = {"contract_no": e.contract_no, "supplier_name": e.supplier_name,
                          "supplier_uscc": e.supplier_uscc, "signed_amount": e.amount, "amount": e.amount,
                          "term_start": e.term_start, "term_end": e.term_end, "signed_term_end": e.term_end,
                          "installments": list(e.installments), "term_justification": e.term_justification,
                          "signed_on": e.effective_on, "effective_on": e.effective_on,
                          "ref": _step(s, "contract_signed", e, position)}
        elif kind == "ContractPublished":
            s.contract_publication = {"notice_no": e.notice_no, "effective_on": e.effective_on,
                                      "ref": _step(s, "contract_published", e, position)}
        elif kind == "ContractAmended":
            ref = _step(s, "contract_amended", e, position)
            s.amendments.append({"amendment_no": e.amendment_no, "amount_delta": e.amount_delta,
                                 "new_term_end": e.new_term_end, "reason": e.reason,
                                 "effective_on": e.effective_on, "ref": ref})
            if s.contract is not None:
                s.contract["amount"] = s.contract["amount"] + e.amount_delta
                if e.new_term_end is not None:
                    s.contract["term_end"] = e.new_term_end
        elif kind == "Cancelled":
            s.cancelled = {"reason": e.reason, "effective_on": e.effective_on,
                           "ref": _step(s, "cancelled", e, position)}
    for pid, extra in (disbursements or {}).items():
        if pid in states:
            states[pid].disbursements.extend(
                {"reversed_by": None, **d} for d in extra if on is None or d["effective_on"] <= on)
    for s in states.values():
        s.disbursements.sort(key=lambda d: (d["effective_on"], d["ref"].get("position", 0)))
    return states


def amended_total(state: ProcurementState) -> Decimal:
    return sum((a["amount_delta"] for a in state.amendments), ZERO)


def local_datetime(value: datetime) -> datetime:
    """A timestamp in China Standard Time (UTC+8, no daylight saving since 1991)."""
    return value.astimezone(CHINA_STANDARD_TIME)
