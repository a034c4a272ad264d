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


def test_each_injected_lag_in_the_demo_appears_on_its_first_day_and_not_before() -> None:
    from datetime import date, timedelta

    from api.demo import expected_lags
    from projections.queries import ProgressQueries

    app = LedgerApplication(env={})
    load_demo(app, stations=6)
    worker = ProjectionWorker(app, SQLiteDatabase(""))
    worker.catch_up()
    codes = {p["code"]: str(p["project_id"]) for p in _projects(worker)}
    progress = ProgressQueries(AuditQueries(worker.store))

    def found(rule: str, key: str | None, project: str, on: date) -> list[dict]:
        return [f for f in progress.lag_findings(on=on, project=project, rules={rule})
                if key is None or f["finding_key"] == key]

    for rule, key, code, first_day in expected_lags(stations=6):
        assert found(rule, key, codes[code], first_day - timedelta(days=1)) == [], (rule, code)
        [finding] = found(rule, key, codes[code], first_day)
        assert finding["first_seen"] == first_day and finding["evaluated_on"] == first_day
        assert found(rule, key, codes[code], first_day + timedelta(days=30)), (rule, code, "should persist")

    injected = {code for _, _, code, _ in expected_lags(stations=6)}
    for on in (date(2024, 4, 30), date(2024, 9, 30), date(2024, 12, 31), date(2025, 3, 31), date(2025, 8, 1)):
        clean = [f for f in progress.lag_findings(on=on) if f["project_id"] and f["project_id"] not in
                 {codes[c] for c in injected}]
        assert clean == [], [(f["rule"], f["detail"]) for f in clean]
    worker.db.close()


def test_the_progress_of_a_demo_station_can_be_read_for_any_date() -> None:
    from datetime import date

    from projections.queries import ProgressQueries

    app = LedgerApplication(env={})
    load_demo(app, stations=1)
    worker = ProjectionWorker(app, SQLiteDatabase(""))
    worker.catch_up()
    progress = ProgressQueries(AuditQueries(worker.store))
    project = str(_projects(worker)[0]["project_id"])
    [early] = progress.progress(on=date(2024, 5, 31), project=project)
    [later] = progress.progress(on=date(2024, 12, 31), project=project)
    assert early["spent"] == 40000 and later["spent"] > early["spent"]
    assert [m["month"] for m in early["months"]] == ["2024-04", "2024-05"]
    assert early["months"][-1]["planned_cumulative"] == early["months"][-1]["spent_cumulative"] == 40000
    assert later["time_progress"] > early["time_progress"]
    worker.db.close()
