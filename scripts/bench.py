"""The benchmark: the baselines and the ledger's figures in one run on one machine, as ratios against the baselines
(shared/design/PERFORMANCE.md). Run it as ``scripts/bench`` (``--quick`` for the short version).

Every PostgreSQL figure uses its own throwaway database ``bench_<timestamp>_<name>`` on the server named by
``--admin-dsn`` (created and dropped here); SQLite figures use a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from api.config import load_config, persistence_env, read_side_env
from api.serving import stop
from ledger.access import issue_token
from ledger.application import LedgerApplication
from ledger.regions import townships_under
from projections.database import database_from_env
from projections.worker import ProjectionWorker
from scripts.benchmarks import baselines, figures
from scripts.benchmarks.databases import ledger_env, server_settings, throwaway
from scripts.benchmarks.http_load import LagSampler, ensure_wrk, server, wait_until_idle, worker_rss_mb, wrk
from scripts.workload import DirectLoader, province_year

ROOT = Path(__file__).resolve().parents[1]
NATION_TOWNSHIPS = 41_352


@dataclass(frozen=True)
class Sizes:
    townships: int | None  # None: all 2,365 townships of 河北省 (the province-year)
    chunk: int  # townships per load chunk; the first size for the rebuild memory figure is after ``first_chunks``
    first_chunks: int
    wrk_seconds: int
    baseline_seconds: float
    copy_rows: int
    samples: int
    sqlite_townships: int
    query_budget_s: float  # each query's sampling stops after this long (at least 5 samples)


QUICK = Sizes(townships=40, chunk=10, first_chunks=1, wrk_seconds=8, baseline_seconds=3, copy_rows=30_000, samples=20,
              sqlite_townships=10, query_budget_s=10)
FULL = Sizes(townships=None, chunk=100, first_chunks=4, wrk_seconds=30, baseline_seconds=10, copy_rows=300_000,
             samples=100, sqlite_townships=200, query_budget_s=60)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _server_env(store_env: dict[str, str], data_dir: str, projections: str, threads: int) -> dict[str, str]:
    env = {**store_env, "LEDGER_DATA_DIR": data_dir, "LEDGER_PROJECTIONS": projections,
           "LEDGER_TOKEN_CACHE_SECONDS": "60", "LEDGER_LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": os.path.join(data_dir, "prometheus")}
    if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        env["POSTGRES_POOL_SIZE"] = str(max(4, threads))
    return env


def _sides(server_env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The ledger's and the views' environments exactly as the server derives them."""
    values = load_config(environ=server_env)
    return persistence_env(values), read_side_env(values)


def _tokens(app: LedgerApplication) -> tuple[str, str]:
    officer, _ = issue_token(app, actor_name="基准测试 财务人员", role="officer", scope="130000", issued_by="bench")
    auditor, _ = issue_token(app, actor_name="基准测试 审计人员", role="auditor", scope="", issued_by="bench")
    return officer, auditor


def _paths(project_ids: list[Any]) -> list[str]:
    return [f"/api/v1/projects/{p}/expenditures" for p in project_ids]


def _sample_state(app: LedgerApplication) -> bytes:
    """The stored state of a real expenditure event: the row size every baseline writes."""
    position = 0
    while notifications := app.recorder.select_notifications(start=position, limit=500, inclusive_of_start=False):
        for notification in notifications:
            if notification.topic.endswith("ExpenditureRecorded"):
                return bytes(notification.state)
        position = notifications[-1].id
    raise RuntimeError("the workload holds no expenditure")


def _http_timings(base: str, token: str, path: str, samples: int, budget_s: float,
                  worker_pid: int | None = None) -> dict[str, float]:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}"})

    def call(timeout: float = 60) -> None:
        response = session.get(base + path, timeout=timeout)
        response.raise_for_status()

    # The first read of a date judges every object's date-dependent findings once and memoises them (the worker
    # does the same for today when idle): timed on its own. The reads that follow are timed once the projection
    # worker is idle (caught up, statistics refreshed, today's memos filled), as it is between postings, and after
    # a read on each server worker (its first request opens its pools).
    began = time.perf_counter()
    call(timeout=1800)
    first_ms = (time.perf_counter() - began) * 1000
    waited = wait_until_idle(worker_pid) if worker_pid is not None else 0.0
    return {**figures.timings(call, samples, warmup=4, budget_s=budget_s), "first_ms": first_ms,
            "worker_idle_after_s": waited}


def _posting(args: argparse.Namespace, sizes: Sizes, base: str, process: Any, worker: ProjectionWorker,
             app: LedgerApplication, workload: Any, officer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """wrk posting expenditures over every project of the workload, with the projection lag sampled meanwhile."""
    head = worker.head()
    with LagSampler(worker) as sampler:
        posting = wrk(base, _paths([str(app.find_project_id(c)) for c in workload.projects]), officer,
                      connections=args.connections, seconds=sizes.wrk_seconds)
    posting["drain_s"] = sampler.drain_seconds()
    posting["events_written"] = worker.head() - head
    posting["worker_rss_mb"] = worker_rss_mb(process.pid)
    return posting, sampler.summary()


def postgres_ledger(args: argparse.Namespace, sizes: Sizes, results: dict[str, Any]) -> None:
    """Province-year log on PostgreSQL: load, raw read and rebuild at two sizes, as-of replay, queries over HTTP,
    then HTTP posting with the projection worker as its own process (LEDGER_PROJECTIONS=external)."""
    with throwaway(args.admin_dsn, "ledger") as dsn, tempfile.TemporaryDirectory(prefix="bench-pg-") as data_dir:
        results["postgres"] = server_settings(dsn)
        env = _server_env(ledger_env(dsn), data_dir, "external", args.threads_pg)
        store_env, views_env = _sides(env)
        app = LedgerApplication(env=store_env)
        workload = province_year(townships=sizes.townships, seed=args.seed)
        loader = DirectLoader(app, seed=args.seed, batch_events=args.batch)
        chunks = list(workload.chunks(sizes.chunk))
        say(f"loading {len(workload.townships)} townships directly in batches of ~{args.batch} events")
        first = loader.load_chunks(chunks[:1 + sizes.first_chunks])
        say(f"  first part: {first['events']} events at {first['events_per_second']:,} events/s; rebuild there")
        raw_a = figures.child("raw", store_env, args.projection_batch)
        rebuild_a = figures.child("rebuild", views_env, args.projection_batch)
        rest = loader.load_chunks(chunks[1 + sizes.first_chunks:])
        events = app.recorder.max_notification_id() or 0
        seconds = first["seconds"] + rest["seconds"]
        results["load_direct"] = {"events": events, "rate": events / seconds, "seconds": seconds,
                                  "saves": loader.saves, "townships": len(workload.townships)}
        say(f"  loaded {events} events at {events / seconds:,.0f} events/s; raw read and rebuild")
        results["state_bytes"] = _sample_state(app)
        raw_b = figures.child("raw", store_env, args.projection_batch)
        rebuild_b = figures.child("rebuild", views_env, args.projection_batch)
        results["raw_read"], results["rebuild"] = raw_b, rebuild_b
        results["rebuild_small"], results["raw_read_small"] = rebuild_a, raw_a
        results["log_events"] = events

        say("as-of replay of a project of 1,000 events")
        project_id, after = figures.long_project(app)
        results["as_of"] = figures.timings(lambda: app.get_project(project_id, as_of=after), sizes.samples)
        results["as_of"]["events"] = len(app.get_history(project_id))
        officer, auditor = _tokens(app)
        worker = ProjectionWorker(app, database_from_env(views_env))
        worker.catch_up()

        projections = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "projections", "run"],
                                       env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        try:
            with server(None, env, args.workers, args.threads_pg) as (base, process):
                say("audit queries over HTTP (auditor, nationwide scope)")
                for key, path in (("query_findings", "/api/v1/audit/findings?region=130000&limit=100"),
                                  ("query_region", "/api/v1/audit/regions/130000")):
                    results[key] = _http_timings(base, auditor, path, sizes.samples, sizes.query_budget_s,
                                                 projections.pid)
                say(f"HTTP posting on PostgreSQL: wrk, {args.connections} connections, {sizes.wrk_seconds}s")
                results["posting_pg"], results["lag_pg"] = _posting(args, sizes, base, process, worker, app,
                                                                    workload, officer)
        finally:
            stop(projections)
            worker.db.close()
            app.close()


def sqlite_ledger(args: argparse.Namespace, sizes: Sizes, results: dict[str, Any]) -> None:
    """The embedded default: SQLite, the projection thread inside each server worker (LEDGER_PROJECTIONS=thread)."""
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as data_dir:
        env = _server_env({"PERSISTENCE_MODULE": "eventsourcing.sqlite"}, data_dir, "thread", args.threads_sqlite)
        store_env, views_env = _sides(env)
        Path(store_env["SQLITE_DBNAME"]).parent.mkdir(parents=True, exist_ok=True)
        app = LedgerApplication(env=store_env)
        workload = province_year(townships=sizes.sqlite_townships, seed=args.seed)
        say(f"SQLite: loading {len(workload.townships)} townships, catching the views up")
        summary = DirectLoader(app, seed=args.seed, batch_events=args.batch).load(workload)
        results["load_direct_sqlite"] = {"events": summary["events"], "rate": summary["events_per_second"]}
        officer, _ = _tokens(app)
        worker = ProjectionWorker(app, database_from_env(views_env))
        worker.catch_up()
        try:
            with server(None, env, args.workers, args.threads_sqlite) as (base, process):
                say(f"HTTP posting on SQLite: wrk, {args.connections} connections, {sizes.wrk_seconds}s")
                results["posting_sqlite"], results["lag_sqlite"] = _posting(args, sizes, base, process, worker, app,
                                                                            workload, officer)
        finally:
            worker.db.close()
            app.close()


def run_baselines(args: argparse.Namespace, sizes: Sizes, results: dict[str, Any]) -> None:
    state = results["state_bytes"]
    seconds = sizes.baseline_seconds
    with throwaway(args.admin_dsn, "raw") as dsn:
        say(f"raw durable insert ({len(state)}-byte rows): 1 and {args.connections} clients, {seconds}s each")
        results["raw_insert_1"] = baselines.raw_insert(dsn, state, 1, seconds)
        results["raw_insert_n"] = baselines.raw_insert(dsn, state, args.connections, seconds)
    with throwaway(args.admin_dsn, "copy") as dsn:
        say(f"raw COPY of {sizes.copy_rows} rows")
        results["raw_copy"] = baselines.raw_copy(dsn, state, sizes.copy_rows)
    with throwaway(args.admin_dsn, "naive") as dsn:
        say(f"naive eventsourcing: 1 and {args.connections} clients")
        results["naive_1"] = baselines.naive_eventsourcing(dsn, 1, seconds)
        results["naive_n"] = baselines.naive_eventsourcing(dsn, args.connections, seconds)
    say("Flask minimal POST under the same gunicorn settings")
    paths = _paths([f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 2001)])
    with server("scripts.benchmarks.minimal_app:app", {}, args.workers, args.threads_pg, ready_path="/") as (base, _):
        results["flask_minimal"] = wrk(base, paths, "none", connections=args.connections, seconds=sizes.wrk_seconds)


def bulk_import(args: argparse.Namespace, sizes: Sizes, results: dict[str, Any]) -> None:
    """`ledger import` of historical expenditure rows from a CSV file into PostgreSQL (its check pass, then the
    import in transactions of 1,000 rows), timed as a whole, against raw COPY measured in the same run."""
    from scripts.bench_posting import Stores
    from scripts.bench_posting import bulk_import as run_import

    rows = max(2_000, sizes.copy_rows // 15)
    say(f"bulk import: ledger import of {rows:,} expenditure rows (PostgreSQL)")
    stores = Stores(args.admin_dsn)
    try:
        whole, _ = run_import(stores, "postgres", rows, 50, 1000)
    finally:
        stores.close()
    results["import"] = {"rows": rows, "seconds": whole, "rate": rows / whole}


# -- the report -------------------------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "did not finish"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{text}{(' ' + unit) if unit else ''}"


def _revision() -> str:
    """The commit measured, and whether the working tree differed from it (outside docs/, which a run rewrites)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "outside a git checkout"
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def report(args: argparse.Namespace, sizes: Sizes, results: dict[str, Any], seconds: float) -> str:
    r = results
    pg, ps, pgs = r.get("posting_pg", {}), r.get("posting_sqlite", {}), r["postgres"]
    command = "scripts/bench --quick" if args.quick else "scripts/bench"
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    lines = ["# Benchmarks", "", f"Run {when} with `{command}` in {seconds / 60:.1f} minutes, {_revision()}. What "
             "limits the targets that are not met, with profiles, is in [performance.md](performance.md).", "",
             "## Conditions", "",
             "| condition | value |", "| --- | --- |",
             f"| machine | {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()} |",
             f"| PostgreSQL | {pgs['server_version']}; synchronous_commit={pgs['synchronous_commit']}, "
             f"fsync={pgs['fsync']}, wal_sync_method={pgs['wal_sync_method']}, "
             f"shared_buffers={pgs['shared_buffers']} |",
             f"| events in the PostgreSQL log | {r['log_events']:,} ({r['load_direct']['townships']:,} townships of "
             f"河北省; the first size for memory {r['rebuild_small']['events']:,}) |",
             f"| events in the SQLite log | {r['load_direct_sqlite']['events']:,} |",
             f"| HTTP | gunicorn (api.gunicorn_conf) {args.workers} workers × {args.threads_pg} threads on PostgreSQL "
             f"and for the Flask baseline, × {args.threads_sqlite} on SQLite (as `ledger serve`); wrk 2 threads, "
             f"{args.connections} connections, {sizes.wrk_seconds}s; distinct bodies and Idempotency-Keys over "
             f"{len(townships_under('130000')[:sizes.townships]) if sizes.townships else 2365:,} projects |",
             "| projections | PostgreSQL: `ledger projections run` as its own process (LEDGER_PROJECTIONS=external); "
             "SQLite: a thread in each server worker (thread) |",
             f"| batch | projection and log-read batch {args.projection_batch}; direct load ~{args.batch} events a "
             "save |",
             "| audit queries | auditor token with nationwide scope; after the first read of the date (timed apart), "
             "sampled once the projection worker was idle (waited "
             f"{_fmt(r.get('query_findings', {}).get('worker_idle_after_s'))} s) and after 4 warm-up reads |",
             "", "## Figures", "",
             "| figure | value | latency p50 / p99 / max | target | met |", "| --- | --- | --- | --- | --- |"]

    def lat(x: dict[str, Any]) -> str:
        return f"{_fmt(x.get('p50_ms'))} / {_fmt(x.get('p99_ms'))} / {_fmt(x.get('max_ms'))} ms" if x else ""

    def row(name: str, value: str, latency: str = "", target: str = "", met: bool | None = None) -> None:
        lines.append(f"| {name} | {value} | {latency} | {target} | {'' if met is None else 'yes' if met else 'NO'} |")

    ratios: list[tuple[str, float | None, str, bool | None]] = []

    def ratio(name: str, num: float | None, den: float | None, target: str = "", at_least: float | None = None) -> None:
        value = None if not num or not den else num / den
        ratios.append((name, value, target, None if at_least is None or value is None else value >= at_least))

    raw1, rawn, copy = r["raw_insert_1"], r["raw_insert_n"], r["raw_copy"]
    row("raw durable insert, 1 client", f"{_fmt(raw1['rate'], 'rows/s')}",
        f"{_fmt(raw1['p50_ms'])} / {_fmt(raw1['p99_ms'])} ms")
    row(f"raw durable insert, {rawn['clients']} clients", f"{_fmt(rawn['rate'], 'rows/s')}",
        f"{_fmt(rawn['p50_ms'])} / {_fmt(rawn['p99_ms'])} ms")
    row("raw COPY", _fmt(copy["rate"], "rows/s"))
    row("naive eventsourcing, 1 client", _fmt(r["naive_1"]["rate"], "postings/s"))
    row(f"naive eventsourcing, {r['naive_n']['clients']} clients", _fmt(r["naive_n"]["rate"], "postings/s"))
    row("Flask minimal POST", _fmt(r["flask_minimal"]["rate"], "req/s"), lat(r["flask_minimal"]))
    row("raw log read (select_notifications + to_domain_event)", _fmt(r["raw_read"]["rate"], "events/s"))
    if pg:
        row("POST expenditures over HTTP, PostgreSQL", f"{_fmt(pg['rate'], 'req/s')} ({pg['errors']} errors)", lat(pg),
            "p99 ≤ 25 ms", pg["p99_ms"] <= 25)
        lag = r["lag_pg"]
        row("projection lag under that load (PostgreSQL, external worker)",
            f"p50 {_fmt(lag['p50_s'])} s, p99 {_fmt(lag['p99_s'])} s, max {_fmt(lag['max_s'])} s; drained "
            f"{_fmt(pg['drain_s'])} s after", "", "p99 ≤ 1 s", lag["p99_s"] <= 1)
        row("API worker RSS after the PostgreSQL load", _fmt(pg["worker_rss_mb"], "MB"), "", "≤ 200 MB",
            pg["worker_rss_mb"] <= 200)
    if ps:
        row("POST expenditures over HTTP, SQLite", f"{_fmt(ps['rate'], 'req/s')} ({ps['errors']} errors)", lat(ps),
            "reported")
        lag = r["lag_sqlite"]
        row("projection lag under that load (SQLite, thread)",
            f"p50 {_fmt(lag['p50_s'])} s, p99 {_fmt(lag['p99_s'])} s, max {_fmt(lag['max_s'])} s; drained "
            f"{_fmt(ps['drain_s'])} s after", "", "reported")
    rb, rbs = r["rebuild"], r["rebuild_small"]
    row(f"rebuild of every audit view from position 0 ({rb['events']:,} events)", _fmt(rb["rate"], "events/s"))
    row("as-of replay of one project of 1,000 events (get_project as_of)", _fmt(r["as_of"]["median_ms"], "ms median"),
        f"p99 {_fmt(r['as_of']['p99_ms'])} ms", "≤ 10 ms median", r["as_of"]["median_ms"] <= 10)
    for key, name in (("query_findings", "GET /audit/findings?region=130000&limit=100"),
                      ("query_region", "GET /audit/regions/130000")):
        q = r[key]
        row(f"{name} at {r['log_events']:,} events", _fmt(q["median_ms"], "ms median"),
            f"{_fmt(q['median_ms'])} / {_fmt(q['p99_ms'])} / {_fmt(q['max_ms'])} ms", "≤ 50 ms median, ≤ 200 ms p99",
            q["median_ms"] <= 50 and q["p99_ms"] <= 200)
        if "first_ms" in q:
            row(f"{name}: first read of the date (judges and memoises every object)", _fmt(q["first_ms"], "ms"))
    row(f"rebuild peak RSS at {rbs['events']:,} and {rb['events']:,} events",
        f"{_fmt(rbs['peak_rss_mb'])} MB → {_fmt(rb['peak_rss_mb'])} MB", "", "≤ +10 % (100k → 1M)",
        rb["peak_rss_mb"] <= rbs["peak_rss_mb"] * 1.1)
    row("direct load through the aggregates (batched saves)", _fmt(r["load_direct"]["rate"], "events/s"))
    row("bulk import (`ledger import`)",
        "not available" if r.get("import") is None else _fmt(r["import"]["rate"], "rows/s"),
        "", "≥ 0.3 × raw COPY")
    nation = r["log_events"] / r["load_direct"]["townships"] * NATION_TOWNSHIPS
    lines += ["", f"Nation-year extrapolation (linear in townships, {NATION_TOWNSHIPS:,} township units): about "
              f"{nation / 1e6:.1f} million events; at the measured rebuild rate a rebuild from position 0 would take "
              f"about {nation / rb['rate'] / 60:.0f} minutes, and loading directly about "
              f"{nation / r['load_direct']['rate'] / 60:.0f} minutes. `python -m scripts.workload --nation-every 20` "
              "loads a 1-in-20 sample of the nation-year to check it."]

    if pg:
        ratio("posting_pg/raw_insert_1", pg["rate"], raw1["rate"], "≥ 1.0", 1.0)
        ratio("posting_pg/flask_minimal", pg["rate"], r["flask_minimal"]["rate"], "≥ 0.5", 0.5)
        ratio(f"posting_pg/raw_insert_{rawn['clients']}", pg["rate"], rawn["rate"])
        ratio("posting_pg/naive_eventsourcing_1", pg["rate"], r["naive_1"]["rate"])
    if ps:
        ratio("posting_sqlite/flask_minimal", ps["rate"], r["flask_minimal"]["rate"], "reported")
        ratio("posting_sqlite/raw_insert_1", ps["rate"], raw1["rate"], "reported")
    ratio("rebuild/raw_log_read", rb["rate"], r["raw_read"]["rate"], "≥ 0.5", 0.5)
    ratio("rebuild_rss_large/rebuild_rss_small", rb["peak_rss_mb"], rbs["peak_rss_mb"], "≤ 1.10")
    ratios[-1] = (*ratios[-1][:3], None if ratios[-1][1] is None else ratios[-1][1] <= 1.10)
    ratio("import/raw_copy", None if r.get("import") is None else r["import"]["rate"], copy["rate"], "≥ 0.3", 0.3)
    ratio("load_direct/raw_copy", r["load_direct"]["rate"], copy["rate"])
    lines += ["", "## Ratios", "", "```"]
    for name, value, target, met in ratios:
        shown = "not available" if value is None else f"{value:.2f}"
        verdict = "" if met is None else ", met" if met else ", NOT met"
        lines.append(f"RATIO {name} = {shown}" + (f"   (target {target}{verdict})" if target else ""))
    lines += ["```", "", "## How to reproduce", "",
              "```sh", "scripts/bench            # full: the province-year (≈ 0.72 million events), 30 s load runs",
              "scripts/bench --quick    # under 5 minutes: 40 townships, 8 s load runs", "```", "",
              "Needs PostgreSQL at `--admin-dsn` (default postgresql://postgres@127.0.0.1:5432/postgres; a database "
              "`bench_<timestamp>_<name>` is created and dropped for each part) and `wrk` (installed with apt-get when "
              "missing and run as root). Every figure is measured in the same run on the same machine; compare the "
              "ratios, not the absolute numbers, across machines. Latency is per request as wrk sees it on loopback, "
              "at the throughput shown beside it. Query latencies are sampled for a bounded time each (the sample "
              "count is in /tmp/bench-results.json)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small logs and short load runs (under 5 minutes)")
    parser.add_argument("--admin-dsn", default=os.environ.get("LEDGER_BENCH_POSTGRES_DSN",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--townships", type=int, help="override the PostgreSQL workload's townships")
    parser.add_argument("--seconds", type=int, help="override the length of each wrk run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as `ledger serve`)")
    parser.add_argument("--threads-pg", type=int, default=16,
                        help="gunicorn threads per worker on PostgreSQL and for the Flask baseline (as `ledger serve`)")
    parser.add_argument("--threads-sqlite", type=int, default=4,
                        help="gunicorn threads per worker on SQLite (as `ledger serve`)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--batch", type=int, default=5000, help="direct load: about this many events a save")
    parser.add_argument("--projection-batch", type=int, default=500)
    parser.add_argument("--output", help="where the report goes (default: docs/benchmarks.md for a full run; a "
                                         "--quick run, or one with sizes overridden, goes to the temporary folder "
                                         "so that it never replaces the full run on record)")
    args = parser.parse_args(argv)
    if args.output is None:
        partial = args.quick or args.townships is not None or args.seconds is not None
        args.output = str(Path(tempfile.gettempdir(), "benchmarks-quick.md") if partial
                          else ROOT / "docs" / "benchmarks.md")
    sizes = QUICK if args.quick else FULL
    if args.townships is not None or args.seconds is not None:
        sizes = Sizes(**{**sizes.__dict__, **({"townships": args.townships} if args.townships is not None else {}),
                         **({"wrk_seconds": args.seconds} if args.seconds is not None else {})})
    ensure_wrk()
    began = time.perf_counter()
    results: dict[str, Any] = {}
    postgres_ledger(args, sizes, results)
    run_baselines(args, sizes, results)
    sqlite_ledger(args, sizes, results)
    bulk_import(args, sizes, results)
    text = report(args, sizes, results, time.perf_counter() - began)
    print(text)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text, encoding="utf-8")
    say(f"written to {args.output}")
    raw = {k: v for k, v in results.items() if k != "state_bytes"}
    Path(tempfile.gettempdir(), "bench-results.json").write_text(json.dumps(raw, indent=1, default=str))


if __name__ == "__main__":
    main()
