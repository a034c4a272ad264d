"""Concurrency on PostgreSQL: 16 writers allocating and disbursing from the same fund never overspend, and every
acknowledged posting is in the log exactly once.

Each thread either has its own ``LedgerApplication`` on the same schema (as separate API processes would) or shares
one. Threads allocate from one fund to four projects and disburse from those projects, some with idempotency keys,
and pairs of threads send the very same keyed request at the same instant (a client retrying while its first
attempt is still in flight). These tests need PostgreSQL: with CI=true the run fails when it is missing.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from builders import HEBEI_OFFICER, JIANBEI, LATER, QINGYUAN, Ledger, key
from eventsourcing.persistence import IntegrityError

from ledger.application import Idempotency, LedgerApplication
from ledger.errors import InsufficientFundsError, VersionConflictError
from ledger.fund import Fund
from ledger.project import Project

THREADS = 16
OPERATIONS_PER_THREAD = 12
APPROPRIATED = Decimal("100000.00")
PROJECTS = 4
# Project 3 is funded once, before the threads start, and only disburses afterwards: its balance can only fall, as the
# fund's can. Money that only falls makes "refused for one sender, posted for the other" a provable error.
SPENDING_ONLY = 3
SEEDED = {0: Decimal("2000.00"), 1: Decimal("2000.00"), 2: Decimal("2000.00"), SPENDING_ONLY: Decimal("20000.00")}

EnvFor = Callable[[str], dict[str, str]]


class Conflicts:
    """Counts the saves PostgreSQL refused because another writer got there first (each one is retried)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


def counting_application(conflicts: Conflicts) -> type[LedgerApplication]:
    class CountingLedger(LedgerApplication):
        name = "ledger"  # the library would name the subclass after itself, and so its tables

        def save(self, *objs: Any, **kwargs: Any) -> Any:
            try:
                return super().save(*objs, **kwargs)
            except IntegrityError:
                conflicts.add()
                raise

    return CountingLedger


@dataclass(frozen=True)
class Request:
    """One posting a thread sends: an allocation to a project or a disbursement from it."""

    kind: str  # "allocation" / "disbursement"
    project: int
    amount: Decimal
    idempotency: Idempotency | None
    shared: bool = False  # sent by two threads at once under the same key


@dataclass
class Outcome:
    thread: int
    request: Request
    result: dict[str, Any] | None = None
    refusal: Exception | None = None


def _plans(seed: int) -> list[list[Request]]:
    """What each thread sends, in order; threads 2k and 2k+1 send identical shared requests at the same steps."""
    rng = random.Random(seed)
    shared = {
        (pair, step): Request(
            kind="allocation" if step % 8 == 3 else "disbursement",
            project=rng.randrange(SPENDING_ONLY) if step % 8 == 3 else SPENDING_ONLY,
            amount=Decimal(rng.randrange(20000, 300000)) / 100,
            idempotency=key(f"pair-{pair}-step-{step}"),
            shared=True,
        )
        for pair in range(THREADS // 2)
        for step in range(3, OPERATIONS_PER_THREAD, 4)
    }
    plans = []
    for thread in range(THREADS):
        plan = []
        for step in range(OPERATIONS_PER_THREAD):
            if (thread // 2, step) in shared:
                plan.append(shared[(thread // 2, step)])
                continue
            kind = rng.choice(["allocation", "allocation", "disbursement"])
            plan.append(Request(
                kind=kind,
                project=rng.randrange(SPENDING_ONLY if kind == "allocation" else PROJECTS),
                amount=Decimal(rng.randrange(20000, 400000)) / 100,
                idempotency=key(f"thread-{thread}-step-{step}") if step % 2 == 0 else None,
            ))
        plans.append(plan)
    return plans


@pytest.fixture
def schema_env(postgres_env_for: EnvFor, request: pytest.FixtureRequest) -> dict[str, str]:
    """A fresh schema; small pools, since up to 17 applications share one server."""
    env = postgres_env_for(f"concurrency_{request.node.callspec.id.replace('-', '_')}")
    return {**env, "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "2"}


@pytest.fixture
def conflicts() -> Conflicts:
    return Conflicts()


@pytest.fixture
def setup_app(schema_env: dict[str, str], conflicts: Conflicts) -> Iterator[LedgerApplication]:
    application = counting_application(conflicts)(env={**schema_env, "POSTGRES_POOL_SIZE": str(THREADS + 2)})
    try:
        yield application
    finally:
        application.close()


def _run(plans: list[list[Request]], apps: list[LedgerApplication], fund_id: UUID,
         project_ids: list[UUID]) -> list[Outcome]:
    barriers = [threading.Barrier(2, timeout=60) for _ in range(THREADS // 2)]
    start = threading.Barrier(THREADS, timeout=60)
    outcomes: list[Outcome] = []
    crashes: list[BaseException] = []

    def work(thread: int) -> None:
        ledger = Ledger(apps[thread], actor=HEBEI_OFFICER)
        try:
            start.wait()
            for request in plans[thread]:
                if request.shared:
                    barriers[thread // 2].wait()
                project_id = project_ids[request.project]
                outcome = Outcome(thread, request)
                try:
                    if request.kind == "allocation":
                        outcome.result = ledger.allocate_to_project(fund_id, project_id, str(request.amount),
                                                                    idempotency=request.idempotency)
                    else:
                        outcome.result = ledger.disburse(project_id, fund_id, str(request.amount),
                                                         effective_on=LATER, idempotency=request.idempotency)
                except (InsufficientFundsError, VersionConflictError) as refusal:
                    outcome.refusal = refusal
                outcomes.append(outcome)
        except BaseException as crash:  # reported below, with the thread's partner released from its barrier
            crashes.append(crash)
            for barrier in (*barriers, start):
                barrier.abort()

    threads = [threading.Thread(target=work, args=(n,), name=f"writer-{n}") for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a writer thread hung"
    if crashes:
        raise crashes[0]
    return outcomes


def _log(app: LedgerApplication) -> list[Any]:
    """Every event in the application's log, decoded, in log order."""
    events, start = [], 1
    while True:
        batch = app.recorder.select_notifications(start=start, limit=500)
        if not batch:
            return events
        events += [app.mapper.to_domain_event(n) for n in batch]
        start = batch[-1].id + 1


def _never_negative(app: LedgerApplication, fund_id: UUID, project_ids: list[UUID]) -> None:
    """Replays each aggregate event by event: no balance was ever below zero at any version."""
    state: Any = None
    for domain_event in app.events.get(fund_id):
        state = domain_event.mutate(state)
        assert isinstance(state, Fund) and state.available >= 0, f"fund negative at version {state.version}"
    for project_id in project_ids:
        state = None
        for domain_event in app.events.get(project_id):
            state = domain_event.mutate(state)
            assert isinstance(state, Project)
            assert state.undisbursed_from(fund_id) >= 0, f"project negative at version {state.version}"


@pytest.mark.parametrize("topology", ["an-application-per-thread", "one-shared-application"])
def test_concurrent_allocations_and_disbursements_never_overspend_and_each_acknowledged_posting_is_logged_once(
    topology: str, schema_env: dict[str, str], setup_app: LedgerApplication, conflicts: Conflicts
) -> None:
    setup = Ledger(setup_app, actor=HEBEI_OFFICER)
    fund_id = setup.appropriate(str(APPROPRIATED))
    project_ids = [setup.register_project(township_code=(JIANBEI, QINGYUAN)[n % 2]) for n in range(PROJECTS)]
    for n, project_id in enumerate(project_ids):  # something to disburse from the start
        setup.allocate_to_project(fund_id, project_id, str(SEEDED[n]))
    seeded = sum(SEEDED.values(), Decimal(0))
    plans = _plans(seed=20230301)

    if topology == "one-shared-application":
        apps = [setup_app] * THREADS
    else:
        cls = counting_application(conflicts)
        apps = [cls(env=schema_env) for _ in range(THREADS)]  # created one after another: tables exist already
    try:
        outcomes = _run(plans, apps, fund_id, project_ids)
    finally:
        for app in apps:
            if app is not setup_app:
                app.close()

    app = setup_app
    acknowledged = [o for o in outcomes if o.result is not None]
    refused = [o for o in outcomes if o.refusal is not None]
    assert len(outcomes) == THREADS * OPERATIONS_PER_THREAD

    # Each acknowledged posting is one distinct allocation or entry (replays name the original one).
    postings: dict[UUID, Outcome] = {}
    for outcome in acknowledged:
        assert outcome.result is not None
        posting_id = outcome.result["allocation_id" if outcome.request.kind == "allocation" else "entry_id"]
        if posting_id in postings:
            original = postings[posting_id]
            assert outcome.request.idempotency is not None and original.request == outcome.request
            assert original.result is not None and original.result["position"] == outcome.result["position"]
        else:
            postings[posting_id] = outcome
    fresh = [o for o in acknowledged if o.result is not None and not o.result["replayed"]]
    assert len(fresh) == len(postings), "a posting was acknowledged as new twice"
    assert len({o.result["position"] for o in fresh if o.result is not None}) == len(fresh)

    # The log holds every acknowledged posting exactly once, and nothing else.
    log = _log(app)
    allocated = Counter(e.allocation_id for e in log if isinstance(e, Fund.Allocated))
    received = Counter(e.allocation_id for e in log if isinstance(e, Project.FundsReceived))
    disbursed = Counter(e.entry_id for e in log if isinstance(e, Project.Disbursed))
    seeding = {a for a in allocated if a not in postings}
    assert len(seeding) == PROJECTS
    assert set(allocated) - seeding == {p for p, o in postings.items() if o.request.kind == "allocation"}
    assert set(disbursed) == {p for p, o in postings.items() if o.request.kind == "disbursement"}
    assert all(count == 1 for count in (*allocated.values(), *disbursed.values()))
    assert received == allocated

    # The same keyed request from two threads at once: at most one posting, and both senders are told about it
    # (or, having lost every retry to concurrent changes, asked to try again). The balances these requests draw on
    # only fall, so a sender refused for insufficient funds while the other posted was refused because of the very
    # posting it should have been given.
    by_key: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.request.shared and outcome.request.idempotency is not None:
            by_key.setdefault(outcome.request.idempotency.key, []).append(outcome)
    assert len(by_key) == THREADS // 2 * len(range(3, OPERATIONS_PER_THREAD, 4))
    same_key_postings = 0
    for key_name, pair in by_key.items():
        assert len(pair) == 2
        results = [o.result for o in pair if o.result is not None]
        if results:
            same_key_postings += 1
            refusals = [o.refusal for o in pair if o.refusal is not None]
            assert all(isinstance(r, VersionConflictError) for r in refusals), (
                f"{key_name}: posted once, but a sender was told {refusals!r}")
            ids = {r.get("allocation_id", r.get("entry_id")) for r in results}
            assert len(ids) == 1, key_name
            assert sorted(r["replayed"] for r in results) == [False, True][: len(results)], key_name

    # Balances: nothing ever negative; the fund holds what was appropriated less what was acknowledged.
    allocations = sum((o.request.amount for o in postings.values() if o.request.kind == "allocation"), Decimal(0))
    fund = app.get_fund(fund_id)
    assert fund["available"] == APPROPRIATED - seeded - allocations >= 0
    assert fund["allocated"] == seeded + allocations
    for n, project_id in enumerate(project_ids):
        project = app.get_project(project_id)
        mine = [o.request for o in postings.values() if o.request.project == n]
        assert project["received_total"] == SEEDED[n] + sum(
            (r.amount for r in mine if r.kind == "allocation"), Decimal(0))
        assert project["disbursed_total"] == sum((r.amount for r in mine if r.kind == "disbursement"), Decimal(0))
        assert project["received_total"] - project["disbursed_total"] >= 0
    _never_negative(app, fund_id, project_ids)

    insufficient = sum(isinstance(o.refusal, InsufficientFundsError) for o in refused)
    gave_up = sum(isinstance(o.refusal, VersionConflictError) for o in refused)
    assert insufficient > 0, "the plan is meant to exhaust the fund"
    print(
        f"\n[{topology}] {len(outcomes)} requests from {THREADS} threads: {len(postings)} postings acknowledged "
        f"({sum(o.request.kind == 'allocation' for o in postings.values())} allocations, "
        f"{sum(o.request.kind == 'disbursement' for o in postings.values())} disbursements), "
        f"{len(acknowledged) - len(fresh)} replays; refused: {insufficient} insufficient funds, {gave_up} gave up "
        f"after retries; {conflicts.count} conflicting saves retried; same-key pairs: {len(by_key)} sent, "
        f"{same_key_postings} posted once; fund available {fund['available']}"
    )
