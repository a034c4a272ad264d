"""Procurement: one contracting process for a project (政府购买服务): plan → announcement → bids → award → contract.

Integrity only: nothing happens after cancellation, a process signs at most one contract, and a contract must exist
before it is published or amended. Steps in the wrong order or too fast are facts the PRC rules judge.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import ClosedError, InvalidStateError

METHODS = (
    "open_tender",  # 公开招标
    "competitive_consultation",  # 竞争性磋商
    "competitive_negotiation",  # 竞争性谈判
    "request_for_quotation",  # 询价
    "single_source",  # 单一来源
    "other",
)
STEPS = (
    "plan_approved",
    "announced",
    "bid_received",
    "bids_evaluated",
    "awarded",
    "award_published",
    "contract_signed",
    "contract_published",
    "contract_amended",
    "cancelled",
)
INSTALLMENT_CONDITIONS = ("signing", "midterm_passed", "final_passed")


class Procurement(Aggregate):
    TOPIC = "ledger:Procurement"

    class Event(Aggregate.Event):
        TOPIC = "ledger:Procurement.Event"

    class Snapshot(Aggregate.Snapshot):
        TOPIC = "ledger:Procurement.Snapshot"

    @event("Opened", topic="ledger:Procurement.Opened")
    def __init__(
        self,
        *,
        project_id: UUID,
        region: str,
        method: str,
        subject: str,
        category: str,
        estimated_amount: Decimal | None,
        single_source_justification: str | None,
        effective_on: date,
        actor: str,
    ) -> None:
        self.project_id = project_id
        self.region = region
        self.method = method
        self.subject = subject
        self.category = category
        self.estimated_amount = estimated_amount
        self.single_source_justification = single_source_justification
        self.opened_on = effective_on
        self.steps: list[dict[str, Any]] = []
        self.bids: list[dict[str, Any]] = []
        self.award: dict[str, Any] | None = None
        self.contract: dict[str, Any] | None = None
        self.cancelled = False

    def _check_live(self, step: str) -> None:
        if self.cancelled:
            raise ClosedError(f"procurement {self.id} was cancelled; cannot record {step}", procurement_id=str(self.id))

    def _note_step(self, step: str, effective_on: date) -> None:
        self.steps.append({"step": step, "effective_on": effective_on, "version": self.version})

    @event("PlanApproved", topic="ledger:Procurement.PlanApproved")
    def _plan_approved(self, document_no: str, effective_on: date, actor: str) -> None:
        self._note_step("plan_approved", effective_on)

    @event("Announced", topic="ledger:Procurement.Announced")
    def _announced(
        self, announced_at: datetime, submission_deadline: datetime, notice_no: str | None, effective_on: date,
        actor: str,
    ) -> None:
        self._note_step("announced", effective_on)
        self.announced_at = announced_at
        self.submission_deadline = submission_deadline

    @event("BidReceived", topic="ledger:Procurement.BidReceived")
    def _bid_received(
        self, bidder_name: str, bidder_uscc: str, price: Decimal, received_at: datetime, effective_on: date, actor: str
    ) -> None:
        self._note_step("bid_received", effective_on)
        self.bids.append(
            {"bidder_name": bidder_name, "bidder_uscc": bidder_uscc, "price": price, "received_at": received_at}
        )

    @event("BidsEvaluated", topic="ledger:Procurement.BidsEvaluated")
    def _bids_evaluated(
        self,
        scores: dict[str, Decimal],
        qualified: list[str],
        committee_size: int,
        expert_count: int,
        effective_on: date,
        actor: str,
    ) -> None:
        self._note_step("bids_evaluated", effective_on)

    @event("Awarded", topic="ledger:Procurement.Awarded")
    def _awarded(
        self, supplier_name: str, supplier_uscc: str, amount: Decimal, effective_on: date, actor: str
    ) -> None:
        self._note_step("awarded", effective_on)
        self.award = {"supplier_name": supplier_name, "supplier_uscc": supplier_uscc, "amount": amount}

    @event("AwardPublished", topic="ledger:Procurement.AwardPublished")
    def _award_published(self, notice_no: str | None, effective_on: date, actor: str) -> None:
        self._note_step("award_published", effective_on)

    def sign_contract(
        self,
        *,
        contract_no: str,
        supplier_name: str,
        supplier_uscc: str,
        amount: Decimal,
        term_start: date,
        term_end: date,
        installments: list[dict[str, Any]],
        term_justification: str | None,
        effective_on: date,
        actor: str,
    ) -> None:
        self._check_live("contract_signed")
        if self.contract is not None:
            raise InvalidStateError(
                f"procurement {self.id} already signed contract {self.contract['contract_no']}",
                contract_no=self.contract["contract_no"],
            )
        self._contract_signed(
            contract_no=contract_no,
            supplier_name=supplier_name,
            supplier_uscc=supplier_uscc,
            amount=amount,
            term_start=term_start,
            term_end=term_end,
            installments=installments,
            term_justification=term_justification,
            effective_on=effective_on,
            actor=actor,
        )

    @event("ContractSigned", topic="ledger:Procurement.ContractSigned")
    def _contract_signed(
        self,
        contract_no: str,
        supplier_name: str,
        supplier_uscc: str,
        amount: Decimal,
        term_start: date,
        term_end: date,
        installments: list[dict[str, Any]],
        term_justification: str | None,
        effective_on: date,
        actor: str,
    ) -> None:
        self._note_step("contract_signed", effective_on)
        self.contract = {
            "contract_no": contract_no,
            "supplier_name": supplier_name,
            "supplier_uscc": supplier_uscc,
            "amount": amount,
            "term_start": term_start,
            "term_end": term_end,
            "installments": installments,
            "signed_on": effective_on,
        }

    def _check_contract(self, step: str) -> None:
        self._check_live(step)
        if self.contract is None:
            raise InvalidStateError(f"procurement {self.id} has no signed contract; cannot record {step}")

    @event("ContractPublished", topic="ledger:Procurement.ContractPublished")
    def _contract_published(self, notice_no: str | None, effective_on: date, actor: str) -> None:
        self._note_step("contract_published", effective_on)

    @event("ContractAmended", topic="ledger:Procurement.ContractAmended")
    def _contract_amended(
        self, amendment_no: str, amount_delta: Decimal, new_term_end: date | None, reason: str, effective_on: date,
        actor: str,
    ) -> None:
        self._note_step("contract_amended", effective_on)
        assert self.contract is not None  # guarded by _check_contract before the event is triggered
        self.contract["amount"] += amount_delta
        if new_term_end is not None:
            self.contract["term_end"] = new_term_end

    @event("Cancelled", topic="ledger:Procurement.Cancelled")
    def _cancelled(self, reason: str, effective_on: date, actor: str) -> None:
        self._note_step("cancelled", effective_on)
        self.cancelled = True

    def record_step(self, step: str, details: dict[str, Any], effective_on: date, actor: str) -> None:
        """Records one procedure step; ``details`` are the step's own fields, already validated."""
        if step == "contract_signed":
            self.sign_contract(**details, effective_on=effective_on, actor=actor)
            return
        if step in ("contract_published", "contract_amended"):
            self._check_contract(step)
        else:
            self._check_live(step)
        if step == "cancelled" and self.contract is not None:
            raise InvalidStateError(f"procurement {self.id} has a signed contract and cannot be cancelled")
        recorder = getattr(self, f"_{step}", None)
        if step not in STEPS or recorder is None:
            raise InvalidStateError(f"unknown procurement step {step!r}")
        recorder(**details, effective_on=effective_on, actor=actor)
