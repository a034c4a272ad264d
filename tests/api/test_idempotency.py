"""Idempotency-Key: missing → 400; same key and body → the original answer again; another body → 422; the key lives
in the event store, so a second app (a restart, another process) on the same store answers the same."""

from __future__ import annotations

from flask import Flask

from api import testing as t
from api.testing import assert_problem


def test_a_post_without_idempotency_key_is_refused_with_400_and_writes_nothing(people, world, api: Flask) -> None:
    before = t.log_position(api)
    response = people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure(), key=False)
    assert_problem(response, 400, "idempotency_key_missing")
    assert t.log_position(api) == before


def test_a_replay_returns_the_original_status_and_body_and_posts_once(people, world, api: Flask) -> None:
    path = f"/projects/{world.project}/disbursements"
    first = people.hebei.post(path, t.disbursement(world.county_fund, "1000.00"), key="pay-2024-03-001")
    after_first = t.log_position(api)
    again = people.hebei.post(path, t.disbursement(world.county_fund, "1000.00"), key="pay-2024-03-001")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "Idempotency-Replayed" not in first.headers
    assert t.log_position(api) == after_first
    assert people.hebei.get(f"/projects/{world.project}").get_json()["disbursed_total"] == "1000.00"


def test_key_order_and_spacing_do_not_change_the_request_hash(people, world) -> None:
    path = f"/projects/{world.project}/expenditures"
    body = t.expenditure()
    first = people.hebei.post(path, body, key="k-order")
    shuffled = '{\n  ' + ",\n  ".join(f'"{k}": "{v}"' for k, v in reversed(list(body.items()))) + "\n}"
    again = people.hebei.post(path, raw=shuffled.encode(), key="k-order")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotency-Replayed"] == "true"


def test_the_same_key_with_another_body_is_refused_with_422(people, world, api: Flask) -> None:
    path = f"/projects/{world.project}/expenditures"
    people.hebei.post(path, t.expenditure("10.00"), key="k-1")
    before = t.log_position(api)
    response = people.hebei.post(path, t.expenditure("11.00"), key="k-1")
    assert_problem(response, 422, "idempotency_key_reused")
    other_path = people.hebei.post(f"/projects/{world.project}/outputs",
                                   {"month": "2024-03", "values": {"cases": 1}, "effective_on": "2024-04-01"},
                                   key="k-1")
    assert_problem(other_path, 422, "idempotency_key_reused")
    assert t.log_position(api) == before


def test_keys_belong_to_their_actor(people, world) -> None:
    a = people.hebei.post(f"/projects/{world.project}/expenditures", t.expenditure("10.00"), key="shared-key")
    b = people.changan.post(f"/projects/{world.project}/expenditures", t.expenditure("10.00"), key="shared-key")
    assert a.status_code == b.status_code == 201
    assert a.get_json()["entry_id"] != b.get_json()["entry_id"]
    assert "Idempotency-Replayed" not in b.headers


def test_a_replay_after_a_restart_on_the_same_store(people, world, app_env: dict[str, str], api: Flask) -> None:
    path = f"/projects/{world.project}/expenditures"
    first = people.hebei.post(path, t.expenditure("42.00"), key="across-restart")
    t.close_app(api)
    restarted = t.make_app(app_env)
    try:
        caller = t.Caller(restarted, people.hebei.secret)
        before = t.log_position(restarted)
        again = caller.post(path, t.expenditure("42.00"), key="across-restart")
        assert again.status_code == 201 and again.get_json() == first.get_json()
        assert again.headers["Idempotency-Replayed"] == "true"
        assert_problem(caller.post(path, t.expenditure("43.00"), key="across-restart"), 422,
                       "idempotency_key_reused")
        assert t.log_position(restarted) == before
    finally:
        t.close_app(restarted)


def test_a_replay_of_a_creation_returns_the_same_id(people, api: Flask) -> None:
    first = people.hebei.post("/projects", t.registration(code="P-IDEM"), key="reg-1")
    again = people.hebei.post("/projects", t.registration(code="P-IDEM"), key="reg-1")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert_problem(people.hebei.post("/projects", t.registration(code="P-IDEM"), key="reg-2"), 409, "duplicate_key")


def test_a_malformed_key_is_refused_with_400(people, world) -> None:
    path = f"/projects/{world.project}/expenditures"
    assert_problem(people.hebei.post(path, t.expenditure(), key="x" * 201), 400, "idempotency_key_invalid")
    assert_problem(people.hebei.post(path, t.expenditure(), headers={"Idempotency-Key": ""}), 400,
                   "idempotency_key_invalid")
