"""The demo ledger: every injected earmarking fault shows up with its evidence, and nothing else does."""

from __future__ import annotations

from api.demo import expected_findings, load_demo
from ledger.application import LedgerApplication
from projections.database import SQLiteDatabase
from projections.queries import AuditQueries
from projections.worker import ProjectionWorker


def test_every_injected_violation_in_the_demo_appears_with_evidence_and_nothing_else_does() -> None:
    app = LedgerApplication(env={})
    load_demo(app, stations=6)
    worker = ProjectionWorker(app, SQLiteDatabase(""))
    worker.catch_up()
    codes = {str(p["project_id"]): p["code"] for p in _projects(worker)}
    findings = AuditQueries(worker.store).list_findings(limit=10_000)
    assert {(f["rule"], codes[f["project_id"]]) for f in findings} == expected_findings(stations=6)
    for finding in findings:
        assert finding["evidence"], finding
        for ref in finding["evidence"]:
            aggregate, _, version = ref["event_id"].partition(":")
            assert ref["position"] <= worker.position() and int(version) >= 1 and aggregate
    worker.db.close()


def _projects(worker: ProjectionWorker) -> list[dict]:
    with worker.db.transaction(write=False) as cursor:
        table = worker.store.table("projects", worker.store.generation(cursor))
        cursor.execute(f"SELECT project_id, code FROM {table}")
        return cursor.fetchall()
