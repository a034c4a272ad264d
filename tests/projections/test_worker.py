"""The projection worker on SQLite and PostgreSQL: findings, retractions, decisions, rebuilds, crashes, status.

Most tests run on both stores (the ``app`` and ``app_env`` fixtures), with the views where ``database_from_env``
puts them: beside the SQLite file, or in the ledger's PostgreSQL schema. One compares the two stores, and one runs
the in-memory default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from projection_builders import (
    AUDITOR,
    JIANBEI,
    LATER,
    QINGYUAN,
    SUPPLIER,
    SUPPLIER_USCC,
    Officer,
    entry_positions,
    judged,
    live_content,
    normalised,
    post_scenario,
    rebuildable,
    view_rows,
)

from ledger.application import LedgerApplication
from projections.audit import AuditProjection
from projections.database import Database, SQLiteDatabase, database_from_env
from projections.queries import AuditQueries
from projections.store import ViewStore, cents
from projections.worker import ProjectionWorker, start_in_background

ROOT = Path(__file__).resolve().parents[2]


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way may swallow it."""


# -- findings appear, retract and take auditors' decisions -------------------------------------------------------------


def test_findings_appear_once_the_worker_has_caught_up(worker: ProjectionWorker, queries: AuditQueries,
                                                       posting: Officer) -> None:
    _, project = posting.funded_project()
    entry = posting.spend(project, "300.00", line="official_reception", payee_kind="supplier")
    assert queries.list_findings() == []

    worker.catch_up()

    found = {f["rule"]: f for f in queries.list_findings(project=str(project))}
    assert set(found) == {"EAR-01", "EAR-02", "EAR-07", "EAR-12"}  # nothing was disbursed before it was spent
    ear02 = found["EAR-02"]
    assert (ear02["status"], ear02["severity"], ear02["finding_key"]) == ("open", "S1", str(entry))
    assert (ear02["rule_version"], ear02["region_code"], ear02["subject_id"]) == (1, JIANBEI, str(project))
    assert [e["position"] for e in ear02["evidence"]] == [posting.last_position]
    assert ear02["evidence"][0]["type"] == "ExpenditureRecorded"


def test_a_reversal_retracts_the_findings_it_invalidates_and_they_stay_readable(
        worker: ProjectionWorker, queries: AuditQueries, posting: Officer) -> None:
    _, project = posting.funded_project()
    posting.spend(project, "100.00", line="activities", payee="某街道办事处", payee_kind="government_unit",
                  on=date(2023, 9, 1))
    prohibited = posting.spend(project, "300.00", line="official_reception", payee_kind="supplier", on=LATER)
    worker.catch_up()
    invalidated = {f["finding_id"] for f in queries.list_findings() if f["finding_key"] == str(prohibited)}
    assert len(invalidated) == 3  # EAR-01, EAR-02, EAR-07

    posting.reverse(project, prohibited, on=date(2023, 7, 1))
    worker.catch_up()

    for finding_id in invalidated:
        finding = queries.get_finding(finding_id)
        assert finding is not None and finding["status"] == "retracted"
        assert finding["retracted_position"] == posting.last_position
        assert finding["retracted_on"] == "2023-07-01"  # the reversal's business date
        assert finding["evidence"][0]["type"] == "ExpenditureRecorded"
    # The payment to a government unit remains, and is still spent before the contract and before any disbursement.
    assert {f["rule"] for f in queries.list_findings()} == {"EAR-06", "EAR-07", "EAR-12"}
    assert {f["finding_id"] for f in queries.list_findings(status="retracted")} == invalidated


def test_reversing_the_original_invoice_retracts_the_duplicate_finding_in_another_project(
        worker: ProjectionWorker, queries: AuditQueries, posting: Officer) -> None:
    _, first = posting.funded_project()
    _, second = posting.funded_project(township=QINGYUAN)
    invoice: dict[str, Any] = {"line": "activities", "payee": SUPPLIER, "payee_kind": "supplier",
                               "payee_uscc": SUPPLIER_USCC, "invoice_no": "13000231234567"}
    original = posting.spend(first, "500.00", on=date(2023, 6, 1), **invoice)
    posting.spend(second, "500.00", on=date(2023, 6, 2), **invoice)
    worker.catch_up()
    [duplicate] = queries.list_findings(rule="EAR-09")
    assert duplicate["project_id"] == str(second)

    posting.reverse(first, original, on=date(2023, 6, 20))
    worker.catch_up()

    assert queries.list_findings(rule="EAR-09") == []
    retracted = queries.get_finding(duplicate["finding_id"])
    assert retracted is not None and retracted["status"] == "retracted"
    assert (retracted["retracted_position"], retracted["retracted_on"]) == (posting.last_position, "2023-06-20")


def test_an_auditors_decisions_set_the_status_of_a_finding_and_are_kept_as_its_history(
        worker: ProjectionWorker, queries: AuditQueries, posting: Officer) -> None:
    _, project = posting.funded_project()
    posting.spend(project, "10000.01", line="training")
    worker.catch_up()
    [finding] = queries.list_findings(rule="EAR-03")
    assert finding["status"] == "open"

    posting.decide(finding, "acknowledge")
    worker.catch_up()
    assert queries.list_findings(rule="EAR-03")[0]["status"] == "acknowledged"

    posting.decide(finding, "start_rectification")
    posting.decide(finding, "dismiss", note="预算调整批复已补办")
    worker.catch_up()

    decided = queries.get_finding(finding["finding_id"])
    assert decided is not None and decided["status"] == "dismissed"
    assert [(d["decision"], d["actor"]) for d in decided["decisions"]] == [
        ("acknowledge", AUDITOR.name), ("start_rectification", AUDITOR.name), ("dismiss", AUDITOR.name)]
    assert decided["decisions"][-1]["note"] == "预算调整批复已补办"
    assert [f["finding_id"] for f in queries.list_findings(status="dismissed")] == [finding["finding_id"]]
    assert queries.list_findings(rule="EAR-03", status="open") == []


def test_the_live_findings_are_exactly_what_the_rules_make_of_the_whole_log(app: LedgerApplication,
                                                                            worker: ProjectionWorker,
                                                                            views: Database,
                                                                            posting: Officer) -> None:
    post_scenario(posting, after_each=worker.catch_up)

    rows = view_rows(views)

    assert live_content(rows) == judged(app)
    ear = {f"EAR-{n:02d}" for n in range(1, 14)}
    assert {f["rule"] for f in live_content(rows).values()} & ear == ear - {"EAR-03", "EAR-09"}  # both reversed
    assert {(r["rule"], r["retracted_on"]) for r in rows["findings"] if r["retracted_position"] is not None} >= {
        ("EAR-03", "2023-07-01"), ("EAR-09", "2023-07-01")}


# -- rebuild -----------------------------------------------------------------------------------------------------------


def test_a_rebuild_from_zero_gives_the_same_rows_as_incremental_processing(app: LedgerApplication,
                                                                          worker: ProjectionWorker,
                                                                          views: Database,
                                                                          posting: Officer) -> None:
    """Compared: every row of funds, projects, lines, state, invoices, decisions and tracking, and every live
    finding without its bookkeeping columns (the end positions of the batches in which the worker first saw,
    last changed or retracted it, which depend on how the log was cut into batches).

    Retracted findings may legitimately differ: a finding that appeared and vanished inside one rebuild batch
    never gets a row. Here the incremental worker took one event at a time, so what the rebuild retracted, it
    retracted too (with random batch sizes on both sides even that need not hold: see test_rebuild_property).
    """
    worker.batch_size = 1
    post_scenario(posting, after_each=worker.catch_up)
    incremental = view_rows(views)

    worker.batch_size = 500
    status = worker.rebuild()

    rebuilt = view_rows(views)
    assert status.generation == 2 and status.position == status.head == posting.last_position
    assert rebuildable(rebuilt) == rebuildable(incremental)
    assert {r["finding_id"] for r in rebuilt["findings"] if r["retracted_position"] is not None} <= {
        r["finding_id"] for r in incremental["findings"] if r["retracted_position"] is not None}
    assert live_content(rebuilt) == judged(app)


def test_a_rebuild_reads_the_log_in_its_own_larger_batches(app: LedgerApplication, views: Database,
                                                          posting: Officer) -> None:
    post_scenario(posting)
    worker = ProjectionWorker(app, views, batch_size=2)
    batches: list[int] = []

    worker.rebuild(lambda position, head: batches.append(position))

    assert batches == [posting.last_position]  # one transaction for this whole log, not one per two events
    assert worker.position() == posting.last_position


def test_reads_keep_using_the_old_views_until_a_rebuild_swaps_the_new_ones_in(worker: ProjectionWorker,
                                                                             queries: AuditQueries,
                                                                             posting: Officer) -> None:
    post_scenario(posting)
    worker.catch_up()
    before = queries.list_findings(limit=1000)
    reads_during_rebuild: list[bool] = []

    worker.batch_size = worker.rebuild_batch_size = 5
    worker.rebuild(lambda position, head: reads_during_rebuild.append(queries.list_findings(limit=1000) == before))

    assert len(reads_during_rebuild) > 3 and all(reads_during_rebuild)
    assert worker.status().generation == 2
    assert {f["finding_id"] for f in queries.list_findings(limit=1000)} == {f["finding_id"] for f in before}


# -- a worker killed in the middle of a batch --------------------------------------------------------------------------


def _die_after_the_batch_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    real = AuditProjection.process

    def process(self: AuditProjection, cursor: Any, generation: int, notifications: Any) -> int:
        real(self, cursor, generation, notifications)  # every row and the tracking position are written...
        raise Killed  # ...and the process dies before the commit

    monkeypatch.setattr(AuditProjection, "process", process)


def _die_halfway_through_the_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ViewStore.upsert

    def upsert(self: ViewStore, cursor: Any, generation: int, name: str, rows: Any, key: Any) -> None:
        real(self, cursor, generation, name, rows, key)
        if name == "lines":  # funds, projects and lines are written; findings and tracking are not
            raise Killed

    monkeypatch.setattr(ViewStore, "upsert", upsert)


def _die_writing_the_position(monkeypatch: pytest.MonkeyPatch) -> None:
    def set_position(self: ViewStore, *args: Any, **kwargs: Any) -> None:
        raise Killed

    monkeypatch.setattr(ViewStore, "set_position", set_position)


@pytest.mark.parametrize("kill", [_die_after_the_batch_is_written, _die_halfway_through_the_rows,
                                  _die_writing_the_position], ids=["after_writing", "halfway", "at_tracking"])
def test_a_worker_killed_in_the_middle_of_a_batch_leaves_nothing_half_written_and_a_fresh_one_resumes(
        app: LedgerApplication, app_env: dict[str, str], views: Database, other_views: Callable[[], Database],
        posting: Officer, monkeypatch: pytest.MonkeyPatch, kill: Callable[[pytest.MonkeyPatch], None]) -> None:
    post_scenario(posting)
    clean = ProjectionWorker(app, other_views(), batch_size=7)
    clean.catch_up()
    worker = ProjectionWorker(app, views, batch_size=7)
    assert worker.run_once() + worker.run_once() == 14
    committed = view_rows(views)

    kill(monkeypatch)
    with pytest.raises(Killed):
        worker.run_once()
    monkeypatch.undo()

    assert view_rows(views) == committed
    assert worker.position() == 14
    fresh_db = database_from_env(app_env)
    try:
        fresh = ProjectionWorker(app, fresh_db, batch_size=7)
        assert fresh.catch_up() == posting.last_position - 14
        assert view_rows(fresh_db) == view_rows(clean.db)
    finally:
        fresh_db.close()
    _assert_every_event_counted_once(app, views)


KILLED_WORKER = """
import json, os, sys
from ledger.application import LedgerApplication
from projections.audit import AuditProjection
from projections.database import database_from_env
from projections.worker import ProjectionWorker

env = json.loads(sys.argv[1])
worker = ProjectionWorker(LedgerApplication(env=env), database_from_env(env), batch_size=int(sys.argv[2]))
worker.run_once()
real = AuditProjection.process

def process(self, cursor, generation, notifications):
    real(self, cursor, generation, notifications)
    os._exit(9)  # killed with the second batch written and not committed

AuditProjection.process = process
worker.run_once()
"""


def test_a_worker_process_killed_before_its_commit_loses_only_that_batch(app: LedgerApplication,
                                                                         app_env: dict[str, str],
                                                                         views: Database,
                                                                         other_views: Callable[[], Database],
                                                                         posting: Officer) -> None:
    post_scenario(posting)

    died = subprocess.run([sys.executable, "-c", KILLED_WORKER, json.dumps(app_env), "9"], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=120, text=True)

    assert died.returncode == 9, died.stderr
    worker = ProjectionWorker(app, views, batch_size=9)
    assert worker.position() == 9
    worker.catch_up()
    clean = ProjectionWorker(app, other_views(), batch_size=9)
    clean.catch_up()
    assert view_rows(views) == view_rows(clean.db)
    _assert_every_event_counted_once(app, views)


def _assert_every_event_counted_once(app: LedgerApplication, views: Database) -> None:
    """The views' money figures equal the write side's own, so no event was applied twice or skipped."""
    rows = view_rows(views)
    assert rows["tracking"] == [{"view": "audit", "position": app.recorder.max_notification_id()}]
    for project in rows["projects"]:
        truth = app.get_project(UUID(project["project_id"]))
        assert project["spent"] == cents(truth["spent_total"])
        assert project["disbursed"] == cents(truth["disbursed_total"])
        assert project["received"] - project["returned"] == cents(truth["received_total"])
    for fund in rows["funds"]:
        assert fund["available"] == cents(app.get_fund(UUID(fund["fund_id"]))["available"])


# -- the same findings on both stores ----------------------------------------------------------------------------------


def _scenario_on(env: dict[str, str]) -> dict[str, Any]:
    app = LedgerApplication(env=env)
    db = database_from_env(env)
    try:
        worker = ProjectionWorker(app, db, batch_size=4)
        post_scenario(Officer(app), after_each=worker.run_once)
        worker.catch_up()
        rows = view_rows(db)
        positions = entry_positions(app)
        return {
            "findings": normalised(rows["findings"], positions),
            "bookkeeping": sorted((f["rule"], f["first_position"], f["updated_position"], f["retracted_position"],
                                   f["retracted_on"]) for f in rows["findings"]),
            "money": {name: rows[name] for name in ("funds", "projects", "lines", "tracking")},
            "decisions": sorted((d["position"], d["decision"], d["note"], d["actor"], d["effective_on"])
                                for d in rows["decisions"]),
        }
    finally:
        db.close()
        app.close()


def test_findings_are_identical_on_sqlite_and_postgresql(tmp_path: Path,
                                                         postgres_env_for: Callable[[str], dict[str, str]]) -> None:
    on_sqlite = _scenario_on({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                              "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite")})
    on_postgres = _scenario_on(postgres_env_for(f"same_{uuid4().hex[:16]}"))

    assert len(on_sqlite["findings"]) > 15
    assert on_postgres == on_sqlite


# -- status and read-your-writes ---------------------------------------------------------------------------------------


def test_status_reports_the_position_the_head_and_the_lag(worker: ProjectionWorker, posting: Officer) -> None:
    posting.funded_project()
    head = posting.last_position

    behind = worker.status()
    assert (behind.generation, behind.position, behind.head, behind.lag_events) == (1, 0, head, head)
    assert 0 <= behind.lag_seconds < 60

    worker.catch_up()

    assert worker.status().as_dict() == {"view": "audit", "generation": 1, "position": head, "head": head,
                                         "lag_events": 0, "lag_seconds": 0.0}


def test_wait_for_returns_true_once_the_views_have_applied_a_position_and_false_on_timeout(
        worker: ProjectionWorker, posting: Officer) -> None:
    posting.funded_project()
    position = posting.last_position
    assert worker.wait_for(position, timeout=0.05) is False

    with _background(worker):
        assert worker.wait_for(position, timeout=10) is True

    assert worker.position() == position
    assert worker.wait_for(position, timeout=0) is True


class _background:
    def __init__(self, worker: ProjectionWorker) -> None:
        self.worker = worker

    def __enter__(self) -> None:
        self.thread, self.stop = start_in_background(self.worker, poll_interval=0.01)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def test_a_background_worker_follows_postings_as_they_are_made(worker: ProjectionWorker, queries: AuditQueries,
                                                              posting: Officer) -> None:
    with _background(worker):
        _, project = posting.funded_project()
        for day in range(1, 6):
            posting.spend(project, "100.00", line="official_reception", payee_kind="supplier",
                          on=date(2023, 6, day))
        assert worker.wait_for(posting.last_position, timeout=10)

    assert len(queries.list_findings(rule="EAR-02")) == 5


def test_in_memory_views_serve_readers_while_a_background_worker_writes(memory_app: LedgerApplication,
                                                                       officer: Officer,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """The embedded default without a data directory: views in a shared in-memory SQLite database."""
    db = SQLiteDatabase("")
    worker = ProjectionWorker(memory_app, db, batch_size=1)
    queries = AuditQueries(worker.store)
    try:
        with _background(worker):
            _, project = officer.funded_project()
            for _ in range(60):
                officer.spend(project, "1.00", line="official_reception", payee_kind="supplier")
                queries.list_findings(limit=5)
                worker.status()
            assert worker.wait_for(officer.last_position, timeout=20)
        assert len(queries.list_findings(rule="EAR-02", limit=1000)) == 60
    finally:
        db.close()
    assert "projection batch failed" not in caplog.text
