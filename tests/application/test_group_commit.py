"""Group commit: postings sent at the same time by threads of one process share one transaction, and each request still
gets its own result or its own error (ledger/group_commit.py).

Each test holds the first save of a ledger (a "blocker" posting) until the requests under test have decided and are
queued behind it, so they are saved together in the next transaction, deterministically. Transactions are observed as
the application's saves; failures are injected into the store's own recorder, after the events and their chain links
are written and before the commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from builders import HEBEI_OFFICER, Ledger, key
from eventsourcing.persistence import IntegrityError, InternalError, StoredEvent

from ledger.application import LedgerApplication
from ledger.errors import IdempotencyKeyReusedError, InsufficientFundsError, ValidationError
from ledger.integrity.postgres import ChainedPostgresRecorder
from ledger.integrity.sqlite import ChainedSQLiteRecorder
from ledger.integrity.verify import verify_log
from ledger.project import Project

Failure = Callable[[Sequence[StoredEvent]], BaseException | None]


class FailingSQLiteRecorder(ChainedSQLiteRecorder):
    """Raises what ``fail`` says in the middle of a transaction: after its events and chain rows are inserted."""

    fail: Failure = staticmethod(lambda events: None)

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        error = self.fail(stored_events)
        if error is not None:
            raise error
        return positions


class FailingPostgresRecorder(ChainedPostgresRecorder):
    fail: Failure = staticmethod(lambda events: None)

    def _write_chain(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        positions = super()._write_chain(curs, stored_events, **kwargs)
        error = self.fail(stored_events)
        if error is not None:
            raise error
        return positions


RECORDERS = {"sqlite": FailingSQLiteRecorder, "postgres": FailingPostgresRecorder}


class ObservedLedger(LedgerApplication):
    """The ledger, with its saves observed (each committed one's recordings; refusals counted) and a gate that can
    hold the next save until it is opened."""

    name = "ledger"

    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        self.committed: list[list[Any]] = []
        self.refused = 0
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0
        self._held_lock = threading.Lock()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        if not self.gate.is_set():
            with self._held_lock:
                self.held += 1
            assert self.gate.wait(timeout=60), "the gate was never opened"
        try:
            recordings = super().save(*objs, **kwargs)
        except Exception:
            self.refused += 1
            raise
        self.committed.append(recordings)
        return recordings

    def transaction_of(self, position: int) -> list[Any]:
        return next(t for t in self.committed if position in {r.notification.id for r in t})


class Call:
    """A use case running in its own thread; ``outcome()`` is its result or raises its error."""

    def __init__(self, call: Callable[[], dict[str, Any]]):
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(call,))
        self.thread.start()

    def _run(self, call: Callable[[], dict[str, Any]]) -> None:
        try:
            self.result = call()
        except BaseException as error:  # reported by outcome()
            self.error = error

    def join(self) -> Call:
        self.thread.join(timeout=120)
        assert not self.thread.is_alive(), "a posting thread hung"
        return self

    def outcome(self) -> dict[str, Any]:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.005)


@pytest.fixture
def observed(app_env: dict[str, str], store: str) -> Iterator[ObservedLedger]:
    recorder = RECORDERS[store]
    application = ObservedLedger({**app_env, "LEDGER_GROUP_COMMIT": "on",
                                  "APPLICATION_RECORDER_TOPIC": f"{recorder.__module__}:{recorder.__qualname__}"})
    try:
        yield application
    finally:
        application.gate.set()
        application.close()


@pytest.fixture
def officer(observed: ObservedLedger) -> Ledger:
    return Ledger(observed, actor=HEBEI_OFFICER)


def funded_projects(officer: Ledger, count: int, received: str = "1000.00") -> tuple[UUID, list[UUID]]:
    fund_id = officer.appropriate("100000.00")
    projects = [officer.register_project() for _ in range(count)]
    for project_id in projects:
        officer.allocate_to_project(fund_id, project_id, received)
    return fund_id, projects


def queued_behind_blocker(app: ObservedLedger, officer: Ledger, blocker_project: UUID,
                          calls: Callable[[], list[Call]], queued: int) -> tuple[Blockers, list[Call]]:
    """Holds a save of every batch the committer may save at once (a posting on ``blocker_project``, and on projects
    registered here for the others), then starts ``calls`` and waits until ``queued`` of them wait."""
    assert app.group_commit is not None
    leaders = app.group_commit.leaders
    projects = [blocker_project, *(officer.register_project() for _ in range(leaders - 1))]
    app.gate.clear()
    blockers = [Call(lambda p=p, n=n: officer.spend(p, "1.00", idempotency=key(f"blocker-{n}")))  # type: ignore[misc]
                for n, p in enumerate(projects)]
    wait_until(lambda: app.held == leaders, "a save of each batch in progress is held")
    started = calls()
    wait_until(lambda: app.group_commit is not None and app.group_commit.waiting >= queued,
               f"{queued} requests queued")
    return Blockers(blockers), started


class Blockers:
    def __init__(self, calls: list[Call]):
        self.calls = calls

    def outcome(self) -> list[dict[str, Any]]:
        return [call.outcome() for call in self.calls]


def blocker_events(app: ObservedLedger) -> int:
    """Events the blockers add after a test's starting position: their registered projects and their postings."""
    assert app.group_commit is not None
    return (app.group_commit.leaders - 1) + 2 * app.group_commit.leaders


def log_events(app: LedgerApplication, after: int = 0) -> list[Any]:
    """The events in the log after a position (PostgreSQL's positions have gaps where a transaction rolled back)."""
    notifications = app.recorder.select_notifications(start=after, limit=10_000, inclusive_of_start=False)
    return [app.mapper.to_domain_event(n) for n in notifications]


def assert_chain_verifies(app: LedgerApplication) -> None:
    report = verify_log(app.recorder, check_signature=None)
    assert report.outcome == "ok", report.first_problem


def test_valid_requests_share_one_transaction_and_refused_ones_are_refused_alone(
    observed: ObservedLedger, officer: Ledger
) -> None:
    fund_id, (p0, p1, p2, p3) = funded_projects(officer, 4)
    refused_first: list[Call] = []

    def calls() -> list[Call]:
        valid = [
            Call(lambda: officer.spend(p0, "10.00", idempotency=key("spend-p0"))),
            Call(lambda: officer.disburse(p1, fund_id, "100.00", idempotency=key("disburse-p1"))),
            Call(lambda: officer.spend(p2, "20.00", line="activities", idempotency=key("spend-p2"))),
        ]
        refused_first.extend([
            Call(lambda: officer.disburse(p2, fund_id, "5000.00", idempotency=key("too-much"))),
            Call(lambda: officer.spend(p0, "30.00", line="yacht", idempotency=key("bad-line"))),
        ])
        return valid

    position = observed.recorder.max_notification_id()
    blocker, valid = queued_behind_blocker(observed, officer, p3, calls, queued=3)
    with pytest.raises(InsufficientFundsError):
        refused_first[0].outcome()
    with pytest.raises(ValidationError):
        refused_first[1].outcome()
    observed.gate.set()
    blocker.outcome()
    results = [call.outcome() for call in valid]

    shared = observed.transaction_of(results[0]["position"])
    assert {r["position"] for r in results} <= {r.notification.id for r in shared}
    assert len(shared) == 6, "three postings, each with its idempotency record"
    assert len({r["position"] for r in results}) == 3
    new = log_events(observed, after=position)
    assert len(new) == blocker_events(observed) + 6  # the blockers', then the batch's six
    spent = [type(e).__name__ for e in new if isinstance(e, Project.Event)].count("ExpenditureRecorded")
    assert spent == 2 + observed.group_commit.leaders  # type: ignore[union-attr]
    assert officer.app.get_project(p2)["disbursed_total"] == Decimal(0)
    assert officer.app.get_project(p1)["disbursed_total"] == Decimal("100.00")
    assert_chain_verifies(observed)


def test_two_postings_on_one_project_in_one_batch_see_each_others_effects(
    observed: ObservedLedger, officer: Ledger
) -> None:
    fund_id, (p0, p1, p3) = funded_projects(officer, 3)

    def calls() -> list[Call]:
        return [
            Call(lambda: officer.disburse(p0, fund_id, "600.00", idempotency=key("first-600"))),
            Call(lambda: officer.disburse(p0, fund_id, "600.00", idempotency=key("second-600"))),
            Call(lambda: officer.spend(p1, "5.00", idempotency=key("elsewhere"))),
        ]

    blocker, (first, second, elsewhere) = queued_behind_blocker(observed, officer, p3, calls, queued=3)
    observed.gate.set()
    blocker.outcome()
    elsewhere_result = elsewhere.outcome()
    outcomes = [c.join() for c in (first, second)]
    posted = [c for c in outcomes if c.error is None]
    refused = [c for c in outcomes if c.error is not None]
    # Both decided from 1,000 received; one is saved, the other decides again from what is left (400) and is refused.
    assert len(posted) == 1 and len(refused) == 1
    assert isinstance(refused[0].error, InsufficientFundsError)
    assert posted[0].result is not None
    assert observed.transaction_of(posted[0].result["position"]) is observed.transaction_of(
        elsewhere_result["position"])
    project = observed.get_project(p0)
    assert project["disbursed_total"] == Decimal("600.00")
    assert_chain_verifies(observed)


def test_two_postings_on_one_project_in_one_batch_are_both_posted_when_the_money_suffices(
    observed: ObservedLedger, officer: Ledger
) -> None:
    fund_id, (p0, p3) = funded_projects(officer, 2)

    def calls() -> list[Call]:
        return [Call(lambda n=n: officer.disburse(p0, fund_id, "300.00", idempotency=key(f"300-{n}")))  # type: ignore[misc]
                for n in range(2)]

    blocker, calls_ = queued_behind_blocker(observed, officer, p3, calls, queued=2)
    observed.gate.set()
    blocker.outcome()
    results = [c.outcome() for c in calls_]
    assert len({r["entry_id"] for r in results}) == 2
    assert observed.transaction_of(results[0]["position"]) is not observed.transaction_of(results[1]["position"])
    assert observed.get_project(p0)["disbursed_total"] == Decimal("600.00")
    assert sorted(r["version"] for r in results) == [3, 4]  # registered, funded, then one after the other
    assert_chain_verifies(observed)


def test_the_same_request_sent_twice_into_one_batch_is_posted_once_and_the_other_gets_it_replayed(
    observed: ObservedLedger, officer: Ledger
) -> None:
    """Both looked the key up before either was saved, so both carry the same new idempotency record: one is turned
    away as stale, decides again once the batch is saved, and finds the other's posting."""
    _fund_id, (p0, p3) = funded_projects(officer, 2)

    def calls() -> list[Call]:
        return [Call(lambda: officer.spend(p0, "7.00", idempotency=key("sent-twice"))) for _ in range(2)]

    position = observed.recorder.max_notification_id()
    blocker, calls_ = queued_behind_blocker(observed, officer, p3, calls, queued=2)
    observed.gate.set()
    blocker.outcome()
    results = sorted((c.outcome() for c in calls_), key=lambda r: r["replayed"])
    assert [r["replayed"] for r in results] == [False, True]
    assert {k: v for k, v in results[0].items() if k != "replayed"} == {
        k: v for k, v in results[1].items() if k != "replayed"}
    assert len(log_events(observed, after=position)) == blocker_events(observed) + 2  # the expenditure, its record
    assert observed.get_project(p0)["spent_total"] == Decimal("7.00")
    assert_chain_verifies(observed)


def test_one_key_for_two_different_requests_in_one_batch_posts_the_first_and_refuses_the_other(
    observed: ObservedLedger, officer: Ledger
) -> None:
    _fund_id, (p0, p1, p3) = funded_projects(officer, 3)

    def calls() -> list[Call]:
        return [Call(lambda: officer.spend(p0, "7.00", idempotency=key("reused", "hash-a"))),
                Call(lambda: officer.spend(p1, "8.00", idempotency=key("reused", "hash-b")))]

    blocker, calls_ = queued_behind_blocker(observed, officer, p3, calls, queued=2)
    observed.gate.set()
    blocker.outcome()
    outcomes = [c.join() for c in calls_]
    posted = [c for c in outcomes if c.error is None]
    refused = [c for c in outcomes if c.error is not None]
    assert len(posted) == len(refused) == 1
    assert isinstance(refused[0].error, IdempotencyKeyReusedError)
    spent = {p: observed.get_project(p)["spent_total"] for p in (p0, p1)}
    assert sorted(spent.values()) == [Decimal(0), Decimal("7.00") if posted[0] is outcomes[0] else Decimal("8.00")]
    assert_chain_verifies(observed)


def test_a_batch_hit_by_a_concurrent_writer_of_another_application_saves_the_others_and_retries_the_stale_one(
    observed: ObservedLedger, officer: Ledger, app_env: dict[str, str]
) -> None:
    _fund_id, (p0, p1, p2, p3) = funded_projects(officer, 4)
    other = LedgerApplication(env=app_env)  # another process, as far as the first one can tell
    try:
        def calls() -> list[Call]:
            return [Call(lambda p=p, n=n: officer.spend(p, "7.00", idempotency=key(f"batch-{n}")))  # type: ignore[misc]
                    for n, p in enumerate((p0, p1, p2))]

        blocker, calls_ = queued_behind_blocker(observed, officer, p3, calls, queued=3)
        meanwhile = Ledger(other, actor=HEBEI_OFFICER).spend(p0, "9.00", idempotency=key("other-process"))
        observed.gate.set()
        blocker.outcome()
        results = [c.outcome() for c in calls_]
    finally:
        other.close()

    assert observed.refused >= 1, "the shared save met the other application's change"
    assert all(not r["replayed"] for r in results)
    assert results[0]["position"] > meanwhile["position"]  # decided again after the other's posting
    project = observed.get_project(p0)
    assert project["spent_total"] == Decimal("16.00")
    entries = [e.entry_id for e in log_events(observed) if isinstance(e, Project.ExpenditureRecorded)]
    assert len(entries) == len(set(entries)) == 4 + observed.group_commit.leaders  # type: ignore[union-attr]
    assert_chain_verifies(observed)


def test_an_exception_in_the_middle_of_a_batch_commits_nothing_of_it_and_only_its_cause_fails(
    observed: ObservedLedger, officer: Ledger
) -> None:
    _fund_id, (p0, poisoned, p1, p3) = funded_projects(officer, 4)
    attempts: list[list[Any]] = []

    def fail(events: Sequence[StoredEvent]) -> BaseException | None:
        attempts.append([e.originator_id for e in events])
        if any(e.originator_id == poisoned for e in events):
            return RuntimeError("cannot write this one")
        return None

    observed.recorder.fail = fail  # type: ignore[attr-defined]

    def calls() -> list[Call]:
        return [Call(lambda p=p, n=n: officer.spend(p, "3.00", idempotency=key(f"crash-{n}")))  # type: ignore[misc]
                for n, p in enumerate((p0, poisoned, p1))]

    position = observed.recorder.max_notification_id()
    blocker, (first, bad, last) = queued_behind_blocker(observed, officer, p3, calls, queued=3)
    observed.gate.set()
    blocker.outcome()
    first_result, last_result = first.outcome(), last.outcome()
    with pytest.raises(RuntimeError, match="cannot write this one"):
        bad.outcome()

    assert any({p0, poisoned, p1} <= set(ids) for ids in attempts), "the three were first tried together"
    assert len(log_events(observed, after=position)) == blocker_events(observed) + 4  # blockers, first, last
    assert observed.get_project(poisoned)["spent_total"] == Decimal(0)
    assert observed.get_project(p0)["spent_total"] == observed.get_project(p1)["spent_total"] == Decimal("3.00")
    assert first_result["position"] != last_result["position"]
    assert_chain_verifies(observed)


def test_a_database_failure_in_a_batch_fails_each_request_and_their_retries_post_each_once(
    observed: ObservedLedger, officer: Ledger
) -> None:
    _fund_id, (p0, p1, p2, p3) = funded_projects(officer, 4)
    failed = threading.Event()

    def fail(events: Sequence[StoredEvent]) -> BaseException | None:
        if len(events) > 2 and not failed.is_set():  # the first shared transaction
            failed.set()
            return InternalError("the server went away")
        return None

    observed.recorder.fail = fail  # type: ignore[attr-defined]

    def post(n: int, project_id: UUID) -> dict[str, Any]:
        return officer.spend(project_id, "4.00", idempotency=key(f"retry-{n}"))

    def calls() -> list[Call]:
        return [Call(lambda p=p, n=n: post(n, p)) for n, p in enumerate((p0, p1, p2))]  # type: ignore[misc]

    position = observed.recorder.max_notification_id()
    blocker, calls_ = queued_behind_blocker(observed, officer, p3, calls, queued=3)
    observed.gate.set()
    blocker.outcome()
    for call in calls_:
        with pytest.raises(InternalError):
            call.outcome()
    assert len(log_events(observed, after=position)) == blocker_events(observed)  # only the blockers' postings

    retried = [post(n, p) for n, p in enumerate((p0, p1, p2))]  # the clients try again, with the same keys
    again = [post(n, p) for n, p in enumerate((p0, p1, p2))]
    assert [r["replayed"] for r in retried] == [False] * 3
    assert [r["replayed"] for r in again] == [True] * 3
    assert [r["entry_id"] for r in again] == [r["entry_id"] for r in retried]
    for project_id in (p0, p1, p2):
        assert observed.get_project(project_id)["spent_total"] == Decimal("4.00")
    assert_chain_verifies(observed)


def test_group_commit_setting_is_on_or_off(app_env: dict[str, str]) -> None:
    for setting, expected in (("on", True), ("off", False), ("", True)):
        application = LedgerApplication(env={**app_env, "LEDGER_GROUP_COMMIT": setting})
        try:
            assert (application.group_commit is not None) is expected
        finally:
            application.close()
    with pytest.raises(ValueError, match="LEDGER_GROUP_COMMIT must be on or off"):
        LedgerApplication(env={**app_env, "LEDGER_GROUP_COMMIT": "sometimes"})


def test_a_stale_request_is_turned_away_without_a_query_and_decides_again(
    observed: ObservedLedger, officer: Ledger
) -> None:
    """A request that decided from a version this process has since saved a newer one of fails early with the
    library's IntegrityError (retried by the use case), so the database never sees it."""
    committer = observed.group_commit
    assert committer is not None
    _fund_id, (p0,) = funded_projects(officer, 1)
    stale = observed.repository.get(p0)
    officer.spend(p0, "1.00")
    stale.record_expenditure(entry_id=p0, line="staff", amount=Decimal("1.00"), payee_name="x",
                             payee_kind="provider", payee_uscc=None, invoice_no=None, fund_id=None, description="",
                             effective_on=stale.registered_on, actor="test")
    transactions = committer.transactions
    with pytest.raises(IntegrityError):
        committer.save(stale)
    assert committer.transactions == transactions
