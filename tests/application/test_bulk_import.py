"""Bulk import (ledger/bulk.py): rows go through the ordinary use cases, many to a transaction, each row seeing the
ones before it; a refused row changes nothing; a batch is saved whole or not at all; running rows again posts nothing
twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from builders import DAY, HEBEI_OFFICER, LATER, PROVIDER_USCC, Ledger, key

from ledger.application import LedgerApplication
from ledger.bulk import USE_CASES, BulkImporter, ImportStoppedError, Row
from ledger.integrity.verify import verify_log
from ledger.project import Project
from ledger.views import project_view

IMPORTER = HEBEI_OFFICER


def spend(number: int, project_id: UUID, amount: str, **fields: Any) -> Row:
    return Row(number, "expenditure", project_id,
               {"line": "staff", "amount": amount, "payee_name": "社工服务中心", "payee_kind": "provider",
                "effective_on": LATER, **fields}, key(f"row-{number}"))


def disburse(number: int, project_id: UUID, fund_id: UUID, amount: str) -> Row:
    return Row(number, "disbursement", project_id,
               {"fund_id": fund_id, "amount": amount, "payee_name": "社工服务中心", "payee_uscc": PROVIDER_USCC,
                "effective_on": LATER}, key(f"row-{number}"))


def allocate(number: int, fund_id: UUID, project_id: UUID, amount: str) -> Row:
    return Row(number, "allocation", fund_id,
               {"target_kind": "project", "project_id": project_id, "amount": amount, "effective_on": DAY},
               key(f"row-{number}"))


class Saves:
    """Counts the application's saves; ``before`` runs just before each one (to crash it, or to race it), ``after``
    just after it has committed."""

    def __init__(self, app: LedgerApplication):
        self.count = 0
        self.before: Callable[[int], None] = lambda n: None
        self.after: Callable[[int], None] = lambda n: None
        self._save = app.save
        app.save = self._counted  # type: ignore[method-assign]

    def _counted(self, *objs: Any, **kwargs: Any) -> Any:
        self.count += 1
        self.before(self.count)
        recordings = self._save(*objs, **kwargs)
        self.after(self.count)
        return recordings


class Decisions:
    """Counts the rows decided: the calls of the use cases rows go through."""

    def __init__(self, app: LedgerApplication, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        for name in USE_CASES.values():
            monkeypatch.setattr(app, name, self._counted(getattr(app, name)))

    def _counted(self, use_case: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return use_case(*args, **kwargs)

        return counted


@pytest.fixture
def saves(app: LedgerApplication) -> Iterator[Saves]:
    yield Saves(app)


def figures(app: LedgerApplication, project_id: UUID) -> tuple[Decimal, Decimal, Decimal]:
    project = app.get_project(project_id)
    return project["received_total"], project["disbursed_total"], project["spent_total"]


def assert_chain_verifies(app: LedgerApplication) -> None:
    report = verify_log(app.recorder, check_signature=None)
    assert report.outcome == "ok", report.first_problem


def test_rows_of_a_batch_are_saved_in_one_transaction_each_seeing_the_rows_before_it(
    app: LedgerApplication, ledger: Ledger, saves: Saves
) -> None:
    fund_id, project_id = ledger.funded_project(appropriated="5000.00", received="1000.00")
    rows = [
        disburse(2, project_id, fund_id, "600.00"),
        disburse(3, project_id, fund_id, "400.00"),  # exactly what the row before left
        allocate(4, fund_id, project_id, "500.00"),
        disburse(5, project_id, fund_id, "500.00"),  # only possible with the allocation just before it
        spend(6, project_id, "120.50"),
    ]
    before = saves.count
    tally = BulkImporter(app, IMPORTER, batch_size=10).run(rows)

    assert (tally.posted, tally.replayed, tally.refused, tally.batches) == (5, 0, [], 1)
    assert saves.count - before == 1
    assert tally.events == 5 + 1 + 5  # one event each, the allocation two (fund and project), and 5 idempotency records
    assert figures(app, project_id) == (Decimal("1500.00"), Decimal("1500.00"), Decimal("120.50"))
    assert app.get_fund(fund_id)["available"] == Decimal("3500.00")
    assert_chain_verifies(app)


def test_a_refused_row_leaves_the_batch_as_it_was_before_it(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id = ledger.appropriate("1000.00")
    closed, open_ = ledger.register_project(), ledger.register_project()
    ledger.close_project(closed)
    rows = [
        allocate(2, fund_id, closed, "800.00"),  # the fund gives, then the closed project refuses to receive
        allocate(3, fund_id, open_, "900.00"),  # only possible if the fund did not keep the refused row's change
    ]
    tally = BulkImporter(app, IMPORTER).run(rows, skip_invalid=True)

    assert tally.posted == 1
    assert [(r.number, r.code) for r in tally.refused] == [(2, "closed")]
    assert app.get_fund(fund_id)["available"] == Decimal("100.00")
    assert figures(app, open_)[0] == Decimal("900.00")
    assert figures(app, closed)[0] == Decimal(0)
    assert_chain_verifies(app)


def test_a_check_decides_every_row_reports_each_refusal_and_writes_nothing(
    app: LedgerApplication, ledger: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    position = app.recorder.max_notification_id()
    rows = [
        disburse(2, project_id, fund_id, "700.00"),
        disburse(3, project_id, fund_id, "700.00"),  # the row before took most of it
        spend(4, project_id, "10.00", line="yacht"),
        spend(5, UUID(int=7), "10.00"),
        spend(6, project_id, "10.005"),
        disburse(7, project_id, fund_id, "300.00"),
    ]
    tally = BulkImporter(app, IMPORTER, batch_size=2).check(rows)

    assert tally.posted == 2
    assert [(r.number, r.code, r.field) for r in tally.refused] == [
        (3, "insufficient_funds", None), (4, "validation_error", "line"), (5, "unknown_project", None),
        (6, "invalid_amount", "amount")]
    assert app.recorder.max_notification_id() == position
    assert figures(app, project_id)[1] == Decimal(0)


def test_a_refused_row_stops_the_import_before_its_batch_and_the_batches_before_stay_whole(
    app: LedgerApplication, ledger: Ledger
) -> None:
    _fund_id, project_id = ledger.funded_project()
    rows = [spend(2, project_id, "1.00"), spend(3, project_id, "2.00"),
            spend(4, project_id, "4.00"), spend(5, project_id, "8.00", line="yacht")]
    with pytest.raises(ImportStoppedError) as stopped:
        BulkImporter(app, IMPORTER, batch_size=2).run(rows)

    assert [r.number for r in stopped.value.refused] == [5]
    assert (stopped.value.tally.batches, stopped.value.tally.posted) == (1, 2)
    assert figures(app, project_id)[2] == Decimal("3.00")  # the first batch, not a row of the second


def test_running_rows_again_after_a_crash_posts_each_exactly_once(
    app: LedgerApplication, ledger: Ledger, saves: Saves
) -> None:
    _fund_id, project_id = ledger.funded_project()
    rows = [spend(n, project_id, f"{n}.00") for n in range(2, 9)]  # 2 + 3 + ... + 8 = 35
    start = saves.count

    def crash_on_the_third_batch(count: int) -> None:
        if count - start == 3:
            raise RuntimeError("power cut")

    saves.before = crash_on_the_third_batch
    with pytest.raises(RuntimeError, match="power cut"):
        BulkImporter(app, IMPORTER, batch_size=3).run(rows)
    assert figures(app, project_id)[2] == Decimal(2 + 3 + 4 + 5 + 6 + 7)  # two whole batches, nothing of the third

    saves.before = lambda count: None
    again = BulkImporter(app, IMPORTER, batch_size=3).run(rows)
    assert (again.posted, again.replayed) == (1, 6)
    assert figures(app, project_id)[2] == Decimal(35)
    once_more = BulkImporter(app, IMPORTER, batch_size=100).run(rows)
    assert (once_more.posted, once_more.replayed, once_more.events) == (0, 7, 0)
    assert figures(app, project_id)[2] == Decimal(35)
    assert_chain_verifies(app)


def test_a_key_used_twice_in_a_file_is_a_replay_for_the_same_row_and_refused_for_another(
    app: LedgerApplication, ledger: Ledger
) -> None:
    _fund_id, project_id = ledger.funded_project()
    row = spend(2, project_id, "5.00")
    same = Row(3, row.kind, row.target_id, row.fields, row.idempotency)
    other = Row(4, row.kind, row.target_id, {**row.fields, "amount": "6.00"}, key("row-2", "another request"))
    tally = BulkImporter(app, IMPORTER).run([row, same, other], skip_invalid=True)

    assert (tally.posted, tally.replayed) == (1, 1)
    assert [(r.number, r.code) for r in tally.refused] == [(4, "idempotency_key_reused")]
    assert figures(app, project_id)[2] == Decimal("5.00")


def test_a_batch_that_meets_a_concurrent_writer_is_decided_again_from_the_store(
    app: LedgerApplication, ledger: Ledger, saves: Saves, app_env: dict[str, str]
) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    other = LedgerApplication(env=app_env)
    start = saves.count

    def another_process_posts_first(count: int) -> None:
        if count - start == 1:
            Ledger(other).disburse(project_id, fund_id, "300.00", idempotency=key("meanwhile"))

    saves.before = another_process_posts_first
    try:
        rows = [disburse(2, project_id, fund_id, "600.00"), disburse(3, project_id, fund_id, "200.00")]
        tally = BulkImporter(app, IMPORTER).run(rows, skip_invalid=True)
    finally:
        other.close()

    # Decided again after the other posting: 600 still fits, 200 no longer does (1,000 - 300 - 600 = 100).
    assert tally.posted == 1 and [(r.number, r.code) for r in tally.refused] == [(3, "insufficient_funds")]
    assert figures(app, project_id)[1] == Decimal("900.00")
    assert_chain_verifies(app)


# -- importing what a check decided (``check(keep=True)``, then ``run_checked``) ------------------------------------


@pytest.fixture
def decisions(app: LedgerApplication, monkeypatch: pytest.MonkeyPatch) -> Decisions:
    return Decisions(app, monkeypatch)


@pytest.fixture
def other(app_env: dict[str, str]) -> Iterator[Ledger]:
    """Another process posting to the same store."""
    application = LedgerApplication(env=app_env)
    try:
        yield Ledger(application)
    finally:
        application.close()


def test_an_import_of_a_check_saves_what_the_check_decided_without_deciding_any_row_again(
    app: LedgerApplication, ledger: Ledger, saves: Saves, decisions: Decisions
) -> None:
    fund_id, project_id = ledger.funded_project(appropriated="5000.00", received="1000.00")
    rows = [
        disburse(2, project_id, fund_id, "600.00"),
        disburse(3, project_id, fund_id, "400.00"),
        allocate(4, fund_id, project_id, "500.00"),
        disburse(5, project_id, fund_id, "500.00"),  # only possible with the allocation before it, a batch earlier
        spend(6, project_id, "120.50"),
    ]
    importer = BulkImporter(app, IMPORTER, batch_size=2)
    decisions.count = 0
    checked = importer.check(rows, keep=True)
    assert (checked.posted, checked.refused, decisions.count) == (5, [], 5)
    assert list(checked.rows()) == rows
    before = saves.count

    tally = importer.run_checked(checked)

    assert decisions.count == 5  # no row decided again
    assert (tally.posted, tally.replayed, tally.refused, tally.batches, tally.events) == (5, 0, [], 3, 5 + 1 + 5)
    assert saves.count - before == 3  # one transaction per batch
    assert figures(app, project_id) == (Decimal("1500.00"), Decimal("1500.00"), Decimal("120.50"))
    assert app.get_fund(fund_id)["available"] == Decimal("3500.00")
    assert_chain_verifies(app)
    again = importer.run_checked(importer.check(rows, keep=True))  # a file run again: nothing posted twice
    assert (again.posted, again.replayed, again.events) == (0, 5, 0)
    assert figures(app, project_id) == (Decimal("1500.00"), Decimal("1500.00"), Decimal("120.50"))


def test_a_posting_between_the_check_and_the_import_makes_the_import_decide_every_row_again(
    app: LedgerApplication, ledger: Ledger, other: Ledger, decisions: Decisions
) -> None:
    _fund_id, project_id = ledger.funded_project(received="1000.00")
    _, elsewhere = ledger.funded_project()
    rows = [spend(2, project_id, "1.00"), spend(3, project_id, "2.00"), spend(4, project_id, "4.00")]
    importer = BulkImporter(app, IMPORTER, batch_size=2)
    decisions.count = 0
    checked = importer.check(rows, keep=True)
    other.spend(elsewhere, "9.00", idempotency=key("meanwhile"))  # no aggregate of the rows: only the log tells

    tally = importer.run_checked(checked)

    assert decisions.count == 3 + 3
    assert (tally.posted, tally.batches) == (3, 2)
    assert figures(app, project_id)[2] == Decimal("7.00")
    assert figures(app, elsewhere)[2] == Decimal("9.00")
    assert_chain_verifies(app)


def test_a_posting_between_the_check_and_the_import_is_seen_by_every_row_and_never_overspent(
    app: LedgerApplication, ledger: Ledger, other: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    rows = [disburse(2, project_id, fund_id, "600.00"), disburse(3, project_id, fund_id, "300.00")]
    importer = BulkImporter(app, IMPORTER, batch_size=1)
    checked = importer.check(rows, keep=True)
    assert (checked.posted, checked.refused) == (2, [])  # 900 of 1,000
    other.disburse(project_id, fund_id, "300.00", idempotency=key("meanwhile"))

    with pytest.raises(ImportStoppedError) as stopped:
        importer.run_checked(checked)

    # Decided again: 600 still fits, 300 no longer does (1,000 - 300 - 600 = 100); the batch before it stays.
    assert [(r.number, r.code) for r in stopped.value.refused] == [(3, "insufficient_funds")]
    assert (stopped.value.tally.batches, stopped.value.tally.posted) == (1, 1)
    assert figures(app, project_id)[1] == Decimal("900.00")
    assert_chain_verifies(app)


def test_a_checked_batch_whose_aggregate_changed_after_the_last_look_is_refused_by_the_store_and_decided_again(
    app: LedgerApplication, ledger: Ledger, other: Ledger, saves: Saves, decisions: Decisions
) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    rows = [disburse(2, project_id, fund_id, "600.00"), disburse(3, project_id, fund_id, "300.00")]
    importer = BulkImporter(app, IMPORTER, batch_size=1)
    decisions.count = 0
    checked = importer.check(rows, keep=True)
    start = saves.count

    def another_process_posts_first(count: int) -> None:  # after the import looked at the log, before it saves
        if count - start == 1:
            other.disburse(project_id, fund_id, "300.00", idempotency=key("meanwhile"))

    saves.before = another_process_posts_first
    with pytest.raises(ImportStoppedError) as stopped:
        importer.run_checked(checked)

    assert [(r.number, r.code) for r in stopped.value.refused] == [(3, "insufficient_funds")]
    assert stopped.value.tally.posted == 1
    assert decisions.count == 2 + 2
    assert figures(app, project_id)[1] == Decimal("900.00")
    assert len([e for e in app.get_history(project_id) if e["type"] == "Disbursed"]) == 2  # posted once each
    assert_chain_verifies(app)


def test_a_posting_between_two_batches_of_the_import_makes_the_batches_after_it_decided_again(
    app: LedgerApplication, ledger: Ledger, other: Ledger, saves: Saves, decisions: Decisions
) -> None:
    fund_id, project_id = ledger.funded_project(received="1000.00")
    rows = [disburse(2, project_id, fund_id, "400.00"), disburse(3, project_id, fund_id, "400.00"),
            disburse(4, project_id, fund_id, "100.00")]
    importer = BulkImporter(app, IMPORTER, batch_size=1)
    decisions.count = 0
    checked = importer.check(rows, keep=True)
    start = saves.count

    def another_process_posts_after_the_first_batch(count: int) -> None:
        if count - start == 1:
            other.disburse(project_id, fund_id, "500.00", idempotency=key("meanwhile"))

    saves.after = another_process_posts_after_the_first_batch
    with pytest.raises(ImportStoppedError) as stopped:
        importer.run_checked(checked)

    assert [(r.number, r.code) for r in stopped.value.refused] == [(3, "insufficient_funds")]
    assert (stopped.value.tally.batches, stopped.value.tally.posted) == (1, 1)
    assert decisions.count == 3 + 1  # the second batch decided again; the import stopped before the third
    assert figures(app, project_id)[1] == Decimal("900.00")  # 400 of the file, 500 of the other process
    assert_chain_verifies(app)


def test_running_a_checked_import_again_after_a_crash_posts_each_row_exactly_once(
    app: LedgerApplication, ledger: Ledger, saves: Saves
) -> None:
    _fund_id, project_id = ledger.funded_project()
    rows = [spend(n, project_id, f"{n}.00") for n in range(2, 9)]  # 2 + 3 + ... + 8 = 35
    importer = BulkImporter(app, IMPORTER, batch_size=3)
    checked = importer.check(rows, keep=True)
    start = saves.count

    def crash_on_the_second_batch(count: int) -> None:
        if count - start == 2:
            raise RuntimeError("power cut")

    saves.before = crash_on_the_second_batch
    with pytest.raises(RuntimeError, match="power cut"):
        importer.run_checked(checked)
    assert figures(app, project_id)[2] == Decimal(2 + 3 + 4)  # the first batch, nothing of the second

    saves.before = lambda count: None
    again = importer.run_checked(importer.check(rows, keep=True))
    assert (again.posted, again.replayed) == (4, 3)
    assert figures(app, project_id)[2] == Decimal(35)
    once_more = importer.run_checked(importer.check(rows, keep=True))
    assert (once_more.posted, once_more.replayed, once_more.events) == (0, 7, 0)
    assert figures(app, project_id)[2] == Decimal(35)
    assert_chain_verifies(app)


def test_rows_imported_as_checked_are_recorded_when_their_batch_is_saved_not_when_checked(
    app: LedgerApplication, ledger: Ledger
) -> None:
    _fund_id, project_id = ledger.funded_project()
    importer = BulkImporter(app, IMPORTER, batch_size=2)
    checked = importer.check([spend(n, project_id, "1.00") for n in range(2, 7)], keep=True)
    between = datetime.now(UTC)
    importer.run_checked(checked)

    recorded = [e["recorded_at"] for e in app.get_history(project_id) if e["type"] == "ExpenditureRecorded"]
    assert len(recorded) == 5 and all(instant > between for instant in recorded)
    assert len(set(recorded)) == 3  # one instant per transaction
    assert_chain_verifies(app)


def test_a_project_imported_as_checked_past_its_snapshot_interval_is_snapshotted_as_saved(
    app: LedgerApplication, ledger: Ledger
) -> None:
    _fund_id, project_id = ledger.funded_project()
    start = app.repository.get(project_id).version
    rows = [spend(n, project_id, "1.00") for n in range(2, 2 + 210 - start)]  # the project reaches version 210
    importer = BulkImporter(app, IMPORTER, batch_size=50)
    importer.run_checked(importer.check(rows, keep=True))

    assert app.snapshots is not None
    interval = app.snapshotting_intervals[Project]
    assert [s.originator_version for s in app.snapshots.get(project_id)] == list(range(interval, 211, interval))
    assert figures(app, project_id)[2] == Decimal(len(rows))
    assert app.repository.get(project_id).version == 210
    replayed: Any = None  # the project from its events alone: the snapshot holds the same, instants included
    for event in app.events.get(project_id, lte=interval):
        replayed = event.mutate(replayed)
    snapshot = next(iter(app.snapshots.get(project_id))).mutate(None)
    assert project_view(snapshot) == project_view(replayed)
    assert snapshot.modified_on == replayed.modified_on


def test_only_a_kept_check_without_refused_rows_is_imported_as_checked(app: LedgerApplication, ledger: Ledger) -> None:
    _fund_id, project_id = ledger.funded_project()
    importer = BulkImporter(app, IMPORTER)
    with pytest.raises(ValueError, match="refused no row"):
        importer.run_checked(importer.check([spend(2, project_id, "1.00")]))  # not kept
    with pytest.raises(ValueError, match="refused no row"):
        importer.run_checked(importer.check([spend(2, project_id, "1.00", line="yacht")], keep=True))
    assert figures(app, project_id)[2] == Decimal(0)
