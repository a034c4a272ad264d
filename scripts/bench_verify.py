"""Verification rate of the hash chain against the raw log-read rate, and the per-save cost of chaining, measured in
the same run on the same store.

    python scripts/bench_verify.py --townships 50 [--store postgres --dsn postgresql://postgres@127.0.0.1/postgres]

Raw log read = ``recorder.select_notifications`` in batches + ``mapper.to_domain_event`` for every event (what a
projection rebuild has to do at least). Verification = ``ledger verify`` without its progress bar: every event's
chain link recomputed and compared, every seal's signature and head checked. Per-save cost: the same use case
(``record_expenditure``, one event per save) on a chained ledger and on one with the library's plain recorder,
interleaved in rounds so both see the same machine; the medians of the rounds are compared; and the same for the
store's transaction alone (``recorder.insert_events`` of one small event).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from api.sealing import Ed25519Signer, signature_check
from ledger.actors import Actor
from ledger.application import LedgerApplication
from ledger.integrity.recorders import as_chained, seal_head
from ledger.integrity.verify import verify_log
from scripts.workload import build_province_year


class UnchainedLedger(LedgerApplication):
    """The ledger with the library's own recorder: what saving cost before the chain (for comparison only)."""

    def construct_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()


CREATED_SCHEMAS: list[str] = []


def store_env(store: str, dsn: str | None, folder: str) -> dict[str, str]:
    if store == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": os.path.join(folder, f"{uuid.uuid4().hex}.sqlite"), "SQLITE_LOCK_TIMEOUT": "10"}
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn or "", autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    CREATED_SCHEMAS.append(schema)
    params = conninfo_to_dict(dsn or "")
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
            "POSTGRES_HOST": str(params.get("host", "127.0.0.1")), "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")), "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_SCHEMA": schema, "POSTGRES_LOCK_TIMEOUT": "5"}


def raw_read_rate(app: LedgerApplication, batch: int) -> float:
    started, position, decoded = time.perf_counter(), 0, 0
    while notifications := app.recorder.select_notifications(start=position, limit=batch, inclusive_of_start=False):
        for notification in notifications:
            app.mapper.to_domain_event(notification)
            decoded += 1
        position = notifications[-1].id
    return decoded / (time.perf_counter() - started)


def verify_rate(app: LedgerApplication, batch: int, signer: Ed25519Signer) -> tuple[float, int]:
    started = time.perf_counter()
    report = verify_log(app.recorder, check_signature=signature_check(signer.public_key), batch_size=batch)
    elapsed = time.perf_counter() - started
    if report.outcome != "ok":
        raise SystemExit(f"the benchmark log does not verify: {report.first_problem}")
    return report.events_checked / elapsed, report.seals_checked


def save_costs(chained: LedgerApplication, plain: LedgerApplication, rounds: int, saves: int) -> tuple[float, float]:
    """Median milliseconds per one-event save, chained and plain."""
    officer = Actor("bench-officer", "130000")
    projects = {}
    for name, app in (("chained", chained), ("plain", plain)):
        fund = app.appropriate_fund(
            officer, holder_region="130000", fiscal_year=2023, document_no="BENCH-SAVE", source_level="central",
            purpose="bench", allowed_categories=["staff"], service_domains=["social_assistance"],
            valid_from=date(2023, 1, 1), valid_to=date(2023, 12, 31), amount="100000000.00",
            effective_on=date(2023, 2, 1))
        project = app.register_project(
            officer, code="BENCH-SAVE-1", name="bench", township_code="130102001", station_name="bench",
            service_domains=["social_assistance"], period_start=date(2023, 3, 1), period_end=date(2024, 2, 29),
            budget_lines={"staff": "90000000.00"}, effective_on=date(2023, 3, 1))
        app.allocate_funds(officer, fund["fund_id"], target_kind="project", project_id=project["project_id"],
                           amount="90000000.00", effective_on=date(2023, 3, 5))
        projects[name] = project["project_id"]
    timings: dict[str, list[float]] = {"chained": [], "plain": []}
    for _ in range(rounds):
        for name, app in (("chained", chained), ("plain", plain)):
            started = time.perf_counter()
            for _ in range(saves):
                app.record_expenditure(officer, projects[name], line="staff", amount="1.00", payee_name="p",
                                       payee_kind="provider", effective_on=date(2023, 4, 1))
            timings[name].append((time.perf_counter() - started) * 1000 / saves)
    return statistics.median(timings["chained"]), statistics.median(timings["plain"])


def insert_costs(chained: LedgerApplication, plain: LedgerApplication, rounds: int, saves: int) -> tuple[float, float]:
    """Median milliseconds per ``recorder.insert_events`` of one small event: the store's transaction alone."""
    timings: dict[str, list[float]] = {"chained": [], "plain": []}
    state = b'{"amount":"100.00","line":"staff","payee_name":"p"}'
    for _ in range(rounds):
        for name, app in (("chained", chained), ("plain", plain)):
            originator = uuid.uuid4()
            started = time.perf_counter()
            for version in range(1, saves + 1):
                app.recorder.insert_events([StoredEvent(originator, version, "bench:Event", state)])
            timings[name].append((time.perf_counter() - started) * 1000 / saves)
    return statistics.median(timings["chained"]), statistics.median(timings["plain"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--townships", type=int, default=50)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the per-save comparison")
    parser.add_argument("--saves", type=int, default=200, help="saves per round and ledger")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="ledger-bench-verify-")
    signer = Ed25519Signer(Ed25519PrivateKey.generate())

    app = LedgerApplication(env=store_env(args.store, args.dsn, folder))
    started = time.perf_counter()
    counts = build_province_year(app, townships=args.townships,
                                 progress=lambda done, total: done % 10 == 0 and seal_head(as_chained(app.recorder),
                                                                                             signer))
    seal_head(as_chained(app.recorder), signer)
    print(f"loaded {counts} in {time.perf_counter() - started:.1f}s ({args.store})")

    raw = raw_read_rate(app, args.batch)
    verified, seals = verify_rate(app, args.batch, signer)
    raw_again = raw_read_rate(app, args.batch)  # both orders, so that a warm cache favours neither
    raw = (raw + raw_again) / 2
    print(f"events in log: {counts['events']}; batch {args.batch}; {seals} seals")
    print(f"raw log read: {raw:,.0f} events/s; verify: {verified:,.0f} events/s")
    print(f"RATIO verify/raw_log_read = {verified / raw:.2f}")
    app.close()

    chained = LedgerApplication(env=store_env(args.store, args.dsn, folder))
    plain = UnchainedLedger(env=store_env(args.store, args.dsn, folder))
    with_chain, without = save_costs(chained, plain, args.rounds, args.saves)
    print(f"one-event save (record_expenditure), median of {args.rounds} rounds of {args.saves}: "
          f"chained {with_chain:.3f} ms, plain recorder {without:.3f} ms")
    print(f"PER-SAVE overhead of the chain = {with_chain - without:+.3f} ms ({(with_chain / without - 1) * 100:+.1f}%)")
    with_chain, without = insert_costs(chained, plain, args.rounds, args.saves)
    print(f"insert_events of one event (the transaction alone): chained {with_chain:.3f} ms, plain {without:.3f} ms: "
          f"{with_chain - without:+.3f} ms ({(with_chain / without - 1) * 100:+.1f}%)")
    chained.close()
    plain.close()
    shutil.rmtree(folder, ignore_errors=True)
    if CREATED_SCHEMAS:
        import psycopg

        with psycopg.connect(args.dsn, autocommit=True) as conn:
            for schema in CREATED_SCHEMAS:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
