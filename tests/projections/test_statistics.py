"""The views' planner statistics: refreshed by the worker once the views have grown, and before a rebuild's tables
are swapped in, so that roll-up joins are not planned as if the tables were empty. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from projection_builders import Officer, post_scenario

from ledger.application import LedgerApplication
from projections import store as store_module
from projections.database import Database
from projections.worker import ProjectionWorker


def _analyzed(views: Database, table: str) -> bool:
    with views.transaction(write=False) as cursor:
        if views.dialect == "postgres":
            cursor.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = ? AND schemaname = "
                           "current_schema()", (table,))
            row = cursor.fetchone()
            return row is not None and row["last_analyze"] is not None
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return False
        cursor.execute("SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = ?", (table,))
        return int(cursor.fetchone()["n"]) > 0


def _marker(views: Database, generation: int) -> int | None:
    with views.transaction(write=False) as cursor:
        cursor.execute("SELECT value FROM lv_meta WHERE name = ?", (f"analyzed_{generation}",))
        row = cursor.fetchone()
        return None if row is None else int(row["value"])


def test_catching_up_on_enough_events_refreshes_the_statistics_and_a_few_more_do_not(
        app: LedgerApplication, views: Database, posting: Officer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "ANALYZE_EVERY", 20)
    worker = ProjectionWorker(app, views, batch_size=7)
    post_scenario(posting)
    worker.catch_up()
    first = _marker(views, 1)
    assert first == posting.last_position
    assert _analyzed(views, "lv1_findings")

    posting.funded_project()  # a handful of events: fewer than the threshold
    worker.catch_up()
    assert _marker(views, 1) == first


def test_a_rebuild_swaps_in_tables_that_already_have_statistics(app: LedgerApplication, views: Database,
                                                               posting: Officer) -> None:
    post_scenario(posting)
    worker = ProjectionWorker(app, views)

    status = worker.rebuild()

    assert status.generation == 2
    assert _marker(views, 2) == posting.last_position
    assert _analyzed(views, "lv2_findings") and _analyzed(views, "lv2_projects")
