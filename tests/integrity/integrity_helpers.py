"""Helpers for the tamper-evidence tests: a small ledger, raw SQL on the store's tables (to tamper the way someone
with database access would), and verification shortcuts. The fixtures built on them are in conftest.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from builders import Ledger
from eventsourcing.persistence import Notification

from ledger.application import LedgerApplication
from ledger.integrity.chain import GENESIS, link
from ledger.integrity.recorders import ChainedRecorder, as_chained
from ledger.integrity.seals import SignatureCheck
from ledger.integrity.verify import Report, verify_log


@dataclass
class World:
    """What ``world`` posted: a fund, a project, its expenditures; ``positions`` is the log, in order."""

    fund: UUID
    project: UUID
    positions: list[int]


def build_world(app: LedgerApplication) -> World:
    ledger = Ledger(app)
    fund, project = ledger.funded_project()
    for amount in ("100.00", "200.00", "300.00"):
        ledger.spend(project, amount)
    other = ledger.appropriate("50000.00")
    ledger.allocate_to_fund(other, "1000.00")
    return World(fund, project, [n.id for n in log(app)])


def log(app: LedgerApplication) -> list[Notification]:
    return list(app.recorder.select_notifications(start=None, limit=10_000))


def chained(app: LedgerApplication) -> ChainedRecorder:
    return as_chained(app.recorder)


def verified(app: LedgerApplication, check: SignatureCheck | None = None, **kwargs: Any) -> Report:
    return verify_log(app.recorder, check_signature=check, **kwargs)


class RawStore:
    """Plain SQL on the store's own tables, as someone with database access (and no key) could run it."""

    def __init__(self, store: str, env: dict[str, str]):
        self.store = store
        if store == "sqlite":
            self.conn: Any = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)
            self.events, self.position, self.mark = "stored_events", "rowid", "?"
        else:
            self.conn = psycopg.connect(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                                        port=env["POSTGRES_PORT"], user=env["POSTGRES_USER"],
                                        password=env["POSTGRES_PASSWORD"], autocommit=True)
            self.conn.execute(f'SET search_path TO "{env["POSTGRES_SCHEMA"]}"')
            self.events, self.position, self.mark = "ledger_events", "notification_id", "%s"
        self.chain, self.seals = f"{self.events}_chain", f"{self.events}_seals"

    def run(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        statement = statement.format(events=self.events, chain=self.chain, seals=self.seals, pos=self.position,
                                     m=self.mark)
        cursor = self.conn.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []

    def identity(self, originator_id: UUID) -> Any:
        return originator_id.hex if self.store == "sqlite" else originator_id

    def set_state(self, position: int, state: bytes) -> None:
        self.run("UPDATE {events} SET state = {m} WHERE {pos} = {m}", state, position)

    def state(self, position: int) -> bytes:
        return bytes(self.run("SELECT state FROM {events} WHERE {pos} = {m}", position)[0][0])

    def delete_event(self, position: int) -> None:
        self.run("DELETE FROM {events} WHERE {pos} = {m}", position)

    def delete_chain_row(self, position: int) -> None:
        self.run("DELETE FROM {chain} WHERE notification_id = {m}", position)

    def insert_event(self, originator_id: UUID, version: int, topic: str, state: bytes) -> int:
        self.run("INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES ({m}, {m}, {m}, {m})",
                 self.identity(originator_id), version, topic, state)
        return int(self.run("SELECT MAX({pos}) FROM {events}")[0][0])

    def swap(self, first: int, second: int) -> None:
        """Exchanges the log positions of two events (three steps: positions are unique)."""
        for old, new in ((first, -1), (second, first), (-1, second)):
            self.run("UPDATE {events} SET {pos} = {m} WHERE {pos} = {m}", new, old)

    def rechain(self, app: LedgerApplication, after: int = 0) -> None:
        """Recomputes every chain hash after ``after`` from the events as they now are: what someone who knows
        the chain's format, but has no signing key, can do to hide a change from the chain."""
        rows = {int(p): bytes(h) for p, h in self.run("SELECT notification_id, hash FROM {chain}")}
        previous_hash = rows[after] if after else GENESIS
        for event in log(app):
            if event.id <= after:
                continue
            previous_hash = link(previous_hash, event.id, event)
            self.run("UPDATE {chain} SET hash = {m} WHERE notification_id = {m}", previous_hash, event.id)

    def close(self) -> None:
        self.conn.close()


def kinds(report: Report) -> list[tuple[str, int]]:
    return [(p.kind, p.position) for p in sorted(report.problems, key=lambda p: (p.position, p.kind))]


def other_events(app: LedgerApplication, of: UUID) -> Sequence[Notification]:
    return [n for n in log(app) if n.originator_id == of]
