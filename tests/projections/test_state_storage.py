"""How the projection keeps its fold between batches: a state row per fund or project with its long lists (entries,
allocations) as one row per item, written only where they changed, and a per-process cache of decoded states that
is trusted only while this process is the only writer. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from projection_builders import LATER, Officer, post_scenario, rebuildable, view_rows

from ledger.application import LedgerApplication
from projections.audit import StateCache
from projections.database import Database
from projections.store import ITEMS, ViewStore, decode, encode
from projections.worker import ProjectionWorker


def _items(views: Database, kind: str, ident: str) -> list[tuple[str, int, str]]:
    store = ViewStore(views)
    with views.transaction(write=False) as cursor:
        table = store.table("state_items", store.generation(cursor))
        cursor.execute(f"SELECT list, seq, body FROM {table} WHERE kind = ? AND id = ? ORDER BY list, seq",
                       (kind, ident))
        return [(r["list"], r["seq"], r["body"]) for r in cursor.fetchall()]


def test_a_projects_entries_are_stored_one_row_each_and_a_batch_rewrites_only_what_it_changed(
        app: LedgerApplication, views: Database, posting: Officer) -> None:
    fund, project = posting.funded_project()
    first = posting.spend(project, "100.00", line="activities")
    posting.spend(project, "200.00", line="activities")
    worker = ProjectionWorker(app, views)
    worker.catch_up()
    before = _items(views, "project", str(project))
    assert [seq for _, seq, _ in before] == [0, 1]

    posting.reverse(project, first, on=LATER)  # changes entry 0 in place and adds entry 2
    worker.catch_up()

    after = _items(views, "project", str(project))
    assert [seq for _, seq, _ in after] == [0, 1, 2]
    assert after[1] == before[1]
    assert decode(after[0][2])["reversed_by"] == decode(after[2][2])["entry_id"]
    state = worker.store
    with views.transaction(write=False) as cursor:
        record = state.load_state(cursor, state.generation(cursor), "project", str(project))
    assert record is not None and ITEMS not in record
    assert [e["kind"] for e in record["entries"]] == ["expenditure", "expenditure", "reversal"]
    assert _items(views, "fund", str(fund))  # a fund's allocations are items too


def test_a_state_row_written_with_its_lists_inside_is_still_read_and_is_split_when_next_written(
        app: LedgerApplication, views: Database, posting: Officer) -> None:
    _, project = posting.funded_project()
    posting.spend(project, "100.00", line="activities")
    worker = ProjectionWorker(app, views)
    worker.catch_up()
    store = worker.store
    with views.transaction() as cursor:  # the row as it was stored before lists were split out
        generation = store.generation(cursor)
        record = store.load_state(cursor, generation, "project", str(project))
        assert record is not None
        cursor.execute(f"DELETE FROM {store.table('state_items', generation)} WHERE kind = 'project' AND id = ?",
                       (str(project),))
        cursor.execute(f"UPDATE {store.table('state', generation)} SET body = ? WHERE kind = 'project' AND id = ?",
                       (encode(record), str(project)))
    expected = view_rows(views)

    fresh = ProjectionWorker(app, views)  # nothing cached: reads the old row
    with views.transaction(write=False) as cursor:
        assert store.load_state(cursor, store.generation(cursor), "project", str(project)) == record
    posting.spend(project, "50.00", line="activities")
    fresh.catch_up()

    assert [seq for _, seq, _ in _items(views, "project", str(project))] == [0, 1]
    with views.transaction(write=False) as cursor:
        now = store.load_state(cursor, store.generation(cursor), "project", str(project))
    assert now is not None and now["entries"][0] == record["entries"][0] and len(now["entries"]) == 2
    assert expected["projects"] != view_rows(views)["projects"]  # the new posting was applied


def test_two_workers_taking_turns_never_trust_a_cache_the_other_made_stale(
        app: LedgerApplication, views: Database, other_views: Callable[[], Database], posting: Officer) -> None:
    """Each worker caches what it read and wrote; when the other applied a batch in between (the tracking position
    is not the one it committed last), it reads the states again instead of working on stale ones."""
    one, two = ProjectionWorker(app, views, batch_size=3), ProjectionWorker(app, views, batch_size=2)
    turns = iter([one, one, two] * 1000)  # one sometimes follows itself, sometimes the other
    post_scenario(posting, after_each=lambda: next(turns).run_once())
    while one.run_once() + two.run_once():
        pass
    assert one.projection.cache.hits > 0  # it did use its cache when nobody else had written

    clean = ProjectionWorker(app, other_views(), batch_size=500)
    clean.catch_up()
    assert rebuildable(view_rows(views)) == rebuildable(view_rows(clean.db))


def test_a_batch_that_did_not_commit_leaves_nothing_of_itself_in_the_cache(
        app: LedgerApplication, views: Database, other_views: Callable[[], Database], posting: Officer) -> None:
    _, project = posting.funded_project()
    posting.spend(project, "100.00", line="activities")
    worker = ProjectionWorker(app, views)
    worker.catch_up()
    posting.spend(project, "300.00", line="official_reception", payee_kind="supplier")

    class Failed(Exception):
        pass

    try:
        with views.transaction() as cursor:  # the batch is applied (and cached), then its transaction fails
            generation = worker.store.lock_generation(cursor)
            notifications = worker._select(worker.store.position(cursor, generation), 500)
            worker.projection.process(cursor, generation, notifications)
            raise Failed
    except Failed:
        pass
    worker.catch_up()  # the same batch again, on the states as committed

    clean = ProjectionWorker(app, other_views())
    clean.catch_up()
    assert rebuildable(view_rows(views)) == rebuildable(view_rows(clean.db))


def test_a_batch_that_failed_half_way_leaves_nothing_of_itself_in_the_cache(
        app: LedgerApplication, views: Database, other_views: Callable[[], Database], posting: Officer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch has already changed the cached states in place when it fails: they must be read again."""
    _, project = posting.funded_project()
    posting.spend(project, "100.00", line="activities")
    worker = ProjectionWorker(app, views)
    worker.catch_up()
    posting.spend(project, "300.00", line="official_reception", payee_kind="supplier")
    judge = worker.projection.engine.project_findings

    def failing(*args: object, **kwargs: object) -> object:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(worker.projection.engine, "project_findings", failing)
    with pytest.raises(ConnectionError):
        worker.run_once()
    monkeypatch.setattr(worker.projection.engine, "project_findings", judge)
    worker.catch_up()

    clean = ProjectionWorker(app, other_views())
    clean.catch_up()
    assert rebuildable(view_rows(views)) == rebuildable(view_rows(clean.db))


def test_the_cache_keeps_at_most_its_item_budget_dropping_the_least_recently_used() -> None:
    cache = StateCache(max_items=10)
    cache.put(("project", "a"), {"entries": [1] * 4}, {"entries": 4})  # 5 items: the state and its 4 entries
    cache.put(("project", "b"), {"entries": [1] * 3}, {"entries": 3})
    assert cache.get(("project", "a")) is not None
    cache.put(("fund", "c"), {"allocations": [1]}, {"allocations": 1})  # 2 more: "b" goes, "a" was just used

    assert cache.get(("project", "b")) is None
    assert cache.get(("project", "a")) is not None and cache.get(("fund", "c")) is not None
    assert len(cache) == 2
