"""The in-memory application recorder, chained (for tests and throwaway ledgers): the chain is extended under the
same lock that appends the events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from ledger.integrity.chain import ChainRow, Head, extend, paired
from ledger.integrity.recorders import ChainedRecorder
from ledger.integrity.seals import Seal


class ChainedPOPORecorder(POPOApplicationRecorder, ChainedRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._chain: list[ChainRow] = []
        self._seals: list[Seal] = []
        self._verifications: list[str] = []

    def _insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self._database_lock:
            positions = super()._insert_events(stored_events, **kwargs)
            if stored_events:
                self._chain.extend(extend(self.chain_head(), paired(positions, stored_events)))
                self.last_chained = self._chain[-1].position
            return positions

    def chain_head(self) -> Head | None:
        with self._database_lock:
            return Head(self._chain[-1].position, self._chain[-1].hash) if self._chain else None

    def select_log(self, after: int, limit: int, stop: int) -> Sequence[Notification]:
        return self.select_notifications(start=after, limit=limit, stop=stop, inclusive_of_start=False)

    def select_chain(self, after: int, limit: int, stop: int | None = None) -> Sequence[ChainRow]:
        with self._database_lock:
            rows = [r for r in self._chain if r.position > after and (stop is None or r.position <= stop)]
        return rows[:limit]

    def chained_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        with self._database_lock:
            return [r.position for r in self._chain
                    if r.originator_id == originator_id and r.originator_version == originator_version]

    def recorded_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        with self._database_lock:
            return [i + 1 for i, s in enumerate(self._stored_events)
                    if s.originator_id == originator_id and s.originator_version == originator_version]

    def insert_seal(self, seal: Seal) -> Seal:
        with self._database_lock:
            stored = Seal(len(self._seals) + 1, seal.position, seal.hash, seal.sealed_at, seal.key_id, seal.signature)
            self._seals.append(stored)
            return stored

    def select_seals(self) -> list[Seal]:
        with self._database_lock:
            return list(self._seals)

    def _insert_verification(self, finished_at: str, outcome: str, report: str) -> None:
        with self._database_lock:
            self._verifications.append(report)

    def _last_verification(self) -> str | None:
        with self._database_lock:
            return self._verifications[-1] if self._verifications else None
