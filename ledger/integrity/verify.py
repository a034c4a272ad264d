"""Re-walking the log: every event against its chain link, every seal against its signature and the chain.

Each link is checked against the *stored* hash of the link before it, so one altered event is named on its own and
the rest of the log still verifies; a chain that was recomputed after a change (by someone without the signing key)
is internally consistent, and is caught by the first seal whose head no longer matches. What can be wrong:

changed    the event at a position is not what was chained there (its bytes, topic, originator or version differ)
missing    a chained event (or its chain row) is gone
inserted   an event that was never chained (forged, or written around the ledger)
reordered  a chained event is now at another position (for example, two events swapped)
rewritten  a seal's chain head no longer matches: the chain was recomputed after a change in the range it covers
bad_seal   a seal whose signature is not the sealing key's (forged or altered)

A link is a hash over the event and the link before it, so a ``changed`` at position q says the chain no longer
matches at q: the event at q was altered, or (only if someone also edited chain rows) the link just before it; the
next seal bounds which.

The walk is bounded by the log's end when it starts, so saves committed meanwhile are neither checked nor mistaken
for damage. Reads go through the recorder in batches; memory stays flat however long the log is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

from ledger.integrity.chain import GENESIS, ChainRow, link
from ledger.integrity.recorders import as_chained
from ledger.integrity.seals import Seal, SignatureCheck, now_text

KINDS = ("changed", "missing", "inserted", "reordered", "rewritten", "bad_seal")
MAX_KEPT_PROBLEMS = 1000

Progress = Callable[[int, int], None]  # (position reached, last position to check)
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """What no longer matches, where. ``range_start`` is set for a seal's problem: the positions it vouched for."""

    kind: str
    position: int
    message: str
    originator_id: str | None = None
    originator_version: int | None = None
    topic: str | None = None
    seal_id: int | None = None
    range_start: int | None = None

    def describe(self) -> str:
        where = (f"positions {self.range_start}..{self.position}" if self.range_start is not None
                 else f"position {self.position}")
        return f"{self.kind} at {where}: {self.message}"


@dataclass
class Report:
    """The outcome of one verification, as kept and as shown to auditors."""

    started_at: str
    finished_at: str = ""
    last_position: int = 0
    events_checked: int = 0
    chain_rows_checked: int = 0
    seals_checked: int = 0
    signatures_checked: bool = True
    auditor_seals: int | None = None
    last_sealed_position: int | None = None
    problem_count: int = 0
    problem_counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return "ok" if self.problem_count == 0 else "tampered"

    @property
    def first_problem(self) -> Problem | None:
        return min(self.problems, key=lambda p: (p.position, KINDS.index(p.kind)), default=None)

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        self.problem_counts[problem.kind] = self.problem_counts.get(problem.kind, 0) + 1
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_problem
        data = asdict(self)
        data["problems"] = sorted(data["problems"], key=lambda p: (p["position"], KINDS.index(p["kind"])))
        return {**data, "outcome": self.outcome, "first_position": 1 if self.last_position else 0,
                "first_problem": None if first is None else {**asdict(first), "description": first.describe()}}


def verify_log(
    recorder: ApplicationRecorder,
    *,
    check_signature: SignatureCheck | None,
    auditor_seals: Sequence[Seal] | None = None,
    batch_size: int = 2000,
    progress: Progress | None = None,
) -> Report:
    """Checks the whole log: every event against the chain, every seal (the database's, and an auditor's own copies
    when given) against its signature and the chain. ``check_signature`` None leaves signatures unchecked (the
    report says so)."""
    chained = as_chained(recorder)
    report = Report(started_at=now_text(), signatures_checked=check_signature is not None)
    stored_seals = chained.select_seals()  # before the bound: every seal then lies within it
    head = chained.chain_head()
    stop = max(recorder.max_notification_id() or 0, head.position if head else 0)
    report.last_position = stop
    seals = _seals_to_check(report, stored_seals, auditor_seals, check_signature)

    events = _batched(lambda after: chained.select_log(after, batch_size, stop), lambda n: n.id, batch_size)
    rows = _batched(lambda after: chained.select_chain(after, batch_size, stop), lambda r: r.position, batch_size)
    walk = _Walk(chained, report, seals)
    for count, (position, event, row) in enumerate(_merge(events, rows), start=1):
        walk.step(position, event, row)
        if progress is not None and count % batch_size == 0:
            progress(position, stop)
    walk.finish()
    if progress is not None:
        progress(stop, stop)
    report.finished_at = now_text()
    return report


def _seals_to_check(report: Report, stored: list[Seal], auditor: Sequence[Seal] | None,
                    check_signature: SignatureCheck | None) -> list[Seal]:
    """The seals whose heads are compared with the chain: those with a good signature (all, if unchecked)."""
    candidates = list(stored)
    if auditor is not None:
        report.auditor_seals = len(auditor)
        in_database = {_content(s) for s in stored}
        for kept in auditor:
            if _content(kept) not in in_database:
                report.add(Problem("missing", kept.position, f"seal {kept.seal_id} of the auditor's copy (position "
                                   f"{kept.position}, sealed {kept.sealed_at}) is no longer in the database",
                                   seal_id=kept.seal_id))
                candidates.append(kept)
    good = []
    for seal in candidates:
        report.seals_checked += 1
        if check_signature is not None and not check_signature(seal):
            report.add(Problem("bad_seal", seal.position, f"seal {seal.seal_id} (position {seal.position}, sealed "
                               f"{seal.sealed_at}, key {seal.key_id}) does not carry a valid signature of the sealing "
                               "key: it was forged or altered", seal_id=seal.seal_id))
            continue
        good.append(seal)
    return sorted(good, key=lambda s: (s.position, s.seal_id or 0))


def _content(seal: Seal) -> tuple[int, bytes, str, str, bytes]:
    return seal.position, seal.hash, seal.sealed_at, seal.key_id, seal.signature


def _batched(fetch: Callable[[int], Sequence[T]], position_of: Callable[[T], int], limit: int) -> Iterator[T]:
    after = 0
    while True:
        batch = fetch(after)
        yield from batch
        if len(batch) < limit:
            return
        after = position_of(batch[-1])


def _merge(events: Iterator[Notification], rows: Iterator[ChainRow]
           ) -> Iterator[tuple[int, Notification | None, ChainRow | None]]:
    """Both streams side by side, by position."""
    event, row = next(events, None), next(rows, None)
    while event is not None or row is not None:
        if row is None or (event is not None and event.id < row.position):
            assert event is not None
            yield event.id, event, None
            event = next(events, None)
        elif event is None or row.position < event.id:
            yield row.position, None, row
            row = next(rows, None)
        else:
            yield event.id, event, row
            event, row = next(events, None), next(rows, None)


def _who(originator_id: UUID | str, version: int) -> str:
    return f"{originator_id} v{version}"


class _Walk:
    """The state of one walk: the last stored link, events not chained yet, the seals still ahead."""

    def __init__(self, chained: Any, report: Report, seals: list[Seal]):
        self.chained = chained
        self.report = report
        self.seals = seals
        self.next_seal = 0
        self.last_good_seal = 0
        self.previous = 0
        self.previous_hash = GENESIS
        self.pending: list[Notification] = []  # events with no chain row, since the last row
        self.reordered: set[tuple[UUID | str, int]] = set()

    def problem(self, kind: str, position: int, message: str, event: Notification | None = None,
                row: ChainRow | None = None, **extra: Any) -> None:
        source = event if event is not None else row
        self.report.add(Problem(
            kind, position, message,
            originator_id=None if source is None else str(source.originator_id),
            originator_version=None if source is None else source.originator_version,
            topic=None if event is None else event.topic, **extra,
        ))

    def step(self, position: int, event: Notification | None, row: ChainRow | None) -> None:
        self.seals_before(position)
        if event is not None:
            self.report.events_checked += 1
        if row is None:
            assert event is not None
            self.pending.append(event)
            return
        self.report.chain_rows_checked += 1
        row_lost_at = self.settle_pending(row)
        linked = row.previous == self.previous
        if not linked and row_lost_at is None:
            self.broken_link(position, row)
        if event is None:
            self.gone(position, row)
        elif (event.originator_id, event.originator_version) == (row.originator_id, row.originator_version):
            if linked:
                self.compare(position, event, row)
        else:
            self.moved_or_changed(position, event, row)
        self.seals_at(position, row)
        self.previous, self.previous_hash = position, row.hash

    def compare(self, position: int, event: Notification, row: ChainRow) -> None:
        who = _who(row.originator_id, row.originator_version)
        try:
            digest = link(self.previous_hash, position, event)
        except (TypeError, ValueError, AttributeError, OverflowError) as error:
            self.problem("changed", position, f"the stored event of {who} is malformed ({type(error).__name__}: "
                         f"{error}): it was altered in the database", event)
            return
        if digest != row.hash:
            self.problem("changed", position, f"{event.topic} of {who} is not what was chained: its stored bytes "
                         "differ", event)

    def settle_pending(self, row: ChainRow) -> int | None:
        """Names the events seen since the last chain row; returns the one whose chain row is gone, if any."""
        lost = None
        for event in self.pending:
            if event.id == row.previous:
                lost = event.id
                who = _who(event.originator_id, event.originator_version)
                self.problem("missing", event.id, f"the chain row of {who} is gone (the next link, at "
                             f"{row.position}, follows it); the event is still there", event)
            else:
                self.unchained(event)
        self.pending.clear()
        return lost

    def unchained(self, event: Notification) -> None:
        elsewhere = [p for p in self.chained.chained_positions(event.originator_id, event.originator_version)
                     if p != event.id]
        identity = (event.originator_id, event.originator_version)
        if elsewhere:
            if identity not in self.reordered:
                self.reordered.add(identity)
                self.problem("reordered", event.id, f"{event.topic} of {_who(*identity)} was chained at position "
                             f"{elsewhere[0]}, and is now at {event.id}", event)
        else:
            self.problem("inserted", event.id, f"{event.topic} of {_who(*identity)} was never chained: it was "
                         "written around the ledger", event)

    def broken_link(self, position: int, row: ChainRow) -> None:
        if row.previous > self.previous:
            self.problem("missing", row.previous, f"position {row.previous} was chained just before {position}, and "
                         "neither its event nor its chain row is there any more")
        else:
            self.problem("inserted", self.previous, f"the chain row at {self.previous} was added afterwards: the "
                         f"link at {position} follows position {row.previous}, not {self.previous}")

    def gone(self, position: int, row: ChainRow) -> None:
        identity = (row.originator_id, row.originator_version)
        now_at = [p for p in self.chained.recorded_positions(*identity) if p != position]
        if now_at:
            if identity not in self.reordered:
                self.reordered.add(identity)
                self.problem("reordered", position, f"{_who(*identity)} was chained at position {position}, and is "
                             f"now at {now_at[0]}", row=row)
        else:
            self.problem("missing", position, f"{_who(*identity)}, chained at position {position}, is gone from "
                         "the log", row=row)

    def moved_or_changed(self, position: int, event: Notification, row: ChainRow) -> None:
        identity = (event.originator_id, event.originator_version)
        elsewhere = [p for p in self.chained.chained_positions(*identity) if p != position]
        if elsewhere:
            if identity not in self.reordered:
                self.reordered.add(identity)
                self.problem("reordered", position, f"{event.topic} of {_who(*identity)} was chained at position "
                             f"{elsewhere[0]}, and is now at {position} (where "
                             f"{_who(row.originator_id, row.originator_version)} was chained)", event)
        else:
            self.problem("changed", position, f"position {position} holds {event.topic} of {_who(*identity)}, but "
                         f"the chain recorded {_who(row.originator_id, row.originator_version)} there", event)

    # -- seals ----------------------------------------------------------------------------------------------------

    def seals_before(self, position: int) -> None:
        """Seals of positions that the walk passed without a chain row there."""
        while self.next_seal < len(self.seals) and self.seals[self.next_seal].position < position:
            self.unmatched(self.seals[self.next_seal], "is no longer in the chain")
            self.next_seal += 1

    def seals_at(self, position: int, row: ChainRow) -> None:
        while self.next_seal < len(self.seals) and self.seals[self.next_seal].position == position:
            seal = self.seals[self.next_seal]
            self.next_seal += 1
            self.report.last_sealed_position = position
            if seal.hash == row.hash:
                self.last_good_seal = position
                continue
            start = self.last_good_seal + 1
            self.report.add(Problem(
                "rewritten", position, f"seal {seal.seal_id} (sealed {seal.sealed_at}) vouched for positions "
                f"{start}..{position} with head {seal.hash.hex()[:16]}…, and the chain there now ends in "
                f"{row.hash.hex()[:16]}…: the chain was recomputed after something in that range changed",
                seal_id=seal.seal_id, range_start=start))

    def unmatched(self, seal: Seal, why: str) -> None:
        self.report.last_sealed_position = seal.position
        self.report.add(Problem("missing", seal.position, f"the head sealed by seal {seal.seal_id} (sealed "
                                f"{seal.sealed_at}) at position {seal.position} {why}: the log lost events there",
                                seal_id=seal.seal_id, range_start=self.last_good_seal + 1))

    def finish(self) -> None:
        for event in self.pending:
            self.unchained(event)
        self.pending.clear()
        while self.next_seal < len(self.seals):
            self.unmatched(self.seals[self.next_seal], f"lies beyond the end of the chain (position {self.previous})")
            self.next_seal += 1
