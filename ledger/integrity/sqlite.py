"""The SQLite application recorder, chained: chain rows are written by the transaction that writes the events.

The library begins a deferred transaction and inserts the events first, which takes SQLite's write lock; from then
on no other writer (thread or process) can commit, so the chain head read next is the true head. The chain, seals and
verification results live in tables beside the events table (``stored_events_chain`` and so on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from ledger.integrity.chain import ChainRow, Head, extend, paired
from ledger.integrity.recorders import ChainedRecorder
from ledger.integrity.seals import Seal


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected table name {name!r}")
    return name


class ChainedSQLiteRecorder(SQLiteApplicationRecorder, ChainedRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        events = _identifier(events_table_name)
        self.chain_table = f"{events}_chain"
        self.seals_table = f"{events}_seals"
        self.verifications_table = f"{events}_verifications"
        super().__init__(datastore, events)
        self.select_head_statement = (
            f"SELECT notification_id, hash FROM {self.chain_table} ORDER BY notification_id DESC LIMIT 1"
        )
        self.insert_chain_statement = (
            f"INSERT INTO {self.chain_table} (notification_id, previous_id, originator_id, originator_version, hash) "
            "VALUES (?, ?, ?, ?, ?)"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table} ("
            "notification_id INTEGER PRIMARY KEY, previous_id INTEGER NOT NULL, originator_id TEXT NOT NULL, "
            "originator_version INTEGER NOT NULL, hash BLOB NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.chain_table}_identity "
            f"ON {self.chain_table} (originator_id, originator_version)",
            f"CREATE TABLE IF NOT EXISTS {self.seals_table} ("
            "seal_id INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL, hash BLOB NOT NULL, "
            "sealed_at TEXT NOT NULL, key_id TEXT NOT NULL, signature BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.verifications_table} ("
            "verification_id INTEGER PRIMARY KEY AUTOINCREMENT, finished_at TEXT NOT NULL, outcome TEXT NOT NULL, "
            "report TEXT NOT NULL)",
        ]

    # -- writing: the library's insert, then the chain, in one transaction ----------------------------------------

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
                       ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if not stored_events:
            return positions
        c.execute(self.select_head_statement)
        row = c.fetchone()
        head = None if row is None else Head(int(row["notification_id"]), bytes(row["hash"]))
        links = extend(head, paired(positions, stored_events))
        c.executemany(self.insert_chain_statement, [
            (r.position, r.previous, _text(r.originator_id), r.originator_version, r.hash) for r in links
        ])
        self.last_chained = links[-1].position
        return positions

    # -- reading the chain --------------------------------------------------------------------------------------

    def chain_head(self) -> Head | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.select_head_statement)
            row = c.fetchone()
        return None if row is None else Head(int(row["notification_id"]), bytes(row["hash"]))

    def select_log(self, after: int, limit: int, stop: int) -> Sequence[Notification]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
                      "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?", (after, stop, limit))
            return [Notification(id=row[0], originator_id=_originator(row[1]), originator_version=row[2], topic=row[3],
                                 state=row[4]) for row in c.fetchall()]

    def select_chain(self, after: int, limit: int, stop: int | None = None) -> Sequence[ChainRow]:
        statement = (f"SELECT notification_id, previous_id, originator_id, originator_version, hash "
                     f"FROM {self.chain_table} WHERE notification_id > ? AND notification_id <= ? "
                     "ORDER BY notification_id LIMIT ?")
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (after, stop if stop is not None else 2**63 - 1, limit))
            return [
                ChainRow(row["notification_id"], row["previous_id"], self.convert_originator_id(row["originator_id"]),
                         row["originator_version"], bytes(row["hash"]))
                for row in c.fetchall()
            ]

    def chained_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        return self._positions(f"SELECT notification_id AS p FROM {self.chain_table} "
                               "WHERE originator_id = ? AND originator_version = ?", originator_id, originator_version)

    def recorded_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        return self._positions(f"SELECT rowid AS p FROM {self.events_table_name} "
                               "WHERE originator_id = ? AND originator_version = ?", originator_id, originator_version)

    def _positions(self, statement: str, originator_id: UUID | str, originator_version: int) -> list[int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement + " ORDER BY 1", (_text(originator_id), originator_version))
            return [int(row["p"]) for row in c.fetchall()]

    # -- seals and verification results -------------------------------------------------------------------------

    def insert_seal(self, seal: Seal) -> Seal:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"INSERT INTO {self.seals_table} (position, hash, sealed_at, key_id, signature) "
                      "VALUES (?, ?, ?, ?, ?)", (seal.position, seal.hash, seal.sealed_at, seal.key_id, seal.signature))
            seal_id = c.lastrowid
        return Seal(seal_id, seal.position, seal.hash, seal.sealed_at, seal.key_id, seal.signature)

    def select_seals(self) -> list[Seal]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {self.seals_table} ORDER BY seal_id")
            return [Seal(row["seal_id"], row["position"], bytes(row["hash"]), row["sealed_at"], row["key_id"],
                         bytes(row["signature"])) for row in c.fetchall()]

    def _insert_verification(self, finished_at: str, outcome: str, report: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"INSERT INTO {self.verifications_table} (finished_at, outcome, report) VALUES (?, ?, ?)",
                      (finished_at, outcome, report))

    def _last_verification(self) -> str | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT report FROM {self.verifications_table} ORDER BY verification_id DESC LIMIT 1")
            row = c.fetchone()
        return None if row is None else str(row["report"])


def _originator(stored: Any) -> UUID | Any:
    """The stored id as the library reads it (a UUID from 32 hex digits), or as it is when it is not one."""
    try:
        return UUID(stored)
    except (TypeError, ValueError, AttributeError):
        return stored


def _text(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id
