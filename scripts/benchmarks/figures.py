"""The ledger's own figures off the HTTP path: rebuild and raw log read (each in a child process, for its peak RSS),
as-of replay of one long project, and audit query latency."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ledger import ids
from ledger.application import LedgerApplication
from ledger.project import Project

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def child(kind: str, env: dict[str, str], batch: int) -> dict[str, Any]:
    """Runs ``raw`` (select_notifications + to_domain_event over the log) or ``rebuild`` (every audit view from
    position 0, swapped in) in a fresh process; returns its rate and peak RSS."""
    done = subprocess.run([sys.executable, "-m", "scripts.benchmarks.figures", kind, json.dumps(env), str(batch)],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child_main(kind: str, env: dict[str, str], batch: int) -> None:
    app = LedgerApplication(env=env)
    events = app.recorder.max_notification_id() or 0
    began = time.perf_counter()
    if kind == "raw":
        position, decoded = 0, 0
        while notifications := app.recorder.select_notifications(start=position, limit=batch, inclusive_of_start=False):
            for notification in notifications:
                app.mapper.to_domain_event(notification)
                decoded += 1
            position = notifications[-1].id
        events = decoded
    else:
        from projections.database import database_from_env
        from projections.worker import ProjectionWorker

        ProjectionWorker(app, database_from_env(env), batch_size=batch).rebuild()
    seconds = time.perf_counter() - began
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"kind": kind, "events": events, "seconds": seconds, "rate": events / seconds,
                      "peak_rss_mb": rss_mb}))


def long_project(app: LedgerApplication, events: int = 1000, code: str = "BENCH-ASOF-1") -> tuple[Any, datetime]:
    """A project with ``events`` events (registration and expenditures), saved directly; returns its id and an
    instant after its last event."""
    project = Project(id=ids.project_id(code), actor="bench", code=code, name="as-of 基准项目",
                      township_code="130102001", station_name="基准社工站", service_domains=["social_assistance"],
                      provider_name=None, provider_uscc=None, period_start=date(2023, 4, 1),
                      period_end=date(2024, 3, 31), budget_lines={"activities": Decimal("1000000.00")},
                      monthly_plan=[], output_targets=[],
                      effective_on=date(2023, 3, 1))
    for n in range(events - 1):
        project.record_expenditure(entry_id=ids.natural_key_id("bench-asof", str(n)), line="activities",
                                   amount=Decimal("12.34"), payee_name="便民超市", payee_kind="supplier",
                                   payee_uscc=None, invoice_no=f"ASOF-{n}", fund_id=None, description="",
                                   effective_on=date(2023, 4, 1) + timedelta(days=n % 300), actor="bench")
    app.save(project)
    return project.id, datetime.now(UTC)


def timings(call: Callable[[], Any], samples: int, warmup: int = 2, budget_s: float = 60) -> dict[str, float]:
    """Milliseconds: median, p99 and max over up to ``samples`` calls after ``warmup`` calls, stopping early (after
    at least 5) once ``budget_s`` seconds are spent: slow calls get fewer samples, and the count says so."""
    for _ in range(warmup):
        call()
    taken: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(taken) < samples and (len(taken) < 5 or time.perf_counter() < deadline):
        began = time.perf_counter()
        call()
        taken.append((time.perf_counter() - began) * 1000)
    taken.sort()
    return {"median_ms": statistics.median(taken), "p99_ms": taken[min(len(taken) - 1, int(len(taken) * 0.99))],
            "max_ms": taken[-1], "samples": len(taken)}


if __name__ == "__main__":
    _child_main(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]))
