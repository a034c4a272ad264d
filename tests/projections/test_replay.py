"""Auditors' replay: the views replayed as of a log position equal the live views when they stood there."""

from __future__ import annotations

from decimal import Decimal

from projection_builders import Officer

from ledger.application import LedgerApplication
from projections.database import SQLiteDatabase
from projections.queries import AuditQueries
from projections.replay import replay
from projections.worker import ProjectionWorker

FIELDS = ("finding_id", "rule", "severity", "detail", "effective_on", "evidence", "status")


def _snapshot(queries: AuditQueries, project: str) -> tuple[list[tuple], dict, dict | None]:
    findings = sorted(tuple(str(f[k]) for k in FIELDS) for f in queries.list_findings(limit=10_000))
    return findings, queries.region_rollup("130000"), queries.project_ledger(project)


def test_replay_as_of_a_position_equals_the_live_views_when_they_stood_there(officer: Officer,
                                                                             memory_app: LedgerApplication) -> None:
    worker = ProjectionWorker(memory_app, SQLiteDatabase(""), batch_size=1)
    _fund, project = officer.funded_project()
    officer.spend(project, "800.00", line="buildings")
    worker.catch_up()
    position = worker.position()
    live_then = _snapshot(AuditQueries(worker.store), str(project))
    entry = officer.spend(project, "300.00", line="official_reception")
    officer.reverse(project, entry)
    officer.spend(project, "50.00")
    worker.catch_up()
    assert _snapshot(AuditQueries(worker.store), str(project)) != live_then

    replayed, reached = replay(memory_app, as_of_position=position)
    assert reached == position
    assert _snapshot(replayed, str(project)) == live_then
    assert replayed.project_ledger(str(project))["spent"] == Decimal("800.00")
    worker.db.close()


def test_replay_as_of_a_recorded_instant_leaves_out_what_was_recorded_later(officer: Officer,
                                                                            memory_app: LedgerApplication) -> None:
    _fund, project = officer.funded_project()
    officer.spend(project, "800.00", line="buildings")
    instant = memory_app.get_history(project)[-1]["recorded_at"]
    officer.spend(project, "300.00", line="investment")
    replayed, _ = replay(memory_app, as_of=instant)
    assert [f["rule"] for f in replayed.list_findings() if f["rule"] == "EAR-02"] == ["EAR-02"]
    now, _ = replay(memory_app)
    assert len([f for f in now.list_findings() if f["rule"] == "EAR-02"]) == 2
