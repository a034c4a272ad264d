"""Snapshots only make reads faster: a state read through them equals a replay of every event from the start."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from builders import Ledger, refused
from eventsourcing.domain import Aggregate

from ledger.application import LedgerApplication
from ledger.errors import AlreadyReversedError, NotReversibleError
from ledger.fund import Fund
from ledger.procurement import Procurement
from ledger.project import Project
from ledger.views import fund_view, project_view


class SnapshotEveryThree(LedgerApplication):
    """The ledger with a snapshot every 3 versions, so a short test crosses several of them."""

    name = "ledger"  # the library names a subclass after itself; keep the ledger's tables
    snapshotting_intervals = {Fund: 3, Project: 3, Procurement: 3}


def _replayed(app: LedgerApplication, aggregate_id: UUID, version: int | None = None) -> Any:
    """The aggregate rebuilt from its events alone, ignoring every snapshot."""
    state: Any = None
    for domain_event in app.events.get(aggregate_id, lte=version):
        state = domain_event.mutate(state)
    return state


def test_state_read_through_snapshots_equals_a_replay_without_them(app_env: dict[str, str]) -> None:
    app = SnapshotEveryThree(env=app_env)
    try:
        ledger = Ledger(app)
        fund_id, project_id = ledger.funded_project(received="10000.00")
        entries = []
        for n in range(1, 9):
            entries.append(ledger.disburse(project_id, fund_id, f"{n}00.00")["entry_id"])
            ledger.spend(project_id, f"{n}0.00", line="activities")
            ledger.allocate_to_project(fund_id, project_id, f"{n}.00")
        ledger.reverse(project_id, entries[3])
        ledger.recover(fund_id, project_id, "1.00")

        project_version = app.get_project(project_id)["version"]
        fund_version = app.get_fund(fund_id)["version"]
        assert project_version == 28 and fund_version == 11
        assert [s.originator_version for s in app.snapshots.get(project_id)] == list(range(3, 28, 3))
        assert [s.originator_version for s in app.snapshots.get(fund_id)] == [3, 6, 9]

        for version in range(1, project_version + 1):
            assert app.get_project(project_id, version=version) == project_view(_replayed(app, project_id, version))
        for version in range(1, fund_version + 1):
            assert app.get_fund(fund_id, version=version) == fund_view(_replayed(app, fund_id, version))
        assert app.get_project(project_id) == project_view(_replayed(app, project_id))
    finally:
        app.close()


def test_a_restarted_application_reads_the_same_state_from_the_stored_snapshots(app_env: dict[str, str]) -> None:
    first = SnapshotEveryThree(env=app_env)
    try:
        ledger = Ledger(first)
        _, project_id = ledger.funded_project(received="10000.00")
        for _ in range(7):
            ledger.spend(project_id, "10.00")
        expected = first.get_project(project_id)
    finally:
        first.close()

    restarted = LedgerApplication(env=app_env)  # the production intervals: it takes no snapshots of its own
    try:
        assert [s.originator_version for s in restarted.snapshots.get(project_id)] == [3, 6, 9]
        assert restarted.get_project(project_id) == expected == project_view(_replayed(restarted, project_id))
    finally:
        restarted.close()


def test_snapshots_hold_entries_as_rows_and_those_stored_with_entries_as_dicts_load_the_same(
    app_env: dict[str, str],
) -> None:
    """A project's snapshot holds each entry as a row ``[id, kind, amount, fund id, line, reversed by]``. Before,
    it was the library's own snapshot of a project that kept each entry as a dict; such snapshots are in stores
    already, and a project read through one of them behaves as one replayed from its events."""
    first = LedgerApplication(env=app_env)  # the production intervals: none of its own on so short a history
    try:
        ledger = Ledger(first)
        fund_id, project_id = ledger.funded_project(received="10000.00")
        paid = ledger.disburse(project_id, fund_id, "100.00")["entry_id"]
        spent = ledger.spend(project_id, "10.00", line="activities")["entry_id"]
        reversal = ledger.reverse(project_id, paid)["entry_id"]
        project = first.repository.get(project_id)
        as_it_was = object.__new__(Project)  # the same project, with each entry a dict as it used to be
        as_it_was.__dict__.update({**vars(project), "entries": {k: e.as_dict() for k, e in project.entries.items()}})
        stored_before = Aggregate.Snapshot.take.__func__(Project.Snapshot, as_it_was)  # type: ignore[attr-defined]
        taken_now = Project.Snapshot.take(project)

        now, before = _stored_state(first, taken_now), _stored_state(first, stored_before)
        assert "entries" not in now and "entry_rows" not in before
        assert {k: v for k, v in now.items() if k != "entry_rows"} == {k: v for k, v in before.items()
                                                                      if k != "entries"}
        assert now["entry_rows"] == [
            [str(paid), "disbursement", "100.00", str(fund_id), None, str(reversal)],
            [str(spent), "expenditure", "10.00", None, "activities", None],
            [str(reversal), "reversal", "100.00", None, None, None],
        ]
        assert before["entries"][str(paid)] == {
            "kind": "disbursement", "amount": {"_type_": "decimal_str", "_data_": "100.00"}, "fund_id": str(fund_id),
            "reversed_by": str(reversal)}
        assert first.mapper.to_domain_event(first.mapper.to_stored_event(taken_now)).mutate(None).entries == \
            first.mapper.to_domain_event(first.mapper.to_stored_event(stored_before)).mutate(None).entries == \
            project.entries
        first.snapshots.put([stored_before])  # type: ignore[union-attr]
    finally:
        first.close()

    restarted = LedgerApplication(env=app_env)
    try:
        assert [s.originator_version for s in restarted.snapshots.get(project_id)] == [5]  # type: ignore[union-attr]
        assert restarted.get_project(project_id) == project_view(_replayed(restarted, project_id))
        ledger = Ledger(restarted)
        refused(restarted, AlreadyReversedError, "already_reversed", lambda: ledger.reverse(project_id, paid),
                project_id)
        refused(restarted, NotReversibleError, "not_reversible", lambda: ledger.reverse(project_id, reversal),
                project_id)
        ledger.reverse(project_id, spent)
        assert restarted.get_project(project_id) == project_view(_replayed(restarted, project_id))
        assert restarted.get_project(project_id)["spent_total"] == restarted.get_project(project_id)[
            "disbursed_total"] == 0
    finally:
        restarted.close()


def _stored_state(app: LedgerApplication, snapshot: Any) -> dict[str, Any]:
    """The aggregate state a snapshot is stored with, as the store keeps it (JSON)."""
    return json.loads(app.mapper.to_stored_event(snapshot).state)["state"]  # type: ignore[no-any-return]
