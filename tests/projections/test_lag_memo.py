"""The findings judged on an evaluation date are memoised per object and date: a memoised answer is the one a fresh
judgement gives, a new event makes the memo of what it changed stale, the worker memoises the current business date
and moves on with it, and other rule parameters are never answered from memos judged with the old ones."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from projection_builders import Officer

from projections.engine import RuleEngine, funds_of
from projections.lag_memo import LagMemos
from projections.procurement_state import from_record as procurement_from_record
from projections.progress import fund_lags, procurement_deadlines, project_lags
from projections.queries import AuditQueries, ProgressQueries
from projections.rules.params import RuleParameters
from projections.state import FundState, ProjectState, from_record
from projections.worker import ProjectionWorker

ON = date(2023, 8, 15)


def _scenario(posting: Officer) -> tuple[UUID, UUID]:
    """A funded project with a contract (PRC-02 and deadline findings), spending, and monthly reports missing."""
    fund, project = posting.funded_project()
    posting.contract(project)
    posting.disburse(project, fund, "90000.00", installment=1)
    posting.spend(project, "1000.00", line="staff")
    posting.report(project, "2023-04", on=date(2023, 5, 5), cases=3)
    _, other = posting.funded_project(received="5000.00")
    return project, other


def _memo_rows(worker: ProjectionWorker, on: date | None = None) -> list[dict[str, Any]]:
    store = worker.store
    with store.db.transaction(write=False) as cursor:
        table = store.table("lag_memo", store.generation(cursor))
        if on is None:
            cursor.execute(f"SELECT * FROM {table}")
        else:
            cursor.execute(f"SELECT * FROM {table} WHERE on_date = ?", (on.isoformat(),))
        return cursor.fetchall()


def _fresh(queries: AuditQueries, on: date) -> list[dict[str, Any]]:
    """Every date-judged finding, judged now from the stored states without any memo."""
    store, engine = queries.store, queries.engine
    with store.db.transaction(write=False) as cursor:
        generation = store.generation(cursor)
        cursor.execute(f"SELECT kind, id FROM {store.table('state', generation)} ORDER BY id")
        ids = cursor.fetchall()

        def load(kind: str, ident: str) -> Any:
            return store.load_state(cursor, generation, kind, ident)

        def fund(ident: str) -> FundState | None:
            record = load("fund", ident)
            return None if record is None else from_record(FundState, record)

        found, deadlines = [], []
        for row in (r for r in ids if r["kind"] == "project"):
            project = from_record(ProjectState, load("project", row["id"]))
            found += project_lags(engine, project, funds_of(project, fund), on)
            index = load("project_procurements", row["id"]) or {"ids": []}
            for pid in index["ids"]:
                deadlines += [(pid, f) for f in procurement_deadlines(engine, procurement_from_record(
                    load("procurement", pid)), on)]
        for row in (r for r in ids if r["kind"] == "fund"):
            state = fund(row["id"])
            if state is not None and state.appropriated_on <= on:
                found += fund_lags(engine, state, on)
    return found + [f for _, f in sorted(deadlines, key=lambda d: d[0])]


def _key(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((r["finding_id"], r["rule"], r["severity"], r["detail"], r["effective_on"], r["first_seen"],
                   r["evaluated_on"], repr(r["params"]), repr(r["evidence"])) for r in rows)


def test_a_memoised_answer_equals_a_fresh_judgement(worker: ProjectionWorker, queries: AuditQueries,
                                                    posting: Officer) -> None:
    _scenario(posting)
    worker.catch_up()
    progress = ProgressQueries(queries)
    fresh = _fresh(queries, ON)
    assert {f["rule"] for f in fresh} >= {"LAG-08"}  # the scenario has something to memoise

    judged = progress.lag_findings(on=ON)  # nothing memoised for ON yet: judged now, and stored
    assert len(_memo_rows(worker, ON)) == 4  # two projects, two funds
    memoised = progress.lag_findings(on=ON)

    assert _key(judged) == _key(fresh)
    assert memoised == judged
    assert [r["finding_id"] for r in memoised] == [r["finding_id"] for r in fresh]  # the same order
    assert progress.lag_findings(on=ON, rules={"LAG-08"}) == [f for f in memoised if f["rule"] == "LAG-08"]


def test_the_memo_counts_match_the_progress_of_every_project(worker: ProjectionWorker, queries: AuditQueries,
                                                             posting: Officer) -> None:
    _scenario(posting)
    worker.catch_up()
    progress = ProgressQueries(queries)
    for _ in range(2):  # judged, then memoised
        rows = progress.progress(on=ON)
        assert progress.progress_summary(on=ON) == {
            "projects": len(rows), "behind_time_progress": sum(r["spending_progress"] < r["time_progress"]
                                                               for r in rows)}
    assert progress.progress_summary(on=ON)["behind_time_progress"] >= 1


def test_a_new_event_makes_a_stale_memo_be_judged_again(worker: ProjectionWorker, queries: AuditQueries,
                                                        posting: Officer) -> None:
    project, _ = _scenario(posting)
    worker.catch_up()
    progress = ProgressQueries(queries)
    before = progress.lag_findings(on=ON, project=str(project), rules={"LAG-08"})
    assert "2023-05" in {f["finding_key"] for f in before}
    assert progress.lag_findings(on=ON, project=str(project), rules={"LAG-08"}) == before  # from the memo

    posting.report(project, "2023-05", on=date(2023, 6, 5), cases=4)  # on time after all
    worker.catch_up()

    after = progress.lag_findings(on=ON, project=str(project), rules={"LAG-08"})
    assert {f["finding_key"] for f in after} == {f["finding_key"] for f in before} - {"2023-05"}
    assert _key(progress.lag_findings(on=ON)) == _key(_fresh(queries, ON))


def test_the_worker_memoises_the_business_date_and_follows_it_to_the_next_day(
        worker: ProjectionWorker, queries: AuditQueries, posting: Officer) -> None:
    _scenario(posting)
    worker.today = lambda: ON
    worker.catch_up()
    assert _memo_rows(worker) == []  # catching up judges nothing on its own
    while not worker.fill_memos():  # what the following worker does when idle
        pass
    assert {(r["kind"], r["on_date"]) for r in _memo_rows(worker)} == {("project", "2023-08-15"),
                                                                         ("fund", "2023-08-15")}
    assert len(_memo_rows(worker, ON)) == 4

    worker.today = lambda: date(2023, 8, 16)  # midnight in Asia/Shanghai
    assert worker.run_once() == 0
    while not worker.fill_memos():
        pass
    assert len(_memo_rows(worker, date(2023, 8, 16))) == 4
    progress = ProgressQueries(queries)
    assert _key(progress.lag_findings(on=date(2023, 8, 16))) == _key(_fresh(queries, date(2023, 8, 16)))


def test_memos_judged_with_other_rule_parameters_are_judged_again(worker: ProjectionWorker, queries: AuditQueries,
                                                                  posting: Officer) -> None:
    _scenario(posting)
    worker.catch_up()
    default = ProgressQueries(queries).lag_findings(on=ON, rules={"LAG-08"})
    stricter = RuleEngine(RuleParameters([{"rule": "LAG-08", "due_day": 40}]))
    other = ProgressQueries(AuditQueries(queries.store, stricter)).lag_findings(on=ON, rules={"LAG-08"})
    assert len(other) < len(default)  # a 40-day grace forgives the latest month
    assert ProgressQueries(queries).lag_findings(on=ON, rules={"LAG-08"}) == default


def test_a_read_at_the_same_views_position_is_answered_from_memory_and_a_new_position_reads_again(
        worker: ProjectionWorker, queries: AuditQueries, posting: Officer, monkeypatch: Any) -> None:
    project, _ = _scenario(posting)
    worker.catch_up()
    progress = ProgressQueries(queries)
    first = progress.lag_findings(on=ON)
    reads: list[tuple[Any, ...]] = []
    original = LagMemos.memos

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LagMemos, "memos", counted)
    first[0]["detail"] = "changed by a reader"  # what a reader does to its answer stays with it
    again = progress.lag_findings(on=ON)
    assert reads == [] and again[0]["detail"] != "changed by a reader"
    assert _key(again) == _key(_fresh(queries, ON))

    posting.report(project, "2023-05", on=date(2023, 6, 5), cases=4)
    worker.catch_up()
    after = progress.lag_findings(on=ON)
    assert reads  # the views moved on: read again
    assert _key(after) == _key(_fresh(queries, ON)) != _key(again)
