"""Baselines measured beside the ledger in the same run: what the store and the library give without the project.

* raw durable insert: psycopg, one INSERT of an event-sized row per committed transaction (synchronous_commit as the
  server has it), with 1 and with N client connections (threads);
* naive eventsourcing: the library used plainly, per posting: load a small aggregate, one event, save;
* raw COPY: psycopg COPY of the same rows.
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from scripts.benchmarks.databases import ledger_env

TABLE = """CREATE TABLE IF NOT EXISTS raw_events (
    notification_id bigserial PRIMARY KEY, originator_id uuid NOT NULL, originator_version integer NOT NULL,
    topic text NOT NULL, state bytea NOT NULL, UNIQUE (originator_id, originator_version))"""
INSERT = "INSERT INTO raw_events (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
TOPIC = "ledger:Project.ExpenditureRecorded"


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else 0.0


def raw_insert(dsn: str, state: bytes, clients: int, seconds: float) -> dict[str, Any]:
    """Rows per second, each INSERT its own committed transaction, from ``clients`` connections at once."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(TABLE)
    counts = [0] * clients
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(number: int) -> None:
        with psycopg.connect(dsn) as conn:
            originator = uuid.uuid4()
            start.wait()
            while not stop.is_set():
                began = time.perf_counter()
                conn.execute(INSERT, (originator, counts[number] + 1, TOPIC, state))
                conn.commit()
                latencies[number].append(time.perf_counter() - began)
                counts[number] += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    merged = sorted(x for part in latencies for x in part)
    return {"rate": _rate(sum(counts), elapsed), "rows": sum(counts), "clients": clients,
            "p50_ms": merged[len(merged) // 2] * 1000 if merged else 0.0,
            "p99_ms": merged[int(len(merged) * 0.99)] * 1000 if merged else 0.0}


def raw_copy(dsn: str, state: bytes, rows: int) -> dict[str, Any]:
    """Rows per second of one COPY of ``rows`` event-sized rows, committed."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_events")
        conn.execute(TABLE)
    originator = uuid.uuid4()
    with psycopg.connect(dsn) as conn:
        began = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(
                "COPY raw_events (originator_id, originator_version, topic, state) FROM STDIN") as copy:
            for version in range(1, rows + 1):
                copy.write_row((originator, version, TOPIC, state))
        conn.commit()
        elapsed = time.perf_counter() - began
    return {"rate": _rate(rows, elapsed), "rows": rows}


class Account(Aggregate):
    """A plain aggregate for the naive baseline: one event per posting."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.balance = Decimal(0)

    @event("Posted")
    def post(self, amount: Decimal, line: str, payee_name: str, invoice_no: str) -> None:
        self.balance += amount


class NaiveLedger(Application[uuid.UUID]):
    name = "naive"


def naive_eventsourcing(dsn: str, clients: int, seconds: float, aggregates: int = 200) -> dict[str, Any]:
    """Postings per second: ``repository.get``, one command, ``save``; ``clients`` threads on many aggregates."""
    app = NaiveLedger(env={**ledger_env(dsn), "POSTGRES_POOL_SIZE": str(max(2, clients)), "CREATE_TABLE": "y"})
    try:
        ids = []
        for n in range(aggregates):
            account = Account(name=f"account-{n}")
            app.save(account)
            ids.append(account.id)
        counts, conflicts = [0] * clients, [0] * clients
        start = threading.Barrier(clients + 1)
        stop = threading.Event()

        def client(number: int) -> None:
            start.wait()
            n = number
            while not stop.is_set():
                account = app.repository.get(ids[n % len(ids)])
                account.post(Decimal("12.34"), "activities", "便民超市", f"N{number}-{n}")
                try:
                    app.save(account)
                    counts[number] += 1
                except Exception:  # a concurrent save of the same aggregate: the naive client just moves on
                    conflicts[number] += 1
                n += clients

        threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        app.close()
    return {"rate": _rate(sum(counts), elapsed), "postings": sum(counts), "conflicts": sum(conflicts),
            "clients": clients}
