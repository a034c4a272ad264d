"""The projection worker: follows the ledger's notification log by polling, one transaction per batch.

Each batch's view rows and the tracking position are committed together, so a worker killed at any point resumes
from the last committed position and applies every event exactly once. Rebuilds fill a fresh generation of tables
from position 0 and swap it in; reads keep using the old generation until the swap.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ledger.application import LedgerApplication
from projections.audit import AuditProjection
from projections.database import Database
from projections.engine import RuleEngine
from projections.procurement_state import CHINA_STANDARD_TIME
from projections.store import ViewStore

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
REBUILD_BATCH = 20_000  # events per rebuild transaction


@dataclass(frozen=True)
class Status:
    generation: int
    position: int
    head: int
    lag_events: int
    lag_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"view": "audit", "generation": self.generation, "position": self.position, "head": self.head,
                "lag_events": self.lag_events, "lag_seconds": round(self.lag_seconds, 3)}


class ProjectionWorker:
    def __init__(self, app: LedgerApplication, db: Database, engine: RuleEngine | None = None,
                 batch_size: int = 500, rebuild_batch_size: int | None = None) -> None:
        self.app = app
        self.db = db
        self.store = ViewStore(db)
        self.projection = AuditProjection(self.store, app.mapper, engine)
        self.batch_size = batch_size
        # A rebuild is read by nobody until its swap, so it takes far larger batches: fewer commits, and each state
        # decoded, judged and encoded once per batch rather than once per live-sized batch. Memory stays bounded by
        # the batch, not the log.
        self.rebuild_batch_size = rebuild_batch_size or max(batch_size, REBUILD_BATCH)
        self.today: Callable[[], date] = lambda: datetime.now(CHINA_STANDARD_TIME).date()
        self.memo_budget_s = 0.25  # per idle poll, judging the memos of the current business date
        # Memos are filled only once the log has been quiet this long: under a steady posting load each batch
        # makes the memos of what it touched stale again, so filling them between batches is work thrown away
        # (and CPU taken from the postings).
        self.memo_quiet_s = 1.0
        self._memos_filled: tuple[int, date, int] | None = None

    def _select(self, after: int, limit: int) -> Any:
        return self.app.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)

    def run_once(self) -> int:
        """Processes the next batch, if any; returns how many events it applied."""
        with self.db.transaction() as cursor:
            generation = self.store.lock_generation(cursor)
            notifications = self._select(self.store.position(cursor, generation), self.batch_size)
            if not notifications:
                return 0
            return self.projection.process(cursor, generation, notifications)

    def fill_memos(self) -> bool:
        """Judges the date-judged findings of the current business date (Asia/Shanghai) that are not memoised yet
        (objects changed since, or the date moved on), for about ``memo_budget_s`` seconds, so that reads find them
        memoised; True when none is left. The following worker calls it while idle."""
        with self.db.transaction() as cursor:
            generation = self.store.lock_generation(cursor)
            mark = (generation, self.today(), self.store.position(cursor, generation))
            if mark == self._memos_filled:
                return True
            done = self.projection.memos.fill(cursor, generation, mark[1], self.memo_budget_s)
        if done:
            self._memos_filled = mark
        return done

    def analyze(self) -> bool:
        """Refreshes the live views' planner statistics if they have grown enough since last time (see
        ``ViewStore.analyze``); the worker calls it when the log is quiet and after catching up."""
        with self.db.transaction() as cursor:
            generation = self.store.lock_generation(cursor)
            return self.store.analyze(cursor, generation, self.store.position(cursor, generation))

    def catch_up(self, progress: Progress | None = None) -> int:
        total = 0
        while True:
            applied = self.run_once()
            if not applied:
                if total:
                    self.analyze()
                return total
            total += applied
            if progress is not None:
                progress(self.position(), self.head())

    def position(self) -> int:
        with self.db.transaction(write=False) as cursor:
            return self.store.position(cursor, self.store.generation(cursor))

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Read-your-writes: waits (bounded) until the views have applied ``position``; True if they have."""
        deadline = time.monotonic() + timeout
        while self.position() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def status(self) -> Status:
        with self.db.transaction(write=False) as cursor:
            generation = self.store.generation(cursor)
            position = self.store.position(cursor, generation)
        head = self.head()
        lag_seconds = 0.0
        if head > position:
            pending = self._select(position, 1)
            if pending:
                recorded = self.app.mapper.to_domain_event(pending[0]).timestamp
                lag_seconds = max(0.0, (datetime.now(UTC) - recorded).total_seconds())
        return Status(generation, position, head, head - position, lag_seconds)

    def rebuild(self, progress: Progress | None = None) -> Status:
        """Rebuilds every view from position 0 into fresh tables, then swaps them in atomically."""
        with self.db.transaction() as cursor:
            old = self.store.generation(cursor)
            new = old + 1
            self.store.drop_tables(cursor, new)
            self.store.create_tables(cursor, new)
        position, head = 0, self.head()
        while True:
            with self.db.transaction() as cursor:
                if self.db.dialect == "postgres":
                    # A rebuild batch's commit need not wait for its flush to disk: the swap's commit, which
                    # waits, comes after all of them in the log (a server crash before it loses only this rebuild).
                    cursor.execute("SET LOCAL synchronous_commit = off")
                notifications = self._select(position, self.rebuild_batch_size)
                if not notifications:
                    break
                self.projection.process(cursor, new, notifications, cached=False)
                position = notifications[-1].id
            if progress is not None:
                progress(position, max(head, position))
        with self.db.transaction() as cursor:
            self.store.lock_generation(cursor)
            while notifications := self._select(position, self.batch_size):
                self.projection.process(cursor, new, notifications, cached=False)
                position = notifications[-1].id
            self.store.analyze(cursor, new, position, force=True)  # planned as the full tables they are
            self.store.switch_generation(cursor, new)
        with self.db.transaction() as cursor:
            self.store.drop_tables(cursor, old)
        log.info("rebuilt audit views into generation %s up to position %s", new, position)
        return self.status()

    def run_forever(self, stop: threading.Event, poll_interval: float = 0.2, max_backoff: float = 5.0) -> None:
        """Polls until ``stop`` is set. A failed batch (the database restarting or unreachable, a connection lost)
        wrote nothing; it is retried after a backoff that doubles up to ``max_backoff`` seconds, with jitter so that
        several workers do not retry in step, and the worker resumes from its committed position once the database
        answers again: an outage never ends it."""
        backoff = poll_interval
        failures = 0
        last_applied = time.monotonic()
        grown = True  # batches applied (or a start) since the statistics were last looked at
        while not stop.is_set():
            try:
                applied = self.run_once()
                if applied:
                    last_applied, grown = time.monotonic(), True
                elif time.monotonic() - last_applied >= self.memo_quiet_s:  # quiet:
                    if grown:  # refresh the planner's statistics if the views grew enough,
                        self.analyze()
                        grown = False
                    self.fill_memos()  # and memoise today's date-judged findings, a slice per poll
            except Exception:  # the worker must outlive a database restart or a network cut
                failures += 1
                wait = min(backoff, max_backoff) * random.uniform(0.5, 1.0)
                log.exception("projection batch failed (%d in a row); retrying in %.1fs", failures, wait)
                backoff = min(backoff * 2, max_backoff)
                stop.wait(wait)
                continue
            if failures:
                log.warning("projection worker resumed after %d failed attempts", failures)
                failures, backoff = 0, poll_interval
            if not applied:
                stop.wait(poll_interval)


def start_in_background(worker: ProjectionWorker, poll_interval: float = 0.2) -> tuple[threading.Thread,
                                                                                     threading.Event]:
    """Runs the worker in a daemon thread (the embedded default inside ``ledger serve``)."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop, poll_interval), name="projection-worker",
                              daemon=True)
    thread.start()
    return thread, stop
