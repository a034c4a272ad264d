"""What a batch reads and writes at once instead of state by state, finding by finding and row by row, and the
guards that keep it equal to doing so one at a time: on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from projection_builders import Officer, rebuildable, spent_and_caught_up, view_rows

import projections.store
from ledger.application import LedgerApplication
from projections.audit import AuditProjection, _BatchStates
from projections.database import Database
from projections.decoding import EventDecoder
from projections.rules import Finding
from projections.store import TRANSCODER, ViewStore, decode, encode
from projections.worker import ProjectionWorker


def test_encode_writes_the_transcoders_own_text() -> None:
    values: list[Any] = [
        {"amount": Decimal("12.30"), "on": date(2023, 5, 1), "at": datetime(2023, 5, 1, 8, 30), "id": uuid4(),
         "name": "便民超市\t\"引号\"\\", "none": None, "flag": True, "n": 3, "x": 1.5,
         "nested": [{"a": [Decimal("-0.01"), date(2024, 2, 29)]}, []]},
        "text", [], {}, Decimal("1E+3"),
    ]
    for value in values:
        assert encode(value) == TRANSCODER.encode(value).decode("utf8")
        assert decode(encode(value)) == value


def test_a_state_written_by_the_batch_is_read_again_not_taken_from_what_was_read_ahead(
        app: LedgerApplication, views: Database, posting: Officer) -> None:
    worker, project = spent_and_caught_up(app, views, posting)
    store, ident, missing = worker.store, str(project), str(uuid4())

    class Undo(Exception):
        pass

    with pytest.raises(Undo), views.transaction() as cursor:  # rolled back: the views stay as they were
        generation = store.generation(cursor)
        states = _BatchStates(store, cursor, generation, None)
        states.prefetch("project", [ident, missing])
        assert states.load("project", missing) is None and states.load("project", missing) is None
        record = states.load("project", ident)
        assert record is not None
        record = {**record, "name": "改过的名字"}
        rows = [("project", ident, record), ("project", missing, {**record, "id": missing})]
        states.saved(rows, store.save_states(cursor, generation, rows, states.stored))
        states.prefetch("project", [ident, missing])  # already read: not read ahead again
        again, found = states.load("project", ident), states.load("project", missing)
        assert again is not None and again["name"] == "改过的名字" and again is not record
        assert found is not None and found["id"] == missing
        raise Undo


def _other_projects_finding(project_findings: Callable[..., list[Finding]], others: list[str]
                            ) -> Callable[..., list[Finding]]:
    """The project rules, plus a finding about another project of the batch (no rule does that today)."""

    def judge(project: Any, funds: Any, on: date | None = None) -> list[Finding]:
        found = project_findings(project, funds, on)
        other = next(i for i in others if i != project.id)
        template = Finding(rule="EAR-99", version=1, severity="S3", subject_kind="project", subject_id=other,
                           region_code=project.township_code, key="cross", title="跨项目", detail=project.id,
                           effective_on=date(2023, 1, 1), project_id=other)
        return [*found, replace(template, detail=f"{project.id}:{len(project.entries)}")]

    return judge


def test_findings_reconciled_together_are_those_reconciled_one_after_another_even_across_subjects(
        app: LedgerApplication, views: Database, other_views: Callable[[], Database], posting: Officer) -> None:
    """A batch reconciles its subjects' findings against what it read of them all at once, and writes them all at
    once, only where no subject's findings reach another's; here one project's rules speak of the other project,
    so they are reconciled one after another, and the views are exactly those of that."""
    _, one = posting.funded_project()
    _, two = posting.funded_project()
    for project in (one, two):
        posting.spend(project, "100.00", line="activities")
        posting.spend(project, "200.00", line="staff")
    ids = [str(one), str(two)]
    batched, each = ProjectionWorker(app, views, batch_size=7), ProjectionWorker(app, other_views(), batch_size=7)
    for worker in (batched, each):
        worker.projection.engine.project_findings = _other_projects_finding(  # type: ignore[method-assign]
            worker.projection.engine.project_findings, ids)
    each.projection._reconcile_all = (  # type: ignore[method-assign]
        lambda cursor, generation, jobs, position: AuditProjection._reconcile_each(
            each.projection, cursor, generation, jobs, position))
    batched.catch_up()
    each.catch_up()
    posting.spend(one, "50.00", line="activities")
    posting.spend(two, "60.00", line="activities")
    batched.catch_up()
    each.catch_up()

    rows = view_rows(batched.db)
    assert any(row["rule"] == "EAR-99" for row in rows["findings"])
    assert rows == view_rows(each.db)


def test_rows_copied_in_as_new_that_were_stored_after_all_are_merged_as_row_by_row(
        app: LedgerApplication, views: Database, other_views: Callable[[], Database], posting: Officer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A list's items past its stored length, and the invoice rows of a batch's own entries, are written as new
    rows (on PostgreSQL straight by COPY); rows left there anyway are overwritten, as they would be row by row."""
    monkeypatch.setattr(projections.store, "BULK", 1)  # every write by COPY on PostgreSQL
    worker, project = spent_and_caught_up(app, views, posting, invoice_no="INV-1")
    store = worker.store
    with views.transaction() as cursor:  # rows beyond the project's two items, and an invoice row yet to come
        generation = store.generation(cursor)
        cursor.execute(f"INSERT INTO {store.table('state_items', generation)} (kind, id, list, seq, body) "
                       "VALUES ('project', ?, 'entries', 1, '{}'), ('project', ?, 'entries', 2, '{}')",
                       (str(project), str(project)))
    entry = posting.spend(project, "200.00", line="activities", invoice_no="INV-2")
    with views.transaction() as cursor:
        cursor.execute(f"INSERT INTO {store.table('invoices', generation)} (entry_id, project_id, group_key) "
                       "VALUES (?, ?, 'stale')", (str(entry), str(project)))
    posting.spend(project, "300.00", line="activities", invoice_no="INV-3")
    worker.catch_up()

    clean = ProjectionWorker(app, other_views())
    clean.catch_up()
    assert rebuildable(view_rows(views)) == rebuildable(view_rows(clean.db))


def test_a_list_that_is_stored_is_only_written_from_its_stored_length(
        app: LedgerApplication, views: Database, posting: Officer) -> None:
    worker, project = spent_and_caught_up(app, views, posting)
    store = ViewStore(views)
    with views.transaction() as cursor:
        table = store.table("state_items", store.generation(cursor))
        cursor.execute(f"SELECT seq, body FROM {table} WHERE kind = 'project' AND id = ?", (str(project),))
        before = {row["seq"]: row["body"] for row in cursor.fetchall()}
    posting.spend(project, "200.00", line="activities")
    worker.catch_up()
    with views.transaction() as cursor:
        cursor.execute(f"SELECT seq, body FROM {table} WHERE kind = 'project' AND id = ?", (str(project),))
        after = {row["seq"]: row["body"] for row in cursor.fetchall()}
    assert sorted(after) == [0, 1] and after[0] == before[0]


def test_the_projections_decoder_makes_the_mappers_own_events(app: LedgerApplication, posting: Officer) -> None:
    fund, project = posting.funded_project()
    entry = posting.spend(project, "100.00", line="activities", invoice_no="INV-1")
    posting.reverse(project, entry)
    posting.contract(project)
    posting.recover(fund, project, "10.00")
    decoder = EventDecoder(app.mapper)
    assert decoder.lean
    notifications = app.recorder.select_notifications(start=None, limit=10_000)
    assert len({n.topic for n in notifications}) > 10
    for notification in notifications:
        mine, theirs = decoder(notification), app.mapper.to_domain_event(notification)
        assert type(mine) is type(theirs)
        assert vars(mine) == vars(theirs)
        assert {k: type(v) for k, v in vars(mine).items()} == {k: type(v) for k, v in vars(theirs).items()}
        for name, value in vars(mine).items():
            if isinstance(value, UUID):
                assert str(value) == str(vars(theirs)[name]) and hash(value) == hash(vars(theirs)[name])
