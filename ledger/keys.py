"""Small aggregates that make uniqueness and idempotency part of the same transaction as the postings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class NaturalKey(Aggregate):
    """Reserves a natural key (e.g. a contract number) for one owner; its id is a uuid5 of the key."""

    TOPIC = "ledger:NaturalKey"
    id: UUID  # given by the caller: a uuid5 of the natural key

    class Event(Aggregate.Event):
        TOPIC = "ledger:NaturalKey.Event"

    @event("Reserved", topic="ledger:NaturalKey.Reserved")
    def __init__(self, *, kind: str, value: str, owner_id: UUID) -> None:
        self.kind = kind
        self.value = value
        self.owner_id = owner_id


class IdempotencyRecord(Aggregate):
    """A request key, the hash of the request, and the result it produced, saved with the events it produced."""

    TOPIC = "ledger:IdempotencyRecord"
    id: UUID  # given by the caller: a uuid5 of the natural key

    class Event(Aggregate.Event):
        TOPIC = "ledger:IdempotencyRecord.Event"

    @event("Recorded", topic="ledger:IdempotencyRecord.Recorded")
    def __init__(self, *, key: str, actor: str, request_hash: str, result: dict[str, Any]) -> None:
        self.key = key
        self.actor = actor
        self.request_hash = request_hash
        self.result = result
