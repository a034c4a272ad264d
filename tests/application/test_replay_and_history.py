"""Auditors replay the ledger: an aggregate at any past version or recorded instant, and its full history."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import pairwise
from typing import Any
from uuid import UUID

import pytest
from builders import CHANGAN_OFFICER, HEBEI_OFFICER, LATER, Ledger, key

from ledger.application import LedgerApplication
from ledger.errors import InvalidDateError, NotFoundError, UnknownFundError, UnknownProjectError, ValidationError
from ledger.project import Project

SHANGHAI = timezone(timedelta(hours=8))


def _post_a_year(ledger: Ledger) -> tuple[UUID, UUID, list[dict[str, Any]]]:
    """A fund, a project and a few months of postings, a moment apart so their recorded times differ."""
    fund_id, project_id = ledger.funded_project(received="100000.00")
    results = []
    for step in (
        lambda: ledger.disburse(project_id, fund_id, "30000.00"),
        lambda: ledger.spend(project_id, "12000.00", line="staff"),
        lambda: ledger.allocate_to_project(fund_id, project_id, "50000.00"),
        lambda: ledger.spend(project_id, "3000.00", line="activities"),
        lambda: ledger.disburse(project_id, fund_id, "20000.00"),
    ):
        time.sleep(0.002)
        results.append(step())
    time.sleep(0.002)
    results.append(ledger.reverse(project_id, results[1]["entry_id"]))
    return fund_id, project_id, results


def test_reads_a_project_and_a_fund_as_they_were_after_each_version(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project(received="100000.00")
    project_states, fund_states = [app.get_project(project_id)], [app.get_fund(fund_id)]
    for amount in ("10000.00", "20000.00", "30000.00"):
        ledger.disburse(project_id, fund_id, amount)
        ledger.allocate_to_project(fund_id, project_id, amount)
        project_states.append(app.get_project(project_id))
        fund_states.append(app.get_fund(fund_id))

    for state in project_states:
        assert app.get_project(project_id, version=state["version"]) == state
    for state in fund_states:
        assert app.get_fund(fund_id, version=state["version"]) == state
    first = app.get_project(project_id, version=2)
    assert (first["received_total"], first["disbursed_total"]) == (Decimal("100000.00"), Decimal("0.00"))


def test_refuses_a_version_the_aggregate_never_had(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id = ledger.funded_project()
    current = app.get_project(project_id)["version"]

    with pytest.raises(UnknownProjectError):
        app.get_project(project_id, version=current + 1)
    with pytest.raises(ValidationError):
        app.get_fund(fund_id, version=0)


def test_reads_state_as_recorded_at_an_instant_between_two_postings(app: LedgerApplication, ledger: Ledger) -> None:
    fund_id, project_id, _ = _post_a_year(ledger)
    history = app.get_history(project_id)

    for earlier, later in pairwise(history):
        assert earlier["recorded_at"] < later["recorded_at"]
        instant = earlier["recorded_at"] + (later["recorded_at"] - earlier["recorded_at"]) / 2
        assert app.get_project(project_id, as_of=instant) == app.get_project(project_id, version=earlier["version"])
        in_shanghai = instant.astimezone(SHANGHAI)
        assert app.get_project(project_id, as_of=in_shanghai)["version"] == earlier["version"]
    for row in app.get_history(fund_id):
        assert app.get_fund(fund_id, as_of=row["recorded_at"]) == app.get_fund(fund_id, version=row["version"])


def test_as_of_an_instant_before_the_aggregate_existed_there_is_nothing_to_read(app: LedgerApplication,
                                                                              ledger: Ledger) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    fund_id, project_id = ledger.funded_project()

    with pytest.raises(UnknownProjectError):
        app.get_project(project_id, as_of=before)
    with pytest.raises(UnknownFundError):
        app.get_fund(fund_id, as_of=before)


def test_refuses_an_as_of_instant_without_a_utc_offset(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id = ledger.funded_project()
    with pytest.raises(InvalidDateError):
        app.get_project(project_id, as_of=datetime(2030, 1, 1))  # naive: which time zone?


def test_history_lists_every_event_with_actor_effective_date_recorded_time_and_log_position(
    app: LedgerApplication, ledger: Ledger
) -> None:
    fund_id, project_id = ledger.funded_project(received="100000.00")
    county = Ledger(app, actor=CHANGAN_OFFICER)
    paid = county.disburse(project_id, fund_id, "30000.00", effective_on=LATER)
    topped_up = ledger.allocate_to_project(fund_id, project_id, "5000.00")
    spent = county.spend(project_id, "800.00", idempotency=key("exp-1"))

    history = app.get_history(project_id)

    assert [row["type"] for row in history] == [
        "Registered", "FundsReceived", "Disbursed", "FundsReceived", "ExpenditureRecorded"
    ]
    assert [row["version"] for row in history] == [1, 2, 3, 4, 5]
    assert [row["actor"] for row in history] == [HEBEI_OFFICER.name, HEBEI_OFFICER.name, CHANGAN_OFFICER.name,
                                                 HEBEI_OFFICER.name, CHANGAN_OFFICER.name]
    assert history[2]["effective_on"] == LATER
    assert all(row["recorded_at"].utcoffset() is not None for row in history)
    assert [row["recorded_at"] for row in history] == sorted(row["recorded_at"] for row in history)
    positions = [row["position"] for row in history]
    assert positions == sorted(set(positions))
    # A use case returns the log position of the last event it wrote: here, the project's own event ...
    assert history[2]["position"] == paid["position"]
    assert history[3]["position"] == topped_up["position"]
    fund_row = next(r for r in app.get_history(fund_id) if r["version"] == topped_up["version"])
    assert fund_row["type"] == "Allocated" and fund_row["position"] < topped_up["position"]
    assert fund_row["data"]["allocation_id"] == topped_up["allocation_id"]
    # ... or the idempotency record saved in the same transaction, just after it.
    assert history[4]["position"] < spent["position"]
    assert history[4]["data"]["entry_id"] == spent["entry_id"]


def test_history_of_an_unknown_id_is_refused(app: LedgerApplication) -> None:
    with pytest.raises(NotFoundError):
        app.get_history(UUID(int=7))


def test_the_replayed_figures_follow_the_postings(app: LedgerApplication, ledger: Ledger) -> None:
    _, project_id, results = _post_a_year(ledger)
    reversal = results[-1]

    before_reversal = app.get_project(project_id, version=reversal["version"] - 1)
    after_reversal = app.get_project(project_id, version=reversal["version"])

    assert before_reversal["spent"] == {"staff": Decimal("12000.00"), "activities": Decimal("3000.00")}
    assert after_reversal["spent"] == {"staff": Decimal("0.00"), "activities": Decimal("3000.00")}
    assert after_reversal["disbursed_total"] == Decimal("50000.00")
    assert after_reversal["received_total"] == Decimal("150000.00")


def test_an_instant_is_replayed_from_the_latest_snapshot_taken_by_then_and_reads_the_same(
        app: LedgerApplication, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "snapshotting_intervals", {Project: 4})
    _fund_id, project_id = ledger.funded_project(received="100000.00")
    states = []
    for _ in range(9):
        time.sleep(0.002)
        ledger.spend(project_id, "10.00", line="staff")
        states.append(app.get_project(project_id))
    recorded = {row["version"]: row["recorded_at"] for row in app.get_history(project_id)}
    starts: list[int | None] = []
    read = app.events.get

    def spied(*args: Any, **kwargs: Any) -> Any:
        starts.append(kwargs.get("gt"))
        return read(*args, **kwargs)

    monkeypatch.setattr(app.events, "get", spied)
    for state in states:
        assert app.get_project(project_id, as_of=recorded[state["version"]]) == state

    assert {4, 8} <= set(starts)  # replays began after the snapshots at versions 4 and 8 once they had been taken
