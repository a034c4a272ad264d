"""The PostgreSQL application recorder, chained: chain rows are written by the transaction that writes the events.

The library's ``insert_events`` runs in one pipelined transaction: ``LOCK TABLE <events> IN EXCLUSIVE MODE``, the
``INSERT ... RETURNING notification_id`` (in ``_insert_stored_events``), one sync, then
``_fetch_ids_after_insert_events`` and the commit. The chain head is read right after the insert, in the same
pipeline (so the same round trip), while the lock is held until the commit: no other save can commit in between, so
it is the true head and the chain follows commit order. The links are queued before the commit and sent with it.
The chain, seals and verification results live in tables beside the events table (``<app>_events_chain`` and so
on), in the same schema.

SQL is plain text here: identifiers come from the library's own (checked) schema and table names and are quoted,
values are always parameters. (This package may not import the database driver; the library does.)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InternalError, Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from ledger.integrity.chain import ChainRow, Head, extend, paired
from ledger.integrity.recorders import ChainedRecorder
from ledger.integrity.seals import Seal

CREATE_ATTEMPTS = 8


class _Abort(BaseException):
    """Carries an exception raised after the insert out of the library's ``except Exception``, so that the transaction
    is rolled back rather than committed; ``insert_events`` raises the exception itself again."""

    def __init__(self, error: Exception):
        super().__init__(error)
        self.error = error


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected identifier {name!r}")
    return f'"{name}"'


class ChainedPostgresRecorder(PostgresApplicationRecorder, ChainedRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        if datastore.enable_db_functions:
            # In 9.5.6 that path inserts through a database function, outside this recorder: nothing would be chained.
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS must not be set: events would be written unchained")
        super().__init__(datastore, events_table_name=events_table_name)
        self._pending = threading.local()  # the head cursor, from one step of a save to the next (same thread)
        schema = _quoted(datastore.schema)
        self.check_identifier_length(f"{events_table_name}_verifications")
        self.chain_table = f"{schema}.{_quoted(events_table_name + '_chain')}"
        self.seals_table = f"{schema}.{_quoted(events_table_name + '_seals')}"
        self.verifications_table = f"{schema}.{_quoted(events_table_name + '_verifications')}"
        self.events_table = f"{schema}.{_quoted(events_table_name)}"
        id_type = "uuid" if datastore.originator_id_type == "uuid" else "text"
        self.chain_create_statements = [
            f"CREATE TABLE IF NOT EXISTS {self.chain_table} (notification_id bigint PRIMARY KEY, "
            f"previous_id bigint NOT NULL, originator_id {id_type} NOT NULL, originator_version bigint NOT NULL, "
            "hash bytea NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {_quoted(events_table_name + '_chain_identity_idx')} "
            f"ON {self.chain_table} (originator_id, originator_version)",
            f"CREATE TABLE IF NOT EXISTS {self.seals_table} (seal_id bigserial PRIMARY KEY, position bigint NOT NULL, "
            "hash bytea NOT NULL, sealed_at text NOT NULL, key_id text NOT NULL, signature bytea NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.verifications_table} (verification_id bigserial PRIMARY KEY, "
            "finished_at text NOT NULL, outcome text NOT NULL, report text NOT NULL)",
        ]
        self.select_head_statement = (
            f"SELECT notification_id, hash FROM {self.chain_table} ORDER BY notification_id DESC LIMIT 1"
        )
        self.insert_chain_statement = (
            f"INSERT INTO {self.chain_table} (notification_id, previous_id, originator_id, originator_version, hash) "
            "VALUES (%s, %s, %s, %s, %s)"
        )
        self.insert_chain_many_statement = (
            f"INSERT INTO {self.chain_table} (notification_id, previous_id, originator_id, originator_version, hash) "
            f"SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::{id_type}[], %s::bigint[], %s::bytea[])"
        )

    def create_table(self) -> None:
        """Creates the library's tables and the chain's. Processes starting together (gunicorn workers, a worker and
        a test) race on the catalogue: PostgreSQL then answers "tuple concurrently updated" or a duplicate key to
        all but one, so creation is retried; every statement is idempotent."""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                super().create_table()
                with self.datastore.transaction(commit=True) as curs:
                    for statement in self.chain_create_statements:
                        curs.execute(statement)
                return
            except (InternalError, IntegrityError):
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.02, 0.1) * 2**attempt)

    # -- writing: the head is read in the library's pipeline, the links are written before its commit --------------

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)  # lock table, notify, insert events
        # Queued in the same pipeline as the insert, so the library's one sync also brings the head: no extra round
        # trip. The lock is held from here to the commit, so it is the true head.
        head_cursor = curs.connection.cursor()
        head_cursor.execute(self.select_head_statement, prepare=True)
        self._pending.head_cursor = head_cursor

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        try:
            return super().insert_events(stored_events, **kwargs)
        except _Abort as abort:
            raise abort.error from abort.error.__cause__

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
                                       ) -> Sequence[int] | None:
        try:
            return self._write_chain(curs, stored_events, **kwargs)
        except Exception as error:
            # The library keeps an exception raised here until its transaction block has ended, and so commits the
            # events; passed on as a BaseException, it ends the block instead, which rolls the transaction back.
            raise _Abort(error) from error

    def _write_chain(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The positions the library gave the events just inserted, and their chain links, queued for the commit."""
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        head_cursor, self._pending.head_cursor = self._pending.head_cursor, None
        with head_cursor:
            row = head_cursor.fetchone()
            head = None if row is None else Head(int(row["notification_id"]), bytes(row["hash"]))
            links = extend(head, paired(positions, stored_events))
            # Queued, and sent with the library's commit: one row by itself (most saves), many in one statement.
            if len(links) <= 2:
                head_cursor.executemany(self.insert_chain_statement, [
                    (r.position, r.previous, r.originator_id, r.originator_version, r.hash) for r in links
                ])
            else:
                head_cursor.execute(self.insert_chain_many_statement, [
                    [r.position for r in links], [r.previous for r in links], [r.originator_id for r in links],
                    [r.originator_version for r in links], [r.hash for r in links],
                ], prepare=True)
        self.last_chained = links[-1].position
        return positions

    # -- reading the chain --------------------------------------------------------------------------------------

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return list(curs.fetchall())

    def chain_head(self) -> Head | None:
        rows = self._rows(self.select_head_statement)
        return Head(int(rows[0]["notification_id"]), bytes(rows[0]["hash"])) if rows else None

    def select_log(self, after: int, limit: int, stop: int) -> Sequence[Notification]:
        rows = self._rows(
            f"SELECT notification_id, originator_id, originator_version, topic, state FROM {self.events_table} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s",
            (after, stop, limit),
        )
        return [Notification(id=r["notification_id"], originator_id=r["originator_id"],
                             originator_version=r["originator_version"], topic=r["topic"], state=r["state"])
                for r in rows]

    def select_chain(self, after: int, limit: int, stop: int | None = None) -> Sequence[ChainRow]:
        rows = self._rows(
            f"SELECT notification_id, previous_id, originator_id, originator_version, hash FROM {self.chain_table} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s",
            (after, stop if stop is not None else 2**63 - 1, limit),
        )
        return [ChainRow(r["notification_id"], r["previous_id"], r["originator_id"], r["originator_version"],
                         bytes(r["hash"])) for r in rows]

    def chained_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        rows = self._rows(f"SELECT notification_id AS p FROM {self.chain_table} WHERE originator_id = %s "
                          "AND originator_version = %s ORDER BY 1", (originator_id, originator_version))
        return [int(r["p"]) for r in rows]

    def recorded_positions(self, originator_id: UUID | str, originator_version: int) -> list[int]:
        rows = self._rows(f"SELECT notification_id AS p FROM {self.events_table} WHERE originator_id = %s "
                          "AND originator_version = %s ORDER BY 1", (originator_id, originator_version))
        return [int(r["p"]) for r in rows]

    # -- seals and verification results -------------------------------------------------------------------------

    def insert_seal(self, seal: Seal) -> Seal:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"INSERT INTO {self.seals_table} (position, hash, sealed_at, key_id, signature) "
                         "VALUES (%s, %s, %s, %s, %s) RETURNING seal_id",
                         (seal.position, seal.hash, seal.sealed_at, seal.key_id, seal.signature))
            row = curs.fetchone()
        assert row is not None
        return Seal(int(row["seal_id"]), seal.position, seal.hash, seal.sealed_at, seal.key_id, seal.signature)

    def select_seals(self) -> list[Seal]:
        rows = self._rows(f"SELECT * FROM {self.seals_table} ORDER BY seal_id")
        return [Seal(int(r["seal_id"]), int(r["position"]), bytes(r["hash"]), r["sealed_at"], r["key_id"],
                     bytes(r["signature"])) for r in rows]

    def _insert_verification(self, finished_at: str, outcome: str, report: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"INSERT INTO {self.verifications_table} (finished_at, outcome, report) "
                         "VALUES (%s, %s, %s)", (finished_at, outcome, report))

    def _last_verification(self) -> str | None:
        rows = self._rows(f"SELECT report FROM {self.verifications_table} ORDER BY verification_id DESC LIMIT 1")
        return str(rows[0]["report"]) if rows else None
