"""What a chained application recorder offers beyond the library's, and how the ledger picks one for its store.

Each store's recorder (``sqlite``, ``postgres``, ``popo`` beside this module) subclasses the library's application
recorder: right after the library inserts a save's events, and inside the same transaction (on PostgreSQL, while it
still holds the events table's EXCLUSIVE lock; on SQLite, the database write lock), it reads the chain head and writes
one chain row per event. So every committed event is chained, in commit order, or the save fails as a whole.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, Notification

from ledger.integrity.chain import ChainRow, Head
from ledger.integrity.seals import Seal, Signer, now_text, seal_message

# The library's factories read the application recorder's class from this variable; one chained class per store.
CHAINED_RECORDERS = {
    "eventsourcing.sqlite": "ledger.integrity.sqlite:ChainedSQLiteRecorder",
    "eventsourcing.postgres": "ledger.integrity.postgres:ChainedPostgresRecorder",
}


class ChainedRecorder(ABC):
    """The chain, the seals and the verification results of one application's log."""

    #: The position of the last event this process chained (0 before any): a cheap "how far have we come" for
    #: deciding when a seal is due, without a query.
    last_chained: int = 0

    @abstractmethod
    def chain_head(self) -> Head | None:
        """The last link of the chain, or None while nothing is chained."""

    @abstractmethod
    def select_log(self, after: int, limit: int, stop: int) -> Sequence[Notification]:
        """Stored events with ``after < position <= stop``, in position order, at most ``limit``, as they are: unlike
        the library's ``select_notifications``, a value that an intruder made malformed (an originator id that is no
        UUID, text where bytes belong, NULL) comes back as it is, to be named, instead of failing the read."""

    @abstractmethod
    def select_chain(self, after: int, limit: int, stop: int | None = None) -> Sequence[ChainRow]:
        """Chain rows with ``after < position <= stop``, in position order, at most ``limit``."""

    @abstractmethod
    def chained_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        """The positions at which the chain recorded this event (normally one)."""

    @abstractmethod
    def recorded_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        """The positions at which the events table holds this event now (normally one)."""

    @abstractmethod
    def insert_seal(self, seal: Seal) -> Seal:
        """Stores a seal; returns it with its id."""

    @abstractmethod
    def select_seals(self) -> list[Seal]:
        """Every stored seal, oldest first."""

    @abstractmethod
    def _insert_verification(self, finished_at: str, outcome: str, report: str) -> None: ...

    @abstractmethod
    def _last_verification(self) -> str | None: ...

    def record_verification(self, report: dict[str, Any]) -> None:
        """Keeps a verification's result (the last one is what ``GET /verify`` answers)."""
        self._insert_verification(str(report["finished_at"]), str(report["outcome"]),
                                  json.dumps(report, ensure_ascii=False, sort_keys=True))

    def last_verification(self) -> dict[str, Any] | None:
        text = self._last_verification()
        return None if text is None else dict(json.loads(text))

    def latest_seal(self) -> Seal | None:
        seals = self.select_seals()
        return seals[-1] if seals else None


def chained_recorder(factory: InfrastructureFactory[Any]) -> ApplicationRecorder:
    """The application recorder of ``factory``'s store, chained. Refuses a store or a recorder class without a
    chain: the ledger never writes an event that is not chained."""
    module = type(factory).__module__
    if module == "eventsourcing.popo":
        from ledger.integrity.popo import ChainedPOPORecorder

        return ChainedPOPORecorder()
    topic = CHAINED_RECORDERS.get(module)
    if topic is None:
        raise TypeError(f"no hash-chained recorder for the store {module}: use eventsourcing.sqlite or "
                        "eventsourcing.postgres")
    if not factory.env.get(factory.APPLICATION_RECORDER_TOPIC):
        factory.env[factory.APPLICATION_RECORDER_TOPIC] = topic
    recorder = factory.application_recorder()
    if not isinstance(recorder, ChainedRecorder):
        raise TypeError(f"APPLICATION_RECORDER_TOPIC names {type(recorder).__name__}, which does not chain events "
                        f"(use {topic} or a subclass of it)")
    return recorder


def seal_head(recorder: ChainedRecorder, signer: Signer, now: datetime | None = None) -> Seal | None:
    """Signs the current chain head and stores the seal; None when nothing is chained yet."""
    head = recorder.chain_head()
    if head is None:
        return None
    sealed_at = now_text(now)
    signature = signer.sign(seal_message(head.position, head.hash, sealed_at, signer.key_id))
    return recorder.insert_seal(Seal(None, head.position, head.hash, sealed_at, signer.key_id, signature))


def as_chained(recorder: ApplicationRecorder) -> ChainedRecorder:
    if not isinstance(recorder, ChainedRecorder):
        raise TypeError(f"{type(recorder).__name__} keeps no hash chain")
    return recorder
