"""Entity reads (current, as_of, version, ETag), aggregate histories and the global log with cursors."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Flask

from api import testing as t
from api.testing import assert_problem


def test_reads_a_fund_project_and_procurement_with_their_etags(people, world) -> None:
    for path, kind in ((f"/funds/{world.county_fund}", "fund"), (f"/projects/{world.project}", "project"),
                       (f"/procurements/{world.procurement}", "procurement")):
        response = people.auditor_hebei.get(path)
        assert response.status_code == 200, (kind, response.get_json())
        assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'
    procurement = people.hebei.get(f"/procurements/{world.procurement}").get_json()
    assert procurement["contract"]["contract_no"] == "HT-2024-001"
    assert procurement["project_id"] == world.project and procurement["region"] == "130102001"


def test_reads_a_past_version_and_the_state_as_recorded_at_an_instant(people, world) -> None:
    o = people.hebei
    between = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    o.post(f"/projects/{world.project}/expenditures", t.expenditure("300.00"))
    now = o.get(f"/projects/{world.project}").get_json()
    assert now["spent_total"] == "300.00"
    then = o.get(f"/projects/{world.project}", query={"as_of": between}).get_json()
    assert then["spent_total"] == "0.00" and then["version"] == now["version"] - 1
    first = o.get(f"/projects/{world.project}", query={"version": 1})
    assert first.status_code == 200 and first.get_json()["received_total"] == "0.00"
    assert first.headers["ETag"] == '"1"'
    assert_problem(o.get(f"/projects/{world.project}", query={"version": 999}), 404, "unknown_project")
    assert_problem(o.get(f"/projects/{world.project}", query={"as_of": "2000-01-01T00:00:00+08:00"}), 404,
                   "unknown_project")
    assert_problem(o.get(f"/projects/{world.project}", query={"as_of": "2024-01-01T00:00:00"}), 422,
                   "validation_error")


def test_an_id_of_another_kind_is_not_found(people, world) -> None:
    assert_problem(people.hebei.get(f"/funds/{world.project}"), 404, "unknown_fund")
    assert_problem(people.hebei.get(f"/projects/{world.county_fund}/events"), 404, "unknown_project")
    assert_problem(people.hebei.get(f"/procurements/{world.project}"), 404, "unknown_procurement")
    assert_problem(people.hebei.get("/funds/not-a-uuid"), 404)


def test_pages_through_an_aggregate_history_with_a_cursor(people, world) -> None:
    o = people.hebei
    for n in range(4):
        o.post(f"/projects/{world.project}/expenditures", t.expenditure(f"{n + 1}.00"))
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = o.get(f"/projects/{world.project}/events", query=query).get_json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert [e["version"] for e in seen] == list(range(1, len(seen) + 1))
    assert seen[0]["type"] == "Registered" and seen[-1]["type"] == "ExpenditureRecorded"
    assert all(e["actor"] and e["recorded_at"] and e["position"] for e in seen)
    assert [e["position"] for e in seen] == sorted(e["position"] for e in seen)
    assert_problem(o.get(f"/projects/{world.project}/events", query={"cursor": "bogus!"}), 400, "invalid_cursor")


def test_procurement_and_fund_histories(people, world) -> None:
    fund_events = people.hebei.get(f"/funds/{world.county_fund}/events").get_json()["items"]
    assert [e["type"] for e in fund_events] == ["Appropriated", "Allocated"]
    assert fund_events[0]["effective_on"] == "2024-02-01"
    steps = people.hebei.get(f"/procurements/{world.procurement}/events").get_json()["items"]
    assert [e["type"] for e in steps] == ["Opened", "ContractSigned"]


def test_the_global_log_pages_in_order_and_leaves_out_bookkeeping(people, world, api: Flask) -> None:
    items, cursor = [], None
    while True:
        page = people.auditor_all.get("/events", query={"limit": 4, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        body = page.get_json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    positions = [e["position"] for e in items]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert {e["type"] for e in items} >= {"Appropriated", "Allocated", "Registered", "FundsReceived", "Opened",
                                         "ContractSigned", "ContractCommitted"} - {"ContractCommitted"}
    assert not {"Recorded", "Reserved", "Issued", "TokenAdded"} & {e["type"] for e in items}
    assert body["last_position"] == t.log_position(api)
    after = people.auditor_all.get("/events", query={"after": positions[2], "limit": 1}).get_json()
    assert after["items"][0]["position"] == positions[3]


def test_the_global_log_shows_an_auditor_only_its_scope(people, world) -> None:
    hebei = people.auditor_hebei.get("/events", query={"limit": 500}).get_json()["items"]
    lanzhou = people.auditor_lanzhou.get("/events", query={"limit": 500}).get_json()["items"]
    everything = people.auditor_all.get("/events", query={"limit": 500}).get_json()["items"]
    assert len(hebei) + len(lanzhou) == len(everything)
    assert {e["aggregate_id"] for e in lanzhou} == {world.lanzhou_fund}
    assert world.lanzhou_fund not in {e["aggregate_id"] for e in hebei}


def test_the_global_log_refuses_a_bad_query(people, world) -> None:
    assert_problem(people.auditor_all.get("/events", query={"limit": 501}), 422, "validation_error")
    assert_problem(people.auditor_all.get("/events", query={"after": -1}), 422, "validation_error")
    assert_problem(people.auditor_all.get("/events", query={"after": 1, "cursor": "cDox"}), 422)
    assert_problem(people.auditor_all.get("/events", query={"colour": "red"}), 422, "validation_error")
