"""Bulk import: many postings decided one after another by the ordinary use cases, saved many to a transaction.

A ``Staging`` is a batch on one thread. While it is open, every use case the thread calls decides as usual (the same
checks, the same idempotency records) but against the batch's own copies of the aggregates, so a row sees the rows
staged before it, and its events are kept instead of saved; ``flush()`` saves the whole batch in one transaction.
A row that is refused leaves the batch as it was: an aggregate it changed before being refused goes back to its state
at the start of the batch, with the batch's own events applied again.

``BulkImporter`` drives it: ``check`` decides every row and writes nothing (a dry run); ``run`` saves batches of
``batch_size`` rows, each batch whole or not at all. A batch refused by the store because another writer changed one
of its aggregates is decided again from the store and saved again; rows carry idempotency keys, so a row posted
before (by an earlier run that crashed, or earlier in the file) is answered as a replay and never posted twice.

``check(..., keep=True)`` also keeps what it decided, batch by batch, and ``run_checked`` saves it without deciding
each row again, for as long as nothing else has been written to the log: the log's last position is read before the
check reads anything, and again before each batch is saved, and must be the one the previous save left (the events
of one transaction are written under a table lock, so positions follow commit order). From the first batch that
meets another writer's posting, every batch is decided again from the store as ``run`` does; and the library still
refuses a kept batch whose aggregates changed after that last look (the check then decides it again too).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import IntegrityError

from ledger.errors import LedgerError, VersionConflictError
from ledger.ids import idempotency_id
from ledger.repository import copy_aggregate

if TYPE_CHECKING:
    from ledger.actors import Actor
    from ledger.application import Idempotency, LedgerApplication

MAX_ATTEMPTS = 8
# The use case each kind of row goes through; the row's target is the use case's first argument after the actor.
USE_CASES = {"expenditure": "record_expenditure", "disbursement": "disburse", "allocation": "allocate_funds"}


class Staging:
    """A batch of use cases decided on one thread and saved together (see the module)."""

    def __init__(self, app: LedgerApplication, thread: Any):
        self._app = app
        self._thread = thread
        self._states: dict[UUID, Aggregate] = {}  # the batch's copies, with its rows applied
        self._checkpoints: dict[UUID, Aggregate | None] = {}  # each as it was when the batch first used it
        self._events: list[Any] = []  # the batch's events, in order
        self._events_of: dict[UUID, list[Any]] = {}
        self._unsaved: set[UUID] = set()
        self._absent: set[UUID] = set()  # known not to be in the store (looked up for the whole batch at once)
        self._row: set[UUID] = set()  # what the row being decided has used

    def __enter__(self) -> Staging:
        if getattr(self._thread, "staging", None) is not None:
            raise RuntimeError("a batch is already being staged on this thread")
        self._thread.staging = self
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.staging = None

    def holds(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._states

    def unsaved(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._unsaved

    def known_absent(self, aggregate_id: UUID) -> bool:
        """Known, without a query, to be neither staged nor in the store."""
        return aggregate_id in self._absent and aggregate_id not in self._states

    def expect_absent(self, aggregate_ids: Iterable[UUID]) -> None:
        """Notes ids the store was just found not to hold, so that looking them up needs no query."""
        self._absent.update(aggregate_ids)

    def get(self, aggregate_id: UUID) -> Aggregate:
        """The batch's copy of an aggregate (read from the store on first use); AggregateNotFoundError if none."""
        self._row.add(aggregate_id)
        state = self._states.get(aggregate_id)
        if state is None:
            state = self._app.repository.get(aggregate_id)
            self._states[aggregate_id] = state
        if aggregate_id not in self._checkpoints:
            self._checkpoints[aggregate_id] = copy_aggregate(state)
        return state

    def stage(self, decide: Callable[[], tuple[dict[str, Any], list[Aggregate] | None]]) -> dict[str, Any]:
        """Runs one use case's decision and keeps what it would save; its result has no log position yet."""
        self._row = set()
        try:
            result, pending = decide()
        except BaseException:
            self._undo_row()
            raise
        if pending is None:  # a replay of a request posted before
            self._undo_row()
            return result
        for aggregate in pending:
            aggregate_id = aggregate.id
            state = self._states.setdefault(aggregate_id, aggregate)
            if state is not aggregate:
                raise RuntimeError(f"two different aggregates under id {aggregate_id} in one batch")
            self._checkpoints.setdefault(aggregate_id, None)  # None: created by this batch
            events = aggregate.collect_events()
            self._events.extend(events)
            self._events_of.setdefault(aggregate_id, []).extend(events)
            self._unsaved.add(aggregate_id)
        self._undo_row()  # anything used but not returned keeps no change
        return {**result, "position": None, "replayed": False}

    def _undo_row(self) -> None:
        for aggregate_id in self._row:
            state = self._states.get(aggregate_id)
            if state is None or not state.collect_events():
                continue
            # Changed by a row that was then refused: rebuilt from the batch's start and the batch's own events.
            checkpoint = self._checkpoints.get(aggregate_id)
            rebuilt: Any = None if checkpoint is None else copy_aggregate(checkpoint)
            for event in self._events_of.get(aggregate_id, ()):
                rebuilt = event.mutate(rebuilt)
            if rebuilt is None:
                del self._states[aggregate_id]
            else:
                self._states[aggregate_id] = rebuilt
        self._row = set()

    def _touched(self, copy: bool = False) -> list[Aggregate]:
        """The aggregates a save of the batch's events is given besides them: those it may snapshot (the library
        looks only at their type), or every one the batch changed when the cache keeps what is saved."""
        states = [self._states[i] for i in self._events_of if i in self._states]
        repository: Any = self._app.repository
        if not (repository.cache is not None and not repository.fastforward):
            intervals = self._app.snapshotting_intervals or {}
            states = [s for s in states if type(s) in intervals]
        return [copy_aggregate(s) for s in states] if copy else states

    def flush(self) -> int:
        """Saves the batch's events in one transaction and starts afresh (the next batch reads the store again);
        returns how many events were saved. IntegrityError if another writer changed one of the aggregates."""
        try:
            if self._events:
                self._app.save(*self._events, *self._touched())
            return len(self._events)
        finally:
            self._states.clear()
            self._checkpoints.clear()
            self._events = []
            self._events_of.clear()
            self._unsaved.clear()
            self._absent.clear()

    def end_batch(self, keep: bool = False) -> tuple[list[Any], list[Aggregate]]:
        """Ends the batch without saving its events, keeping its state for the next batch (a dry run). With
        ``keep``, returns its events and what a save of them takes besides (copies of the aggregates as the batch
        left them), to be saved later as they are."""
        kept: tuple[list[Any], list[Aggregate]] = (
            (self._events, self._touched(copy=True) if self._events else []) if keep else ([], []))
        self._events = []
        self._events_of.clear()
        self._checkpoints.clear()
        self._absent.clear()
        return kept


def stored_ids(recorder: Any, aggregate_ids: list[UUID]) -> set[UUID] | None:
    """Which of ``aggregate_ids`` have events in the store, in one query per 500 (None: this store cannot say)."""
    datastore: Any = getattr(recorder, "datastore", None)
    table: str | None = getattr(recorder, "events_table_name", None)
    if datastore is None or table is None or not table.replace("_", "").isalnum():
        return None
    found: set[UUID] = set()
    for start in range(0, len(aggregate_ids), 500):
        chunk = aggregate_ids[start:start + 500]
        if hasattr(datastore, "schema"):  # PostgreSQL
            schema = str(datastore.schema)
            if not schema.replace("_", "").isalnum():
                return None
            statement = f'SELECT DISTINCT originator_id FROM "{schema}"."{table}" WHERE originator_id = ANY(%s)'
            params: tuple[Any, ...] = (list(chunk),)
        else:  # SQLite keeps ids as 32 hex digits
            statement = (f"SELECT DISTINCT originator_id FROM {table} "
                         f"WHERE originator_id IN ({', '.join('?' * len(chunk))})")
            params = tuple(i.hex for i in chunk)
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            found.update(UUID(str(row["originator_id"])) for row in cursor.fetchall())
    return found


@dataclass(frozen=True)
class Row:
    """One posting of an import: its row number in the file, kind, target (the project, or for an allocation the
    fund), the use case's other arguments and its idempotency key."""

    number: int
    kind: str
    target_id: UUID
    fields: Mapping[str, Any]
    idempotency: Idempotency


@dataclass(frozen=True)
class Refusal:
    number: int
    code: str
    field: str | None
    reason: str


@dataclass
class Tally:
    posted: int = 0
    replayed: int = 0
    events: int = 0
    batches: int = 0
    refused: list[Refusal] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.posted += other.posted
        self.replayed += other.replayed
        self.events += other.events
        self.batches += other.batches
        self.refused.extend(other.refused)


@dataclass(frozen=True)
class CheckedBatch:
    """A batch as a check decided it: its rows, the events it would save (in order) and the aggregates that save is
    given besides them, and what it counted."""

    rows: list[Row]
    events: list[Any]
    touched: list[Aggregate]
    posted: int
    replayed: int


@dataclass
class Checked(Tally):
    """What a check decided. With ``keep``, also its batches (``kept``), and the log's last position before it read
    anything: what ``run_checked`` needs to save them without deciding again."""

    kept: bool = False
    position: int | None = None
    checked_batches: list[CheckedBatch] = field(default_factory=list)

    def rows(self) -> Iterator[Row]:
        for batch in self.checked_batches:
            yield from batch.rows


class ImportStoppedError(Exception):
    """A batch held refused rows and refused rows are not skipped: nothing of that batch was saved."""

    def __init__(self, tally: Tally, refused: list[Refusal]):
        super().__init__(f"{len(refused)} rows refused; batches saved before this one: {tally.batches}")
        self.tally = tally
        self.refused = refused


class BulkImporter:
    """Posts rows through the ordinary use cases in batches of ``batch_size`` rows, one transaction per batch."""

    def __init__(self, app: LedgerApplication, actor: Actor, batch_size: int = 1000):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.app = app
        self.actor = actor
        self.batch_size = batch_size

    def check(self, rows: Iterable[Row], progress: Callable[[int], None] | None = None, *,
              keep: bool = False) -> Checked:
        """Decides every row, each seeing the rows before it, and writes nothing. With ``keep``, keeps the rows and
        what was decided for ``run_checked`` (memory: the rows and their events)."""
        tally = Checked(kept=keep)
        if keep:
            tally.position = self.app.recorder.max_notification_id()  # before anything is read
        batch: list[Row] = []
        with self.app.staged() as staging:
            for row in rows:
                batch.append(row)
                if len(batch) == self.batch_size:
                    self._check_batch(staging, batch, tally, progress)
                    batch = []
            if batch:
                self._check_batch(staging, batch, tally, progress)
        return tally

    def _check_batch(self, staging: Staging, batch: list[Row], tally: Checked,
                     progress: Callable[[int], None] | None) -> None:
        self._look_up_keys(staging, batch)
        posted, replayed = tally.posted, tally.replayed
        for row in batch:
            self._stage(row, tally)
        events, touched = staging.end_batch(keep=tally.kept)
        if tally.kept:
            tally.checked_batches.append(
                CheckedBatch(batch, events, touched, tally.posted - posted, tally.replayed - replayed))
        if progress is not None:
            progress(len(batch))

    def _look_up_keys(self, staging: Staging, batch: list[Row]) -> None:
        """One query for the whole batch's idempotency records, instead of one per row."""
        record_ids = list({idempotency_id(self.actor.name, row.idempotency.key) for row in batch})
        stored = stored_ids(self.app.recorder, record_ids)
        if stored is not None:
            staging.expect_absent(i for i in record_ids if i not in stored)

    def run(self, rows: Iterable[Row], *, skip_invalid: bool = False,
            progress: Callable[[int], None] | None = None) -> Tally:
        """Saves the rows in batches. A refused row is skipped (and reported) with ``skip_invalid``; otherwise its
        batch is not saved and ``ImportStoppedError`` says which rows, the batches before it staying saved."""
        tally, batch = Tally(), []
        for row in rows:
            batch.append(row)
            if len(batch) == self.batch_size:
                self._save_batch(batch, tally, skip_invalid)
                if progress is not None:
                    progress(len(batch))
                batch = []
        if batch:
            self._save_batch(batch, tally, skip_invalid)
            if progress is not None:
                progress(len(batch))
        return tally

    def run_checked(self, checked: Checked, progress: Callable[[int], None] | None = None) -> Tally:
        """Imports the rows of a check made with ``keep`` and no refused row, as ``run`` would without skipping
        refused rows. Each batch saves the events the check decided, while the log holds nothing the check did not
        see: its last position is the one before the check, or the one this import's last save left. From the
        first batch for which it is not (another writer posted meanwhile), or that the store refuses (another
        writer changed one of its aggregates), each batch is decided again from the store."""
        if not checked.kept or checked.refused:
            raise ValueError("only a check that kept its batches and refused no row can be imported as checked")
        tally = Tally()
        repository: Any = self.app.repository
        # A cache that keeps what is saved would keep the check's copies, recorded at the check's instant: decided
        # again instead.
        position, reusable = checked.position, repository.cache is None or repository.fastforward
        for batch in checked.checked_batches:
            if reusable and self.app.recorder.max_notification_id() == position:
                # Recorded at the instant of the save, as a batch decided now would be, not at the check's.
                now = DomainEvent.create_timestamp()
                events = [replace(event, timestamp=now) for event in batch.events]
                try:
                    recordings = self.app.save(*events, *batch.touched) if events else []
                except IntegrityError:  # an aggregate changed after the last look: decided again below
                    reusable = False
                else:
                    if recordings:
                        position = max(r.notification.id for r in recordings)
                    tally.add(Tally(posted=batch.posted, replayed=batch.replayed, events=len(batch.events),
                                    batches=1))
                    if progress is not None:
                        progress(len(batch.rows))
                    continue
            reusable = False  # the next batches were decided after this one: decided again too
            self._save_batch(batch.rows, tally, skip_invalid=False)
            if progress is not None:
                progress(len(batch.rows))
        return tally

    def _save_batch(self, batch: list[Row], tally: Tally, skip_invalid: bool) -> None:
        for attempt in range(MAX_ATTEMPTS):
            outcome = Tally(batches=1)
            with self.app.staged() as staging:
                self._look_up_keys(staging, batch)
                for row in batch:
                    self._stage(row, outcome)
                if outcome.refused and not skip_invalid:
                    staging.end_batch()
                    raise ImportStoppedError(tally, outcome.refused)
                try:
                    outcome.events = staging.flush()
                except IntegrityError:  # another writer changed an aggregate of the batch: decide it all again
                    time.sleep(random.uniform(0, 0.01 * 2**attempt))
                    continue
            tally.add(outcome)
            return
        raise VersionConflictError(f"gave up on a batch after {MAX_ATTEMPTS} concurrent changes; run the file again")

    def _stage(self, row: Row, tally: Tally) -> None:
        use_case = getattr(self.app, USE_CASES[row.kind])
        try:
            result = use_case(self.actor, row.target_id, idempotency=row.idempotency, **row.fields)
        except AggregateNotFoundError as error:  # a reference the use case did not name itself
            tally.refused.append(Refusal(row.number, "not_found", None, f"nothing recorded under {error}"))
            return
        except LedgerError as error:
            tally.refused.append(Refusal(row.number, error.code, getattr(error, "field", None), error.message))
            return
        if result["replayed"]:
            tally.replayed += 1
        else:
            tally.posted += 1
