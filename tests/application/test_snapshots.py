"""Snapshots only make reads faster: a state read through them equals a replay of every event from the start."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from builders import Ledger

from ledger.application import LedgerApplication
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
