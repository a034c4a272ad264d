"""Finding case: auditors' decisions on a finding the rules derived (整改). A finding's status comes from these."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import InvalidStateError

DECISIONS = ("acknowledge", "start_rectification", "mark_rectified", "dismiss")
STATUS_AFTER = {
    "acknowledge": "acknowledged",
    "start_rectification": "rectifying",
    "mark_rectified": "rectified",
    "dismiss": "dismissed",
}
# A decision may follow only from these statuses; "open" means no decision yet.
ALLOWED_FROM = {
    "acknowledge": ("open",),
    "start_rectification": ("open", "acknowledged"),
    "mark_rectified": ("open", "acknowledged", "rectifying"),
    "dismiss": ("open", "acknowledged", "rectifying"),
}


class FindingCase(Aggregate):
    TOPIC = "ledger:FindingCase"
    id: UUID  # a uuid5 of the finding id: one case per finding

    class Event(Aggregate.Event):
        TOPIC = "ledger:FindingCase.Event"

    @event("Opened", topic="ledger:FindingCase.Opened")
    def __init__(self, *, finding_id: str) -> None:
        self.finding_id = finding_id
        self.status = "open"

    def decide(self, *, decision: str, note: str, effective_on: date, actor: str) -> None:
        if self.status not in ALLOWED_FROM[decision]:
            raise InvalidStateError(f"finding {self.finding_id} is {self.status}; cannot {decision.replace('_', ' ')}")
        trigger = {
            "acknowledge": self._acknowledged,
            "start_rectification": self._rectification_started,
            "mark_rectified": self._rectified,
            "dismiss": self._dismissed,
        }[decision]
        trigger(finding_id=self.finding_id, decision=decision, note=note, effective_on=effective_on, actor=actor)

    @event("Acknowledged", topic="ledger:FindingCase.Acknowledged")
    def _acknowledged(self, finding_id: str, decision: str, note: str, effective_on: date, actor: str) -> None:
        self.status = STATUS_AFTER[decision]

    @event("RectificationStarted", topic="ledger:FindingCase.RectificationStarted")
    def _rectification_started(self, finding_id: str, decision: str, note: str, effective_on: date,
                               actor: str) -> None:
        self.status = STATUS_AFTER[decision]

    @event("Rectified", topic="ledger:FindingCase.Rectified")
    def _rectified(self, finding_id: str, decision: str, note: str, effective_on: date, actor: str) -> None:
        self.status = STATUS_AFTER[decision]

    @event("Dismissed", topic="ledger:FindingCase.Dismissed")
    def _dismissed(self, finding_id: str, decision: str, note: str, effective_on: date, actor: str) -> None:
        self.status = STATUS_AFTER[decision]
