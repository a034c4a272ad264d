"""Soak: the real API server and projection worker under a steady posting load for a bounded time, sampled every
minute (resident memory of the server and the worker, projection lag, acknowledged / errored / 5xx answers), then
checked: nothing acknowledged lost or posted twice, the lag drains, the views equal a rebuild.

    python -m scripts.soak                          # one hour on PostgreSQL at half the measured capacity
    python -m scripts.soak --minutes 10 --store sqlite --rate 40
    python -m scripts.soak --minutes 30 --kill-every 300   # also kill -9 the server or worker every ~5 minutes

The rate is measured first (a few seconds flat out) unless given. The table is printed and appended to
docs/reliability.md (--no-record to skip).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.crashtest import (
    Load,
    Stack,
    check_log,
    check_views_equal_rebuild,
    prepare,
    read_env,
    read_log,
    stack_env,
    store_for,
    wait_for_lag_zero,
)

REPORT = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
MIB = 1024 * 1024


@dataclass
class Sample:
    minute: float
    server_rss: int
    server_worker_rss: int
    worker_rss: int
    lag_events: int
    lag_seconds: float
    acknowledged: int
    errored: int
    server_errors: int

    def row(self) -> str:
        return (f"| {self.minute:5.1f} | {self.server_rss / MIB:7.1f} | {self.server_worker_rss / MIB:7.1f} | "
                f"{self.worker_rss / MIB:7.1f} | {self.lag_events:6d} | {self.lag_seconds:6.2f} | "
                f"{self.acknowledged:8d} | {self.errored:6d} | {self.server_errors:4d} |")


HEADER = ("| minute | server RSS MiB | largest API worker MiB | projection worker MiB | lag events | lag s | "
          "acknowledged | errored | 5xx |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


@dataclass
class SoakResult:
    store: str
    minutes: float
    rate: float
    capacity: float | None
    samples: list[Sample]
    statuses: Counter[str]
    faults: Counter[str]
    log: dict[str, int]
    views: dict[str, int]
    requests: int
    conditions: str = field(default="")

    def table(self) -> str:
        return "\n".join([HEADER, *(s.row() for s in self.samples)])

    def summary(self) -> str:
        five = sum(n for k, n in self.statuses.items() if k[0] == "5")
        measured = f"measured capacity {self.capacity:.0f}/s, " if self.capacity else ""
        faults = ", ".join(f"{n} {k}" for k, n in sorted(self.faults.items())) or "none"
        return (f"{self.store}, {self.minutes:.1f} min at {self.rate:.1f} postings/s ({measured}{self.conditions}): "
                f"{self.requests} requests, faults injected: {faults}; acknowledged {self.log['acknowledged']}, "
                f"lost {self.log['lost']}, duplicated {self.log['duplicated']}, 5xx {five}; "
                f"answers {dict(sorted(self.statuses.items()))}")


def _lag(app: Any, db: Any) -> tuple[int, float]:
    from projections.worker import ProjectionWorker

    status = ProjectionWorker(app, db).status()
    return status.lag_events, status.lag_seconds


def measure_capacity(stack: Stack, ledger: Any, seconds: float, clients: int) -> float:
    """Acknowledged postings per second, flat out, over ``seconds``."""
    load = Load(stack.base, ledger, clients=clients, seed=999, prefix="capacity")
    load.start()
    time.sleep(seconds)
    load.finish()
    return len(load.acknowledged()) / seconds


def soak(store: str, store_env: dict[str, str], workdir: Path, *, minutes: float, rate: float | None = None,
         sample_seconds: float = 60.0, measure_seconds: float = 5.0, clients: int = 8, kill_every: float = 0.0,
         seed: int = 1, log: Callable[[str], None] = lambda _: None) -> SoakResult:
    from ledger.application import LedgerApplication
    from projections.database import database_from_env

    env = stack_env(store_env, workdir)
    stack = Stack(env, workdir)
    faults: Counter[str] = Counter()
    samples: list[Sample] = []
    try:
        stack.start()
        # About a station-year's postings (~300) per project by the end, as in the province-year workload, rather
        # than thousands piling onto a dozen projects.
        projects = min(500, max(12, int((rate or 50) * minutes * 60 / 300)))
        ledger = prepare(stack, env, projects=projects)
        capacity = None
        if rate is None:
            capacity = measure_capacity(stack, ledger, measure_seconds, clients)
            rate = max(1.0, capacity / 2)
            log(f"measured capacity {capacity:.0f} postings/s; soaking at {rate:.1f}/s")
        load = Load(stack.base, ledger, clients=clients, seed=seed, rate=rate, prefix="soak")
        # Postings of the capacity run are checked too: they are in the log with their own idempotency records.
        app = LedgerApplication(env=env)
        db = database_from_env(read_env(env))
        rng = random.Random(seed)
        started = time.monotonic()
        load.start()
        next_kill = started + kill_every * rng.uniform(0.5, 1.5) if kill_every else float("inf")
        next_sample = started + sample_seconds
        end = started + minutes * 60
        while True:
            now = time.monotonic()
            if now >= next_kill:
                target = rng.choice(["server", "projection worker"])
                (stack.kill_server if target == "server" else stack.kill_worker)()
                faults[f"kill -9 {target}"] += 1
                log(f"kill -9 {target}")
                (stack.start_server if target == "server" else stack.start_worker)()
                next_kill = time.monotonic() + kill_every * rng.uniform(0.5, 1.5)
            if now >= next_sample or now >= end:
                server_rss, largest, worker_rss = stack.rss()
                try:
                    lag_events, lag_seconds = _lag(app, db)
                except Exception:  # a sample must not end the soak
                    lag_events, lag_seconds = -1, -1.0
                statuses = load.statuses.copy()
                sample = Sample((now - started) / 60, server_rss, largest, worker_rss, lag_events, lag_seconds,
                                len(load.acknowledged()), sum(n for k, n in statuses.items() if k[0] not in "2"),
                                sum(n for k, n in statuses.items() if k[0] == "5"))
                samples.append(sample)
                log(sample.row())
                next_sample += sample_seconds
            if now >= end:
                break
            time.sleep(min(1.0, max(0.05, min(next_sample, end, next_kill) - time.monotonic())))
        load.finish()
        if stack.worker is None or stack.worker.poll() is not None:
            stack.start_worker()
        facts = read_log(env)
        counts = check_log(facts, load, other_prefixes=("setup-", "capacity-"))
        drained = time.monotonic()
        wait_for_lag_zero(env, facts.head, timeout=300)
        log(f"lag drained in {time.monotonic() - drained:.1f}s")
        server_rss, largest, worker_rss = stack.rss()
        lag_events, lag_seconds = _lag(app, db)
        samples.append(Sample((time.monotonic() - started) / 60, server_rss, largest, worker_rss, lag_events,
                              lag_seconds,
                              len(load.acknowledged()), samples[-1].errored if samples else 0,
                              samples[-1].server_errors if samples else 0))
        views = check_views_equal_rebuild(stack)
        db.close()
        app.close()
        conditions = (f"{os.cpu_count()} CPUs, {platform.python_version()}, gunicorn {stack.workers}x{stack.threads}, "
                      f"{clients} clients, external projection worker")
        return SoakResult(store, minutes, rate, capacity, samples, load.statuses, faults, counts, views,
                          len(load.requests), conditions)
    except BaseException:
        log(f"server log:\n{stack.log_tail('server')}\nworker log:\n{stack.log_tail('worker')}")
        raise
    finally:
        stack.stop()


def record(result: SoakResult, path: Path = REPORT) -> None:
    """Appends the run to the "## Soak" section of docs/reliability.md (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Reliability\n"
    entry = (f"\n### Soak run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{result.summary()}\n\n"
             f"{result.table()}\n")
    if "## Soak" not in text:
        text = text.rstrip("\n") + "\n\n## Soak\n"
    start = text.index("## Soak")
    following = text.find("\n## ", start + 1)
    if following == -1:
        text = text.rstrip("\n") + "\n" + entry
    else:
        text = text[:following].rstrip("\n") + "\n" + entry + text[following:]
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=None, help="postings per second (default: half the capacity)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kill-every", type=float, default=0.0, help="seconds between kill -9 faults (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", action="store_true", help="do not append to docs/reliability.md")
    parser.add_argument("--dsn", default=os.environ.get("LEDGER_TEST_POSTGRES_DSN",
                                                         "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    # A plain kill (SIGTERM) unwinds like Ctrl-C: the server and worker it started are stopped and its
    # throwaway database dropped, instead of being left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, \
            store_for(args.store, Path(tmp), args.dsn, "ledger_soak") as store_env:
        say(HEADER)
        result = soak(args.store, store_env, Path(tmp), minutes=args.minutes, rate=args.rate,
                      sample_seconds=args.sample_seconds, clients=args.clients, kill_every=args.kill_every,
                      seed=args.seed, log=say)
    print(result.summary())
    print(result.table())
    if not args.no_record:
        record(result)
    lost_or_worse = result.log["lost"] or result.log["duplicated"] or result.statuses["500"]
    return 1 if lost_or_worse else 0


if __name__ == "__main__":
    threading.current_thread().name = "soak"
    sys.exit(main())
