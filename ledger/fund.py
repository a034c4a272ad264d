"""Fund: one earmarked appropriation held at one region level (资金下达), and where its money went."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import ClosedError, InsufficientFundsError, require_available
from ledger.money import ZERO

SOURCE_LEVELS = ("central", "province", "city", "county")
TARGET_KINDS = ("fund", "project")
CLOSURE_KINDS = ("carry_over", "surplus")


class Fund(Aggregate):
    """Invariant: appropriated = available + allocated (net of recoveries) + returned, and available >= 0."""

    TOPIC = "ledger:Fund"
    id: UUID  # given by the caller: a uuid5 of the natural key

    class Event(Aggregate.Event):
        TOPIC = "ledger:Fund.Event"

    class Snapshot(Aggregate.Snapshot):
        TOPIC = "ledger:Fund.Snapshot"

    @event("Appropriated", topic="ledger:Fund.Appropriated")
    def __init__(
        self,
        *,
        holder_region: str,
        fiscal_year: int,
        document_no: str,
        source_level: str,
        purpose: str,
        allowed_categories: list[str],
        service_domains: list[str],
        valid_from: date,
        valid_to: date,
        amount: Decimal,
        parent_fund_id: UUID | None,
        parent_allocation_id: UUID | None,
        effective_on: date,
        actor: str,
    ) -> None:
        self.holder_region = holder_region
        self.fiscal_year = fiscal_year
        self.document_no = document_no
        self.source_level = source_level
        self.purpose = purpose
        self.allowed_categories = allowed_categories
        self.service_domains = service_domains
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.amount = amount
        self.parent_fund_id = parent_fund_id
        self.parent_allocation_id = parent_allocation_id
        self.appropriated_on = effective_on
        self.allocated = ZERO
        self.returned = ZERO
        self.allocated_to: dict[str, Decimal] = {}
        self.allocations: dict[str, dict[str, Any]] = {}
        self.closed_as: str | None = None

    @property
    def available(self) -> Decimal:
        return self.amount - self.allocated - self.returned

    @property
    def is_closed(self) -> bool:
        return self.closed_as is not None

    def allocate(
        self,
        *,
        allocation_id: UUID,
        target_kind: str,
        target_id: UUID,
        amount: Decimal,
        document_no: str | None,
        effective_on: date,
        actor: str,
    ) -> None:
        """Passes part of the available balance down to a child fund or a project."""
        if self.is_closed:
            raise ClosedError(f"fund {self.document_no} is closed", fund_id=str(self.id))
        require_available(amount, self.available, f"fund {self.document_no} has available", "allocate")
        self._allocated(
            allocation_id=allocation_id,
            target_kind=target_kind,
            target_id=target_id,
            amount=amount,
            document_no=document_no,
            effective_on=effective_on,
            actor=actor,
        )

    @event("Allocated", topic="ledger:Fund.Allocated")
    def _allocated(
        self,
        allocation_id: UUID,
        target_kind: str,
        target_id: UUID,
        amount: Decimal,
        document_no: str | None,
        effective_on: date,
        actor: str,
    ) -> None:
        key = str(target_id)
        self.allocated += amount
        self.allocated_to[key] = self.allocated_to.get(key, ZERO) + amount
        self.allocations[str(allocation_id)] = {"target_kind": target_kind, "target_id": key, "amount": amount}

    def outstanding_with(self, target_id: UUID) -> Decimal:
        """What this fund has allocated to a target, net of what came back."""
        return self.allocated_to.get(str(target_id), ZERO)

    def recover(
        self, *, recovery_id: UUID, source_id: UUID, amount: Decimal, reason: str, effective_on: date, actor: str
    ) -> None:
        """Takes back unspent money from a child fund or project it was allocated to (收回)."""
        outstanding = self.outstanding_with(source_id)
        require_available(amount, outstanding, f"fund {self.document_no} has outstanding with {source_id}",
                          "recover")
        self._recovered(
            recovery_id=recovery_id,
            source_id=source_id,
            amount=amount,
            reason=reason,
            effective_on=effective_on,
            actor=actor,
        )

    @event("AllocationRecovered", topic="ledger:Fund.AllocationRecovered")
    def _recovered(
        self, recovery_id: UUID, source_id: UUID, amount: Decimal, reason: str, effective_on: date, actor: str
    ) -> None:
        key = str(source_id)
        self.allocated -= amount
        self.allocated_to[key] = self.allocated_to.get(key, ZERO) - amount

    def return_to_parent(
        self, *, recovery_id: UUID, amount: Decimal, reason: str, effective_on: date, actor: str
    ) -> None:
        """Sends unspent money back up to the fund it came from (a closed fund may still return its surplus)."""
        if self.parent_fund_id is None:
            raise InsufficientFundsError(f"fund {self.document_no} has no parent fund to return money to")
        require_available(amount, self.available, f"fund {self.document_no} has available", "return")
        self._returned(
            recovery_id=recovery_id,
            to_fund_id=self.parent_fund_id,
            amount=amount,
            reason=reason,
            effective_on=effective_on,
            actor=actor,
        )

    @event("Returned", topic="ledger:Fund.Returned")
    def _returned(
        self, recovery_id: UUID, to_fund_id: UUID, amount: Decimal, reason: str, effective_on: date, actor: str
    ) -> None:
        self.returned += amount

    def close(self, *, disposition: str, note: str, effective_on: date, actor: str) -> None:
        """Closes the fund for allocations; what is still available is carried over or is surplus."""
        if self.is_closed:
            raise ClosedError(f"fund {self.document_no} is already closed", fund_id=str(self.id))
        self._closed(disposition=disposition, balance=self.available, note=note, effective_on=effective_on,
                     actor=actor)

    @event("Closed", topic="ledger:Fund.Closed")
    def _closed(self, disposition: str, balance: Decimal, note: str, effective_on: date, actor: str) -> None:
        self.closed_as = disposition
