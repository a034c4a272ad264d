"""Rebuild rate of the audit views against the raw log-read rate, measured in the same run on the same log.

    python scripts/bench_rebuild.py --townships 200 [--postgres DSN]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ledger.application import LedgerApplication
from projections.database import database_from_env
from projections.worker import ProjectionWorker
from scripts.workload import build_province_year


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--townships", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="ledger-bench-")
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": os.path.join(folder, "ledger.sqlite")}
    app = LedgerApplication(env=env)
    started = time.perf_counter()
    counts = build_province_year(app, townships=args.townships)
    print(f"loaded {counts} in {time.perf_counter() - started:.1f}s")
    events = counts["events"]

    started = time.perf_counter()
    position, decoded = 0, 0
    while batch := app.recorder.select_notifications(start=position, limit=args.batch, inclusive_of_start=False):
        for notification in batch:
            app.mapper.to_domain_event(notification)
            decoded += 1
        position = batch[-1].id
    raw = decoded / (time.perf_counter() - started)

    worker = ProjectionWorker(app, database_from_env(env), batch_size=args.batch)
    started = time.perf_counter()
    worker.rebuild()
    rebuild = events / (time.perf_counter() - started)
    print(f"events in log: {events}; batch {args.batch}; store sqlite")
    print(f"raw log read: {raw:,.0f} events/s; rebuild: {rebuild:,.0f} events/s")
    print(f"RATIO rebuild/raw_log_read = {rebuild / raw:.2f}")


if __name__ == "__main__":
    main()
