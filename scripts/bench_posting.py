"""Posting throughput and latency through the application (not HTTP), group commit on and off, against a raw durable
insert measured in the same run on the same store.

    .venv/bin/python scripts/bench_posting.py                       # both stores, 16 threads, 4000 postings a run
    .venv/bin/python scripts/bench_posting.py --store postgres --threads 1 4 16 --postings 3000
    .venv/bin/python scripts/bench_posting.py --store sqlite --profile   # plus the posting path's top functions

Each run is a fresh ledger (a new SQLite file, or a new schema in a throwaway PostgreSQL database created and dropped
here): one fund, ``--projects`` funded projects, then ``--threads`` threads sharing one ``LedgerApplication`` post
``--postings`` expenditures (``record_expenditure`` with an idempotency key, as every API request has) to projects
picked at random. Latency is per posting, from the call to its durable commit. Baselines, same store, same run:

* raw durable insert, 1 client: one INSERT of an event-sized row per committed transaction (PostgreSQL through psycopg
  with synchronous_commit on; SQLite through sqlite3 in WAL mode with the library's settings), and with ``--threads``
  clients (each its own connection).

Output: a table, then machine-readable lines ``RATIO posting_<store>_gc_<on|off>_<threads>t/raw_insert_1 = x`` and
``RATIO posting_<store>_gc_on/gc_off_<threads>t = x``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ledger.actors import Actor
from ledger.application import Idempotency, LedgerApplication

OFFICER = Actor("bench-officer", "130000")
STATE = (b'{"amount":"1234.56","line":"staff","payee_name":"\\u5170\\u5dde\\u5e02\\u57ce\\u5173\\u533a\\u793e\\u4f1a'
         b'\\u5de5\\u4f5c\\u670d\\u52a1\\u4e2d\\u5fc3","payee_kind":"provider","payee_uscc":"91620105MA71T4YW8Q",'
         b'"invoice_no":"INV-2023-000123","fund_id":null,"description":"","effective_on":"2023-06-01",'
         b'"actor":"bench-officer","entry_id":"6f2b1c4e-0d55-4f3a-9a0e-5b7f6c3d2a10",'
         b'"timestamp":"2023-06-01T08:00:00.000000+00:00","originator_topic":"ledger:Project"}')


@dataclass
class Figures:
    label: str
    count: int
    seconds: float
    latencies: list[float]
    transactions: int | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def row(self) -> str:
        batch = "" if not self.transactions else f"{self.count / self.transactions:5.1f}"
        return (f"{self.label:<44} {self.rate:>9,.0f}/s  p50 {self.quantile(0.5):7.2f} ms  p99 "
                f"{self.quantile(0.99):7.2f} ms  max {max(self.latencies) * 1000:8.2f} ms  {batch:>5}")


# -- stores ------------------------------------------------------------------------------------------------------------


class Stores:
    """Fresh SQLite files in a temporary folder; fresh schemas in a throwaway PostgreSQL database."""

    def __init__(self, dsn: str):
        self.folder = tempfile.mkdtemp(prefix="ledger-bench-posting-")
        self.admin_dsn = dsn
        self.database: str | None = None

    def env(self, store: str, group_commit: bool) -> dict[str, str]:
        gc = {"LEDGER_GROUP_COMMIT": "on" if group_commit else "off"}
        if store == "sqlite":
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_LOCK_TIMEOUT": "10", **gc,
                    "SQLITE_DBNAME": os.path.join(self.folder, f"{uuid.uuid4().hex}.sqlite")}
        from psycopg.conninfo import conninfo_to_dict

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with self._connect() as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        params = conninfo_to_dict(self.dsn())
        return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": str(params["dbname"]),
                "POSTGRES_HOST": str(params.get("host", "127.0.0.1")), "POSTGRES_PORT": str(params.get("port", 5432)),
                "POSTGRES_USER": str(params.get("user", "postgres")),
                "POSTGRES_PASSWORD": str(params.get("password", "")), "POSTGRES_SCHEMA": schema,
                "POSTGRES_LOCK_TIMEOUT": "5", "POSTGRES_POOL_SIZE": "20", **gc}

    def dsn(self) -> str:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        if self.database is None:
            self.database = f"ledger_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
        return make_conninfo("", **{**conninfo_to_dict(self.admin_dsn), "dbname": self.database})

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.dsn(), autocommit=True)

    def settings(self, store: str) -> str:
        if store == "sqlite":
            with sqlite3.connect(os.path.join(self.folder, "probe.sqlite")) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                sync = conn.execute("PRAGMA synchronous").fetchone()[0]
            return f"sqlite {sqlite3.sqlite_version}, WAL, synchronous={sync} (2 = FULL)"
        with self._connect() as conn:
            values = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                      for name in ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "commit_delay")}
        return "postgres " + ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.database is not None:
            import psycopg

            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


# -- baselines -----------------------------------------------------------------------------------------------------


def raw_inserts(stores: Stores, store: str, clients: int, count: int) -> Figures:
    """One event-sized row per committed transaction, from ``clients`` connections at once."""
    if store == "sqlite":
        path = os.path.join(stores.folder, f"raw-{uuid.uuid4().hex}.sqlite")
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
                         "PRIMARY KEY (originator_id, originator_version))")

        def connect() -> tuple[Any, Callable[[Any, str], None]]:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)

            def insert(c: Any, originator: str) -> None:
                c.execute("BEGIN")
                c.execute("INSERT INTO events VALUES (?, 1, 'ledger:Project.ExpenditureRecorded', ?)",
                          (originator, STATE))
                c.execute("COMMIT")

            return conn, insert
    else:
        import psycopg

        table = f"raw_{uuid.uuid4().hex[:12]}"
        with stores._connect() as conn:
            conn.execute(f"CREATE TABLE {table} (notification_id bigserial PRIMARY KEY, originator_id uuid NOT NULL, "
                         "originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, "
                         "UNIQUE (originator_id, originator_version))")

        def connect() -> tuple[Any, Callable[[Any, str], None]]:
            conn = psycopg.connect(stores.dsn())

            def insert(c: Any, originator: str) -> None:
                c.execute(f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                          "VALUES (%s, 1, 'ledger:Project.ExpenditureRecorded', %s)", (originator, STATE))
                c.commit()

            return conn, insert

    def work(done: Callable[[float], None], n: int) -> None:
        conn, insert = connect()
        try:
            for _ in range(n):
                started = time.perf_counter()
                insert(conn, str(uuid.uuid4()))
                done(time.perf_counter() - started)
        finally:
            conn.close()

    return _threaded(f"raw durable insert, {clients} client{'s' if clients > 1 else ''}", clients, count, work)


def _threaded(label: str, threads: int, count: int, work: Callable[[Callable[[float], None], int], None]) -> Figures:
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def done(seconds: float) -> None:
        with lock:
            latencies.append(seconds)

    def run(n: int) -> None:
        try:
            start.wait()
            work(done, n)
        except BaseException as error:
            errors.append(error)

    shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    pool = [threading.Thread(target=run, args=(n,)) for n in shares]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return Figures(label, len(latencies), elapsed, latencies)


# -- the ledger ----------------------------------------------------------------------------------------------------


def seeded_ledger(env: dict[str, str], projects: int) -> tuple[LedgerApplication, list[Any]]:
    app = LedgerApplication(env=env)
    fund = app.appropriate_fund(
        OFFICER, holder_region="130000", fiscal_year=2023, document_no="BENCH-POSTING", source_level="central",
        purpose="bench", allowed_categories=["staff", "activities"], service_domains=["social_assistance"],
        valid_from=date(2023, 1, 1), valid_to=date(2023, 12, 31), amount="900000000.00",
        effective_on=date(2023, 2, 1))
    ids = []
    for n in range(projects):
        project = app.register_project(
            OFFICER, code=f"BENCH-P-{n:05d}", name="bench", township_code="130102001", station_name="bench",
            service_domains=["social_assistance"], period_start=date(2023, 3, 1), period_end=date(2024, 2, 29),
            budget_lines={"staff": "900000.00", "activities": "100000.00"}, effective_on=date(2023, 3, 1))
        app.allocate_funds(OFFICER, fund["fund_id"], target_kind="project", project_id=project["project_id"],
                           amount="1000000.00", effective_on=date(2023, 3, 5))
        ids.append(project["project_id"])
    return app, ids


def post_one(app: LedgerApplication, project_id: Any, key: str) -> dict[str, Any]:
    return app.record_expenditure(
        OFFICER, project_id, line="staff", amount="1234.56", payee_name="兰州市城关区社会工作服务中心",
        payee_kind="provider", payee_uscc="91620105MA71T4YW8Q", invoice_no=f"INV-{key}",
        effective_on=date(2023, 6, 1), idempotency=Idempotency(key, f"hash-{key}"))


def postings(stores: Stores, store: str, group_commit: bool, threads: int, count: int, projects: int,
             seed: int) -> Figures:
    app, project_ids = seeded_ledger(stores.env(store, group_commit), projects)
    try:
        for n in range(min(50, count)):  # warm the aggregate cache and the connections
            post_one(app, project_ids[n % len(project_ids)], f"warm-{n}")
        committer = app.group_commit
        before = committer.transactions if committer is not None else 0
        rng = random.Random(seed)
        picks = [project_ids[rng.randrange(len(project_ids))] for _ in range(count)]
        counter = iter(range(count))
        lock = threading.Lock()

        def work(done: Callable[[float], None], n: int) -> None:
            for _ in range(n):
                with lock:
                    index = next(counter)
                started = time.perf_counter()
                post_one(app, picks[index], f"bench-{index}")
                done(time.perf_counter() - started)

        label = f"ledger {store}, group commit {'on ' if group_commit else 'off'}, {threads} threads"
        figures = _threaded(label, threads, count, work)
        if committer is not None:
            figures.transactions = committer.transactions - before
        return figures
    finally:
        app.close()


def profile(stores: Stores, store: str, count: int, projects: int) -> None:
    """The posting path's top functions, one thread, group commit off (the per-request work)."""
    app, project_ids = seeded_ledger(stores.env(store, False), projects)
    try:
        for n in range(50):
            post_one(app, project_ids[n % len(project_ids)], f"warm-{n}")
        profiler = cProfile.Profile()
        profiler.enable()
        for n in range(count):
            post_one(app, project_ids[n % len(project_ids)], f"profile-{n}")
        profiler.disable()
    finally:
        app.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)
    print(f"\nprofile of {count} postings on {store}, one thread:\n{out.getvalue()}")


def write_import_file(path: str, project_codes: list[str], rows: int) -> None:
    import csv

    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "kind", "project_code", "amount", "effective_on", "line", "payee_name", "payee_kind",
                         "invoice_no"])
        for n in range(rows):
            writer.writerow([f"H-{n:08d}", "expenditure", project_codes[n % len(project_codes)], "123.45",
                             "2023-06-01", "staff", "兰州市城关区社会工作服务中心", "provider", f"INV-{n:08d}"])


def bulk_import(stores: Stores, store: str, rows: int, projects: int, batch: int) -> tuple[float, float]:
    """Seconds of ``ledger import`` (check pass, then the import) of ``rows`` expenditures; and of the import alone."""
    from click.testing import CliRunner

    from api.cli import main as ledger_main

    env = stores.env(store, False)
    app, _ = seeded_ledger(env, projects)
    app.close()
    path = os.path.join(stores.folder, f"import-{uuid.uuid4().hex}.csv")
    write_import_file(path, [f"BENCH-P-{n:05d}" for n in range(projects)], rows)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(ledger_main, ["import", path, "--batch", str(batch)])
        whole = time.perf_counter() - started
        if result.exit_code != 0:
            raise SystemExit(f"ledger import failed: {result.output}")
        seconds = float(next(p for p in result.stdout.split() if p.startswith("seconds=")).split("=")[1])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return whole, seconds


def raw_copy(stores: Stores, store: str, rows: int) -> float:
    """Rows per second of the store's fastest bulk load of event-sized rows (COPY; SQLite: one executemany)."""
    data = [(str(uuid.uuid4()), 1, "ledger:Project.ExpenditureRecorded", STATE) for _ in range(rows)]
    if store == "sqlite":
        path = os.path.join(stores.folder, f"copy-{uuid.uuid4().hex}.sqlite")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
                     "PRIMARY KEY (originator_id, originator_version))")
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", data)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        return rows / elapsed
    table = f"copy_{uuid.uuid4().hex[:12]}"
    with stores._connect() as conn:
        conn.execute(f"CREATE TABLE {table} (notification_id bigserial PRIMARY KEY, originator_id uuid NOT NULL, "
                     "originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, "
                     "UNIQUE (originator_id, originator_version))")
        started = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(
                f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--dsn", default=os.environ.get("LEDGER_TEST_POSTGRES_DSN",
                                                        "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="server where a throwaway database is created (and dropped at the end)")
    parser.add_argument("--threads", type=int, nargs="+", default=[16])
    parser.add_argument("--postings", type=int, default=4000, help="postings per measured run")
    parser.add_argument("--projects", type=int, default=256)
    parser.add_argument("--raw", type=int, default=3000, help="rows per raw insert baseline")
    parser.add_argument("--repeat", type=int, default=1, help="alternate off/on runs this many times; medians")
    parser.add_argument("--profile", action="store_true", help="also print the top functions of the posting path")
    parser.add_argument("--import-rows", type=int, default=0,
                        help="also time `ledger import` of this many expenditure rows against raw COPY")
    parser.add_argument("--import-batch", type=int, default=1000, help="rows per transaction of the import")
    parser.add_argument("--skip-posting", action="store_true", help="only the import figures")
    args = parser.parse_args()
    stores = Stores(args.dsn)
    ratios: list[str] = []
    try:
        for store in ("sqlite", "postgres") if args.store == "both" else (args.store,):
            print(f"\n== {store}: {stores.settings(store)}; cpus={os.cpu_count()}; {args.postings} postings a run, "
                  f"{args.projects} projects")
            if args.import_rows:
                copy_rate = raw_copy(stores, store, args.import_rows)
                whole, importing = bulk_import(stores, store, args.import_rows, args.projects, args.import_batch)
                rate = args.import_rows / importing
                print(f"ledger import of {args.import_rows} expenditure rows (batches of {args.import_batch}): "
                      f"{rate:,.0f} rows/s (check + import {importing:.2f} s; with start-up {whole:.2f} s); "
                      f"raw {'COPY' if store == 'postgres' else 'executemany'} {copy_rate:,.0f} rows/s")
                ratios.append(f"RATIO import_{store}/raw_copy = {rate / copy_rate:.3f}")
            if args.skip_posting:
                continue
            raw1 = raw_inserts(stores, store, 1, args.raw)
            print(f"{'':<44} {'throughput':>11}  {'latency':<44} {'batch':>5}")
            print(raw1.row())
            for threads in args.threads:
                if threads > 1:
                    print(raw_inserts(stores, store, threads, args.raw).row())
                runs: dict[bool, list[Figures]] = {False: [], True: []}
                for round_ in range(args.repeat):
                    for gc in (False, True) if round_ % 2 == 0 else (True, False):
                        figures = postings(stores, store, gc, threads, args.postings, args.projects, seed=round_)
                        print(figures.row())
                        runs[gc].append(figures)
                rates = {gc: statistics.median(f.rate for f in runs[gc]) for gc in runs}
                for gc in (False, True):
                    ratios.append(f"RATIO posting_{store}_gc_{'on' if gc else 'off'}_{threads}t/raw_insert_1 = "
                                  f"{rates[gc] / raw1.rate:.2f}")
                ratios.append(f"RATIO posting_{store}_gc_on/gc_off_{threads}t = {rates[True] / rates[False]:.2f}")
            if args.profile:
                profile(stores, store, min(args.postings, 2000), args.projects)
    finally:
        stores.close()
    print()
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
