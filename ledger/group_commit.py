"""Group commit: the postings that threads of one process send at the same time are saved in one transaction.

Writes to the log are serialised (PostgreSQL's table lock, SQLite's write lock) and each transaction waits for its
own flush to disk, so throughput is bounded by commits, not by work. Here each request still runs its own use case in
its own thread (loading, checking, deciding: every refusal stays that request's own), and hands what it would have
saved to the committer. A request that arrives while fewer than ``LEADERS`` saves are in progress leads: it saves its
batch in one ``save(...)`` (one transaction, one flush), hands each request of it its own recordings or its own
error, and passes the lead, with everything queued meanwhile as the next batch, to the first request that queued.
Nothing waits for company: a lone request is saved at once, and a batch is whatever arrived during the saves before.
Two saves in progress let the next batch wait for the store's write lock while the previous one flushes.

Each request keeps its own outcome:

* Two requests touching the same aggregate cannot share a transaction (both decided from the same version), and a
  request that decided from a version this process has saved a newer one of since is stale. Such a request is left
  out and told it met a concurrent change, once the batch is saved: it then reloads and decides again, seeing the
  other's effects, as after losing a race with another process. (The committer remembers the versions it saved, so
  this costs no query.)
* A save refused by the database (``IntegrityError``: another process changed one of the aggregates) or failing for
  a reason that is not the database's (say, an event that cannot be encoded) is not blamed on the whole batch: the
  batch is halved and each half saved again, down to the one request at fault, which alone gets the error.
* A failure of the database itself (connection lost, lock timeout) is every request's: each gets it, nothing of the
  batch is written, and each client may retry.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording

Save = Callable[..., list[Recording[Any]]]

MAX_BATCH = 500
# Batches being saved at once. On PostgreSQL two pay: while one commits (waits for its flush), the next is already
# sent and waits for the table lock in the server, which passes it on without a round trip to this process. SQLite's
# lock is taken in this process, so a second batch would only split the first.
LEADERS = 1
MAX_REMEMBERED = 100_000  # aggregate versions remembered from recent saves, to turn stale requests away early


class StaleRequestError(IntegrityError):
    """Another request of this process changed an aggregate this one decided from (in the same batch, or in the one
    saved while this one was deciding): reload and decide again."""


class _Submission:
    """One request's pending events, and what became of them."""

    __slots__ = ("aggregates", "batch", "error", "events", "ids", "ready", "recordings")

    def __init__(self, aggregates: Sequence[Aggregate]):
        self.aggregates = list(aggregates)
        # Taken now, in the request's thread: the aggregates are this request's own copies.
        self.events = [e for a in self.aggregates for e in a.collect_events()]
        self.ids = {a.id for a in self.aggregates}
        self.recordings: list[Recording[Any]] | None = None
        self.error: BaseException | None = None
        self.batch: list[_Submission] | None = None  # set when this request leads: what it saves
        self.ready = threading.Event()

    def outcome(self) -> list[Recording[Any]]:
        if self.error is not None:
            raise self.error
        assert self.recordings is not None
        return self.recordings


class GroupCommitter:
    """Saves the aggregates of concurrent requests of one application in shared transactions (see the module)."""

    def __init__(self, save: Save, max_batch: int = MAX_BATCH, leaders: int = LEADERS):
        self._save = save
        self._max_batch = max_batch
        self.leaders = leaders
        self._lock = threading.Lock()
        self._queue: deque[_Submission] = deque()
        self._leaders = 0
        self._committed: dict[Any, int] = {}  # aggregate id -> version last saved here
        self._in_flight: dict[Any, int] = {}  # aggregate id -> version being saved by a batch now
        self.transactions = 0  # saves attempted (batches and single saves), for benchmarks and tests
        self.batched = 0  # requests saved in a transaction shared with at least one other request

    @property
    def waiting(self) -> int:
        """Requests queued for the next transaction (not counting those being saved)."""
        with self._lock:
            return len(self._queue)

    def save(self, *aggregates: Aggregate) -> list[Recording[Any]]:
        """Saves ``aggregates`` (one request's) in the next shared transaction; returns their recordings, or raises
        what refused them (``IntegrityError`` on a concurrent change, as ``Application.save`` would)."""
        submission = _Submission(aggregates)
        with self._lock:
            self._queue.append(submission)
            if self._leaders < self.leaders:  # then nobody else is queued: this one leads a batch of one
                self._leaders += 1
                submission.batch = self._take()
        if submission.batch is None:
            submission.ready.wait()
            if submission.batch is None:
                return submission.outcome()
        batch = submission.batch  # this request leads: the batch is everything queued when it was handed over
        with self._lock:
            selected = self._select(batch)
        successor = None
        try:
            self._save_parts(selected)
        except BaseException as error:  # a bug or an interrupt: nobody may be left waiting for this batch
            for member in batch:
                if member.recordings is None and member.error is None:
                    member.error = error
            raise
        finally:
            with self._lock:
                self._settle(selected)
                if self._queue:  # the lead passes to the first queued, with everything queued as its batch
                    successor = self._queue[0]
                    successor.batch = self._take()
                else:
                    self._leaders -= 1
            if successor is not None:
                successor.ready.set()
            for member in batch:
                if member is not submission:
                    member.ready.set()
        return submission.outcome()

    def _take(self) -> list[_Submission]:
        return [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]

    def _select(self, batch: list[_Submission]) -> list[_Submission]:
        """The members that can be saved together; the stale ones are told so. Called with the lock held."""
        selected = []
        for member in batch:
            if any(e.originator_version <= max(self._committed.get(e.originator_id, 0),
                                               self._in_flight.get(e.originator_id, 0)) for e in member.events):
                member.error = StaleRequestError(
                    "an aggregate this request decided from was changed by another request just now")
                continue
            self._in_flight.update((e.originator_id, e.originator_version) for e in member.events)
            selected.append(member)
        if len(selected) > 1:
            self.batched += len(selected)
        return selected

    def _settle(self, selected: list[_Submission]) -> None:
        """Moves what a batch saved from "in flight" to "committed". Called with the lock held."""
        if len(self._committed) > MAX_REMEMBERED:
            self._committed.clear()  # forgetting only means a stale request is found by the database instead
        for member in selected:
            for e in member.events:
                if self._in_flight.get(e.originator_id) == e.originator_version:
                    del self._in_flight[e.originator_id]
                if member.recordings is not None and e.originator_version > self._committed.get(e.originator_id, 0):
                    self._committed[e.originator_id] = e.originator_version

    def _save_parts(self, members: list[_Submission]) -> None:
        """Saves ``members`` in one transaction; when that is refused for one of them, halves and tries again."""
        if not members:
            return
        try:
            self._save_together(members)
            return
        except IntegrityError as error:  # another process changed an aggregate of one of them: find out whose
            failure: Exception = error
        except PersistenceError as error:  # the database failed: the same for every request
            for member in members:
                member.error = error
            return
        except Exception as error:  # not the database's failure: one request's, found the same way
            failure = error
        if len(members) == 1:
            members[0].error = failure
            return
        half = len(members) // 2
        self._save_parts(members[:half])
        self._save_parts(members[half:])

    def _save_together(self, members: list[_Submission]) -> None:
        with self._lock:
            self.transactions += 1
        events = [e for m in members for e in m.events]
        aggregates = [a for m in members for a in m.aggregates]  # no pending events left: for snapshots only
        recordings = self._save(*events, *aggregates)
        start = 0
        for member in members:
            member.recordings = recordings[start:start + len(member.events)]
            start += len(member.events)
