"""The audit API: findings with evidence, decisions, roll-ups, project ledgers, dry runs and exports, on both stores."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

from api import testing as t


def _post_ok(caller: t.Caller, path: str, body: dict) -> dict:
    response = caller.post(path, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _findings(caller: t.Caller, **query: str) -> list[dict]:
    response = caller.get("/audit/findings", query=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_an_expenditure_on_a_prohibited_category_shows_up_as_findings_with_evidence(people: Any,
                                                                                     world: Any) -> None:
    posted = _post_ok(people.hebei, f"/projects/{world.project}/expenditures",
                      t.expenditure(line="official_reception", invoice_no="FP-JD-1"))
    found = _findings(people.auditor_hebei, min_position=str(posted["position"]))
    rules = sorted(f["rule"] for f in found if f["project_id"] == world.project)
    assert "EAR-02" in rules and "EAR-01" in rules
    ear02 = next(f for f in found if f["rule"] == "EAR-02")
    assert ear02["severity"] == "S1" and ear02["status"] == "open"
    assert ear02["evidence"][0]["position"] <= posted["position"]
    detail = people.auditor_hebei.get(f"/audit/findings/{ear02['finding_id']}").get_json()
    assert detail["evidence_events"][0]["type"] == "ExpenditureRecorded"
    assert detail["evidence_events"][0]["data"]["entry_id"] == posted["entry_id"]
    assert detail["evidence_events"][0]["data"]["line"] == "official_reception"


def test_a_reversal_retracts_the_findings_it_invalidates(people: Any, world: Any) -> None:
    posted = _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(line="buildings"))
    assert any(f["rule"] == "EAR-02" for f in _findings(people.auditor_hebei))
    _post_ok(people.hebei, f"/projects/{world.project}/reversals",
             {"entry_id": posted["entry_id"], "reason": "误记", "effective_on": "2024-03-11"})
    assert not any(f["rule"] == "EAR-02" for f in _findings(people.auditor_hebei))
    retracted = _findings(people.auditor_hebei, status="retracted")
    assert [f["rule"] for f in retracted if f["rule"] == "EAR-02"] == ["EAR-02"]
    assert retracted[0]["retracted_on"] == "2024-03-11"


def test_an_auditors_decisions_set_a_findings_status_and_officers_may_not_decide(people: Any,
                                                                               world: Any) -> None:
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(line="investment"))
    finding = next(f for f in _findings(people.auditor_hebei) if f["rule"] == "EAR-02")
    path = f"/audit/findings/{finding['finding_id']}/decisions"
    refused = people.hebei.post(path, {"decision": "acknowledge", "effective_on": "2024-04-01"})
    t.assert_problem(refused, 403)
    t.assert_problem(people.auditor_hebei.post(path, {"decision": "dismiss", "effective_on": "2024-04-01"}), 422)
    decided = _post_ok(people.auditor_hebei, path, {"decision": "acknowledge", "note": "已知悉",
                                                     "effective_on": "2024-04-01"})
    assert decided["status"] == "acknowledged"
    _post_ok(people.auditor_hebei, path, {"decision": "start_rectification", "effective_on": "2024-04-02"})
    detail = people.auditor_hebei.get(f"/audit/findings/{finding['finding_id']}",
                                      query={"min_position": str(decided["position"])}).get_json()
    assert detail["status"] == "rectifying"
    assert [d["decision"] for d in detail["decisions"]] == ["acknowledge", "start_rectification"]
    t.assert_problem(people.auditor_hebei.post(path, {"decision": "acknowledge", "effective_on": "2024-04-03"}),
                     409, "invalid_state")


def test_findings_stay_inside_the_callers_region_scope(people: Any, world: Any) -> None:
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(line="buildings"))
    assert _findings(people.auditor_hebei)
    assert all(f["region_code"].startswith("6201") for f in _findings(people.auditor_lanzhou))
    assert all(f["region_code"].startswith("13") for f in _findings(people.auditor_hebei))
    t.assert_problem(people.auditor_lanzhou.get("/audit/findings", query={"region": "130000"}), 403)
    finding = _findings(people.auditor_hebei, rule="EAR-02")[0]
    t.assert_problem(people.auditor_lanzhou.get(f"/audit/findings/{finding['finding_id']}"), 403)
    t.assert_problem(people.anonymous.get("/audit/findings"), 401)


def test_region_rollup_adds_up_from_townships_to_the_province(people: Any, world: Any) -> None:
    _post_ok(people.hebei, f"/projects/{world.project}/disbursements", t.disbursement(world.county_fund, "50000.00"))
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(amount="800.00"))
    province = people.auditor_hebei.get("/audit/regions/130000").get_json()
    assert province["funds_in"] == "1000000.00"
    assert province["received"] == "200000.00"
    assert province["disbursed"] == "50000.00" and province["spent"] == "800.00"
    assert [c["code"] for c in province["children"]] == ["130100"]
    county = people.changan.get("/audit/regions/130102").get_json()
    assert county["received"] == "200000.00" and county["funds_in"] == "300000.00"
    t.assert_problem(people.changan.get("/audit/regions/130000"), 403)
    t.assert_problem(people.auditor_hebei.get("/audit/regions/999999"), 422)


def test_project_ledger_by_budget_line(people: Any, world: Any) -> None:
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(amount="800.00"))
    ledger = people.auditor_hebei.get(f"/audit/projects/{world.project}").get_json()
    lines = {line["line"]: line for line in ledger["lines"]}
    assert lines["activities"]["budget"] == "50000.00" and lines["activities"]["spent"] == "800.00"
    assert ledger["committed"] == "200000.00"


def test_a_dry_run_shows_the_findings_an_expenditure_would_raise_and_writes_nothing(people: Any,
                                                                                  world: Any) -> None:
    before = t.log_position(people.hebei.app)
    response = people.hebei.post("/checks/expenditures",
                                 {"project_id": world.project, **t.expenditure(line="official_vehicles")})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["posted"] is False
    assert {"EAR-01", "EAR-02"} <= {f["rule"] for f in body["findings"]}
    assert t.log_position(people.hebei.app) == before
    _post_ok(people.hebei, f"/projects/{world.project}/disbursements", t.disbursement(world.county_fund, "50000.00"))
    clean = people.hebei.post("/checks/expenditures", {"project_id": world.project, **t.expenditure()})
    assert clean.get_json()["findings"] == []
    t.assert_problem(people.lanzhou.post("/checks/expenditures", {"project_id": world.project, **t.expenditure()}),
                     403)


def test_findings_and_rollups_export_as_csv_and_excel(people: Any, world: Any) -> None:
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(line="buildings"))
    response = people.auditor_hebei.get("/audit/findings", headers={"Accept": "text/csv"})
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:2] == ["问题编号", "规则"] and any(r[1] == "EAR-02" for r in rows[1:])
    excel = people.auditor_hebei.get("/audit/regions/130000", query={"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(excel.get_data())).active
    values = list(sheet.values)
    assert values[0][0] == "区划代码" and values[1][0] == "130000"


def test_findings_as_of_an_earlier_instant_are_replayed_from_the_log(people: Any, world: Any) -> None:
    first = _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(line="buildings"))
    history = people.hebei.get(f"/projects/{world.project}/events", query={"limit": "500"}).get_json()["items"]
    recorded = next(e["recorded_at"] for e in history if e["data"].get("entry_id") == first["entry_id"])
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures",
             t.expenditure(line="investment", invoice_no="FP-2"))
    now = {f["rule"] + f["detail"] for f in _findings(people.auditor_hebei, rule="EAR-02")}
    then = {f["rule"] + f["detail"] for f in _findings(people.auditor_hebei, rule="EAR-02", as_of=recorded)}
    assert len(now) == 2 and len(then) == 1 and then < now


def test_paging_through_findings_with_the_cursor(people: Any, world: Any) -> None:
    for n in range(3):
        _post_ok(people.hebei, f"/projects/{world.project}/expenditures",
                 t.expenditure(line="buildings", invoice_no=f"FP-P{n}"))
    first = people.auditor_hebei.get("/audit/findings", query={"limit": "2"}).get_json()
    assert len(first["items"]) == 2 and first["has_more"]
    second = people.auditor_hebei.get("/audit/findings", query={"limit": "2", "cursor": first["next_cursor"]})
    ids = [f["finding_id"] for f in first["items"]] + [f["finding_id"] for f in second.get_json()["items"]]
    assert len(ids) == len(set(ids))
    t.assert_problem(people.auditor_hebei.get("/audit/findings", query={"cursor": "nonsense"}), 400)


def test_paging_one_finding_at_a_time_lists_exactly_what_one_page_lists(people: Any, world: Any) -> None:
    """Stored findings are paged by the database and date-judged ones merged in: walking the cursor page by page
    gives the same findings in the same order as a single page holding them all, whatever their kinds."""
    for n in range(4):
        _post_ok(people.hebei, f"/projects/{world.project}/expenditures",
                 t.expenditure(line="buildings", invoice_no=f"FP-W{n}"))
    whole = people.auditor_hebei.get("/audit/findings", query={"limit": "500", "on": "2024-06-30"}).get_json()
    assert not whole["has_more"] and len({f["rule"][:3] for f in whole["items"]}) >= 2  # stored and date-judged
    walked, cursor = [], None
    while True:
        query = {"limit": "1", "on": "2024-06-30", **({"cursor": cursor} if cursor else {})}
        page = people.auditor_hebei.get("/audit/findings", query=query).get_json()
        walked += page["items"]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert [f["finding_id"] for f in walked] == [f["finding_id"] for f in whole["items"]]


def test_a_status_filter_pages_past_findings_of_other_statuses(people: Any, world: Any) -> None:
    for n in range(3):
        _post_ok(people.hebei, f"/projects/{world.project}/expenditures",
                 t.expenditure(line="investment", invoice_no=f"FP-S{n}"))
    ear02 = sorted((f for f in _findings(people.auditor_hebei, rule="EAR-02", limit="500")),
                   key=lambda f: (f["effective_on"], f["finding_id"]))
    assert len(ear02) >= 3
    last = ear02[-1]
    _post_ok(people.auditor_hebei, f"/audit/findings/{last['finding_id']}/decisions",
             {"decision": "acknowledge", "note": "已知悉", "effective_on": "2024-04-01"})
    acknowledged = people.auditor_hebei.get("/audit/findings", query={"rule": "EAR-02", "status": "acknowledged",
                                                                      "limit": "1"}).get_json()
    assert [f["finding_id"] for f in acknowledged["items"]] == [last["finding_id"]]
    assert not acknowledged["has_more"]


def test_progress_of_a_project_on_a_date_month_by_month(people: Any, world: Any) -> None:
    _post_ok(people.hebei, f"/projects/{world.project}/disbursements", t.disbursement(world.county_fund, "50000.00"))
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures", t.expenditure(amount="800.00"))
    body = people.auditor_hebei.get("/audit/progress", query={"project": world.project, "on": "2024-04-15"})
    assert body.status_code == 200, body.get_json()
    [item] = body.get_json()["items"]
    assert item["spent"] == "800.00" and item["received"] == "200000.00" and item["disbursed"] == "50000.00"
    assert [m["month"] for m in item["months"]] == ["2024-03", "2024-04"]
    assert item["months"][0]["spent_cumulative"] == "800.00" and item["months"][0]["complete"] is True
    assert item["months"][1]["complete"] is False
    assert item["time_progress"] > item["spending_progress"]
    listed = people.auditor_hebei.get("/audit/progress", query={"region": "130102", "on": "2024-04-15"}).get_json()
    assert [i["code"] for i in listed["items"]] == [item["code"]] and "months" not in listed["items"][0]
    assert people.auditor_lanzhou.get("/audit/progress", query={"on": "2024-04-15"}).get_json()["items"] == []


def test_time_based_findings_are_judged_on_the_evaluation_date_and_say_when_they_were_first_seen(
        people: Any, world: Any) -> None:
    on_time = _findings(people.auditor_hebei, rule="LAG-08", project=world.project, on="2024-04-10")
    assert on_time == []  # the March report is due on 10 April: not late yet
    late = _findings(people.auditor_hebei, rule="LAG-08", project=world.project, on="2024-04-11")
    assert [(f["rule"], f["severity"], f["first_seen"]) for f in late] == [("LAG-08", "S3", "2024-04-11")]
    assert late[0]["evaluated_on"] == "2024-04-11"


def test_coverage_counts_operating_stations_against_township_units_and_states_its_denominator(
        people: Any, world: Any) -> None:
    body = people.auditor_hebei.get("/audit/coverage", query={"region": "130102", "on": "2024-06-30"})
    assert body.status_code == 200, body.get_json()
    figure = body.get_json()
    assert figure["operating"] == 1 and figure["township_units"] > 1 and "不含" in figure["denominator"]
    lanzhou = people.auditor_all.get("/audit/coverage", query={"region": "620100", "on": "2023-06-30"}).get_json()
    assert lanzhou["township_units"] == 109 and lanzhou["behind_plan"] is True
    assert lanzhou["finding"]["rule"] == "LAG-10"
    assert people.auditor_all.get("/audit/coverage", query={
        "region": "620100", "on": "2023-06-30", "include_functional_zones": "true",
        "include_enterprise_units": "true"}).get_json()["township_units"] == 116
    t.assert_problem(people.auditor_all.get("/audit/coverage"), 422)
    t.assert_problem(people.auditor_lanzhou.get("/audit/coverage", query={"region": "130000"}), 403)


def test_a_region_read_includes_progress_and_coverage_on_the_date(people: Any, world: Any) -> None:
    body = people.auditor_hebei.get("/audit/regions/130102", query={"on": "2024-06-30"}).get_json()
    assert body["progress"]["projects"] == 1 and body["progress"]["on"] == "2024-06-30"
    assert body["coverage"]["operating"] == 1


def test_region_and_project_ledger_on_a_business_date_count_only_what_had_taken_effect(people: Any,
                                                                                       world: Any) -> None:
    _post_ok(people.hebei, f"/projects/{world.project}/disbursements",
             t.disbursement(world.county_fund, "50000.00", effective_on="2024-03-05"))
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures",
             t.expenditure(amount="800.00", effective_on="2024-03-10"))
    _post_ok(people.hebei, f"/projects/{world.project}/expenditures",
             t.expenditure(amount="900.00", invoice_no="FP-LATER", effective_on="2024-06-10"))
    before = people.auditor_hebei.get(f"/audit/projects/{world.project}", query={"on": "2024-03-31"}).get_json()
    after = people.auditor_hebei.get(f"/audit/projects/{world.project}", query={"on": "2024-06-30"}).get_json()
    assert before["spent"] == "800.00" and after["spent"] == "1700.00"
    assert {line["line"]: line["spent"] for line in before["lines"]}["activities"] == "800.00"
    region = people.auditor_hebei.get("/audit/regions/130000", query={"on": "2024-03-31"}).get_json()
    assert region["spent"] == "800.00" and region["disbursed"] == "50000.00"
    assert people.auditor_hebei.get("/audit/regions/130000", query={"on": "2023-12-31"}).get_json()["funds"] == 0
