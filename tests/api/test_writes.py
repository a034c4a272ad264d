"""Every write endpoint: its success path (201, ids, version, position, ETag) and the ledger's refusals."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask

from api import testing as t
from api.testing import assert_problem


def test_appropriates_a_fund_and_answers_ids_version_position_and_etag(people, api: Flask) -> None:
    before = t.log_position(api)
    response = people.hebei.post("/funds", t.appropriation())
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"fund_id", "version", "position"}
    assert body["version"] == 1 and body["position"] > before
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/api/v1/funds/{body['fund_id']}"
    assert "Idempotency-Replayed" not in response.headers
    fund = people.hebei.get(f"/funds/{body['fund_id']}").get_json()
    assert fund["available"] == "1000000.00" and fund["holder_region"] == "130000"


def test_allocates_down_three_levels_and_to_a_project(people, world) -> None:
    province = people.hebei.get(f"/funds/{world.province_fund}").get_json()
    city = people.hebei.get(f"/funds/{world.city_fund}").get_json()
    county = people.hebei.get(f"/funds/{world.county_fund}").get_json()
    assert (province["available"], city["available"], county["available"]) == ("400000.00", "300000.00", "100000.00")
    assert (city["holder_region"], county["holder_region"]) == ("130100", "130102")
    assert county["parent_fund_id"] == world.city_fund
    project = people.hebei.get(f"/projects/{world.project}").get_json()
    assert project["received_total"] == "200000.00"
    assert project["committed_total"] == "200000.00"


def test_records_procurement_steps_in_order(people, world) -> None:
    o = people.hebei
    other = o.post(f"/projects/{world.project}/procurements", t.procurement(method="open_tender")).get_json()
    pid = other["procurement_id"]
    steps = [
        {"step": "plan_approved", "effective_on": "2024-02-01", "details": {"document_no": "长政采〔2024〕5号"}},
        {"step": "announced", "effective_on": "2024-02-02",
         "details": {"announced_at": "2024-02-02T09:00:00+08:00", "submission_deadline": "2024-02-22T09:00:00+08:00",
                     "notice_no": "GG-2024-01"}},
        {"step": "bid_received", "effective_on": "2024-02-20",
         "details": {"bidder_name": "启航社工", "bidder_uscc": t.USCC_PROVIDER, "price": "195000.00",
                     "received_at": "2024-02-20T10:00:00+08:00"}},
        {"step": "bids_evaluated", "effective_on": "2024-02-23",
         "details": {"scores": {t.USCC_PROVIDER: "88.50"}, "qualified": [t.USCC_PROVIDER], "committee_size": 5,
                     "expert_count": 4}},
        {"step": "awarded", "effective_on": "2024-02-24",
         "details": {"supplier_name": "启航社工", "supplier_uscc": t.USCC_PROVIDER, "amount": "195000.00"}},
        {"step": "award_published", "effective_on": "2024-02-25", "details": {"notice_no": "ZB-2024-01"}},
        t.contract("HT-2024-002", "195000.00"),
        {"step": "contract_published", "effective_on": "2024-03-02", "details": {}},
        {"step": "contract_amended", "effective_on": "2024-06-01",
         "details": {"amendment_no": "BG-1", "amount_delta": "-5000.00", "reason": "活动减少"}},
    ]
    for version, step in enumerate(steps, start=2):
        response = o.post(f"/procurements/{pid}/steps", step)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["version"] == version and response.get_json()["step"] == step["step"]
    view = o.get(f"/procurements/{pid}").get_json()
    assert view["status"] == "contracted" and view["contract"]["amount"] == "190000.00"
    assert [s["step"] for s in view["steps"]][-1] == "contract_amended"


def test_cancels_an_open_procurement(people, world) -> None:
    pid = people.hebei.post(f"/projects/{world.project}/procurements", t.procurement()).get_json()["procurement_id"]
    response = people.hebei.post(f"/procurements/{pid}/steps", {"step": "cancelled", "effective_on": "2024-03-01",
                                                                "details": {"reason": "流标"}})
    assert response.status_code == 201
    assert people.hebei.get(f"/procurements/{pid}").get_json()["status"] == "cancelled"
    again = people.hebei.post(f"/procurements/{pid}/steps", {"step": "plan_approved", "effective_on": "2024-03-02",
                                                             "details": {"document_no": "X-1"}})
    assert_problem(again, 409, "closed")


def test_disburses_spends_and_reverses(people, world) -> None:
    o = people.hebei
    paid = o.post(f"/projects/{world.project}/disbursements",
                  t.disbursement(world.county_fund, "100000.00", installment=1, procurement_id=world.procurement,
                                 voucher_no="PZ-2024-031"))
    assert paid.status_code == 201 and set(paid.get_json()) == {"project_id", "entry_id", "version", "position"}
    spent = o.post(f"/projects/{world.project}/expenditures", t.expenditure("800.00", fund_id=world.county_fund))
    assert spent.status_code == 201
    reversed_ = o.post(f"/projects/{world.project}/reversals",
                       {"entry_id": spent.get_json()["entry_id"], "reason": "发票作废", "effective_on": "2024-03-12"})
    assert reversed_.status_code == 201
    assert reversed_.get_json()["reversed_entry_id"] == spent.get_json()["entry_id"]
    project = o.get(f"/projects/{world.project}").get_json()
    assert project["disbursed_total"] == "100000.00" and project["spent_total"] == "0.00"
    assert_problem(o.post(f"/projects/{world.project}/reversals",
                          {"entry_id": spent.get_json()["entry_id"], "reason": "再次", "effective_on": "2024-03-13"}),
                   409, "already_reversed")


def test_revises_budget_reports_outputs_evaluates_and_closes(people, world) -> None:
    o = people.hebei
    revision = o.post(f"/projects/{world.project}/budget-revisions",
                      {"moves": [{"from_line": "activities", "to_line": "training", "amount": "5000.00"}],
                       "reason": "培训需求增加", "effective_on": "2024-05-01", "approval_document": "长民〔2024〕8号"})
    assert revision.status_code == 201 and "revision_id" in revision.get_json()
    outputs = o.post(f"/projects/{world.project}/outputs",
                     {"month": "2024-03", "values": {"cases": 3, "groups": 1, "home_visits": 12},
                      "effective_on": "2024-04-05"})
    assert outputs.status_code == 201 and "report_id" in outputs.get_json()
    evaluation = o.post(f"/projects/{world.project}/evaluations",
                        {"kind": "midterm", "evaluator": "河北省社会工作评估中心",
                         "weights": {"decision": "20.00", "process": "30.00", "output": "30.00", "effect": "20.00"},
                         "scores": {"decision": "18.00", "process": "25.50", "output": "27.00", "effect": "17.00"},
                         "effective_on": "2024-09-01"})
    assert evaluation.status_code == 201
    assert evaluation.get_json()["total"] == "87.5" and evaluation.get_json()["rating"] == "良"
    closure = o.post(f"/projects/{world.project}/closure", {"reason": "项目周期结束", "effective_on": "2025-03-01"})
    assert closure.status_code == 201 and closure.get_json()["status"] == "closed"
    assert_problem(o.post(f"/projects/{world.project}/expenditures", t.expenditure()), 409, "closed")


def test_recovers_from_a_child_fund_and_closes_a_fund(people, world) -> None:
    o = people.hebei
    recovery = o.post(f"/funds/{world.city_fund}/recoveries",
                      {"source_id": world.county_fund, "amount": "50000.00", "reason": "结余收回",
                       "effective_on": "2024-12-01"})
    assert recovery.status_code == 201 and "recovery_id" in recovery.get_json()
    county = o.get(f"/funds/{world.county_fund}").get_json()
    assert county["available"] == "50000.00" and county["returned"] == "50000.00"
    closure = o.post(f"/funds/{world.county_fund}/closure", {"disposition": "carry_over", "effective_on": "2024-12-31"})
    assert closure.status_code == 201
    assert o.get(f"/funds/{world.county_fund}").get_json()["closed_as"] == "carry_over"
    assert_problem(o.post(f"/funds/{world.county_fund}/allocations",
                          t.allocation_to_project(world.project, "1.00")), 409, "closed")


def test_refuses_allocation_beyond_available_funds(people, world, api: Flask) -> None:
    before = t.log_position(api)
    response = people.hebei.post(f"/funds/{world.county_fund}/allocations",
                                 t.allocation_to_project(world.project, "100000.01"))
    body = assert_problem(response, 409, "insufficient_funds")
    assert "100000.00" in body["detail"]
    assert t.log_position(api) == before


def test_refuses_disbursement_beyond_what_the_project_received(people, world) -> None:
    response = people.hebei.post(f"/projects/{world.project}/disbursements",
                                 t.disbursement(world.county_fund, "200000.01"))
    assert_problem(response, 409, "insufficient_funds")


def test_refuses_a_duplicate_project_code_and_document_number(people, world) -> None:
    assert_problem(people.hebei.post("/projects", t.registration()), 409, "duplicate_key")
    assert_problem(people.hebei.post("/funds", t.appropriation()), 409, "duplicate_key")


def test_refuses_a_duplicate_contract_number(people, world) -> None:
    pid = people.hebei.post(f"/projects/{world.project}/procurements", t.procurement()).get_json()["procurement_id"]
    assert_problem(people.hebei.post(f"/procurements/{pid}/steps", t.contract()), 409, "duplicate_key")


def test_refuses_unknown_resources_with_404(people, world) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(people.hebei.post(f"/funds/{missing}/allocations", t.allocation_to_project(world.project, "1.00")),
                   404, "unknown_fund")
    assert_problem(people.hebei.post(f"/projects/{missing}/expenditures", t.expenditure()), 404, "unknown_project")
    assert_problem(people.hebei.post(f"/procurements/{missing}/steps", t.contract("HT-X")), 404,
                   "unknown_procurement")
    assert_problem(people.hebei.post(f"/projects/{world.project}/disbursements", t.disbursement(missing)), 404,
                   "unknown_fund")
    assert_problem(people.hebei.post(f"/projects/{world.project}/reversals",
                                     {"entry_id": missing, "reason": "x", "effective_on": "2024-03-01"}),
                   404, "unknown_entry")


def test_refuses_allocating_to_a_region_outside_the_fund(people, world) -> None:
    response = people.hebei.post(f"/funds/{world.city_fund}/allocations",
                                 t.allocation_to_fund("130200", "唐财〔2024〕1号", "1.00"))
    body = assert_problem(response, 422, "invalid_region")
    assert "child_region" in body["errors"]


def test_a_stale_if_match_is_refused_with_412_and_a_current_one_is_honoured(people, world, api: Flask) -> None:
    o = people.hebei
    etag = o.get(f"/projects/{world.project}").headers["ETag"]
    ok = o.post(f"/projects/{world.project}/expenditures", t.expenditure(), headers={"If-Match": etag})
    assert ok.status_code == 201
    assert ok.headers["ETag"] == f'"{int(etag.strip(chr(34))) + 1}"'
    before = t.log_position(api)
    stale = o.post(f"/projects/{world.project}/expenditures", t.expenditure(), headers={"If-Match": etag})
    assert_problem(stale, 412, "version_conflict")
    assert t.log_position(api) == before
    fund_etag = o.get(f"/funds/{world.county_fund}").headers["ETag"]
    assert_problem(o.post(f"/funds/{world.county_fund}/allocations", t.allocation_to_project(world.project, "1.00"),
                          headers={"If-Match": '"1"'}), 412, "version_conflict")
    assert o.post(f"/funds/{world.county_fund}/allocations", t.allocation_to_project(world.project, "1.00"),
                  headers={"If-Match": fund_etag}).status_code == 201


def test_if_match_on_a_creation_or_malformed_is_a_400(people, world) -> None:
    assert_problem(people.hebei.post("/funds", t.appropriation(document_no="X-9"), headers={"If-Match": '"1"'}),
                   400, "if_match_not_supported")
    assert_problem(people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure(),
                                     headers={"If-Match": "yesterday"}), 400, "invalid_if_match")


def test_free_text_is_stored_verbatim_never_interpreted(people, world) -> None:
    text = "'; DROP TABLE ledger_events; -- <script>alert(1)</script> 社区活动 🙂"
    response = people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure(description=text))
    assert response.status_code == 201
    events = people.hebei.get(f"/projects/{world.project}/events", query={"limit": 500}).get_json()["items"]
    assert events[-1]["data"]["description"] == text


def test_every_event_records_the_authenticated_actor(people, world) -> None:
    events = people.auditor_all.get("/events", query={"limit": 500}).get_json()["items"]
    actors = {e["actor"] for e in events}
    assert actors == {"河北省厅财务 张敏", "兰州市民政局财务 王强"}


def test_amounts_answer_with_exactly_two_decimals(people, world) -> None:
    response = people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure("5"))
    assert response.status_code == 201
    project = people.hebei.get(f"/projects/{world.project}").get_json()
    assert project["spent"]["activities"] == "5.00"
    assert Decimal(project["spent_total"]) == Decimal("5")
