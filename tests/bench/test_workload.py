"""The benchmark workload: the same seed gives the same ledger, the fast loader writes what the use cases write, and
the audit finds the violations and lags injected into it, family by family, and nothing on the clean stations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from ledger.application import LedgerApplication
from projections.database import SQLiteDatabase
from projections.queries import AuditQueries, ProgressQueries
from projections.worker import ProjectionWorker
from scripts.workload import INJECTIONS, Workload, events_of, load_direct, load_use_cases, province_year
from scripts.workload.http import request_of

TOWNSHIPS = 12  # one injected fault per family at this scale, the rest clean
PERIOD_END = date(2024, 3, 31)  # the stations' year ends; every injected lag is visible by then


@pytest.fixture
def ledger() -> Iterator[LedgerApplication]:
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        yield app
    finally:
        app.close()


def _requests(workload: Workload) -> list[dict[str, Any]]:
    return [request_of(p) for p in workload.postings()]


def _streams(app: LedgerApplication) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Each aggregate's events in order, named by what identifies it in any load (a procurement by its project),
    with the ids the library or the loader chose (entries, allocations, procurements) numbered by first use."""
    by_originator: dict[UUID, list[Any]] = {}
    for event in events_of(app):
        by_originator.setdefault(event.originator_id, []).append(event)
    deterministic = set(by_originator) - {i for i, events in by_originator.items()
                                          if type(events[0]).__qualname__ == "Procurement.Opened"}
    streams = {}
    for originator, events in by_originator.items():
        plain = _relabeller(deterministic)
        name = str(originator) if originator in deterministic else f"procurement of {events[0].project_id}"
        streams[name] = [(type(e).__qualname__, plain({k: v for k, v in e.__dict__.items()
                                          if k not in ("originator_id", "timestamp")})) for e in events]
    return streams


def _relabeller(kept: set[UUID]) -> Any:
    """Replaces every UUID not in ``kept`` by its number of first appearance (within one stream)."""
    labels: dict[UUID, str] = {}

    def plain(value: Any) -> Any:
        if isinstance(value, UUID) and value not in kept:
            return labels.setdefault(value, f"id-{len(labels)}")
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return plain


def test_the_same_seed_gives_the_same_postings_and_another_seed_other_ones() -> None:
    first, again = province_year(townships=TOWNSHIPS, seed=7), province_year(townships=TOWNSHIPS, seed=7)
    other = province_year(townships=TOWNSHIPS, seed=8)

    assert _requests(first) == _requests(again)
    assert first.injected == again.injected
    assert _requests(first) != _requests(other)
    assert len({r["key"] for r in _requests(first)}) == len(_requests(first))  # every posting its own key


def test_the_direct_loader_writes_the_events_the_use_cases_write(ledger: LedgerApplication) -> None:
    workload = province_year(townships=3, seed=11)
    load_direct(ledger, workload, batch_events=500)
    through_use_cases = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        load_use_cases(through_use_cases, workload)
        expected = _streams(through_use_cases)
    finally:
        through_use_cases.close()

    assert _streams(ledger) == expected


def test_the_audit_finds_every_injected_family_and_nothing_on_the_clean_stations(ledger: LedgerApplication) -> None:
    workload = province_year(townships=TOWNSHIPS, seed=2023)
    summary = load_direct(ledger, workload, batch_events=1000)
    worker = ProjectionWorker(ledger, SQLiteDatabase(""), batch_size=500)
    worker.catch_up()
    queries = AuditQueries(worker.store)
    codes = {str(ledger.find_project_id(code)): code for code in workload.projects}

    findings = [(f["rule"], f["project_id"]) for f in queries.list_findings(limit=100_000)]
    findings += [(f["rule"], f["project_id"]) for f in ProgressQueries(queries).lag_findings(on=PERIOD_END)]
    by_family = Counter(rule[:3] for rule, _ in findings)

    assert summary["events"] > 250 * TOWNSHIPS
    assert set(workload.counts_by_family()) == set(INJECTIONS)
    assert all(by_family[family] > 0 for family in INJECTIONS), by_family
    assert {codes[project] for _, project in findings} == set(workload.injected)
