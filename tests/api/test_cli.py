"""`ledger tokens create|list|revoke` against the test's store, and `ledger serve --help`."""

from __future__ import annotations

from click.testing import CliRunner

from api import testing as t
from api.cli import main


def test_creates_lists_and_revokes_a_token(app_env: dict[str, str], monkeypatch) -> None:
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    created = runner.invoke(main, ["tokens", "create", "--actor", "兰州市民政局 王强", "--role", "officer",
                                   "--scope", "6201", "--label", "笔记本"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("lgr_")
    listed = runner.invoke(main, ["tokens", "list"])
    assert listed.exit_code == 0 and "兰州市民政局 王强" in listed.stdout and "active" in listed.stdout
    assert secret not in listed.stdout
    token_id = listed.stdout.split()[0]

    app = t.make_app(app_env)
    try:
        caller = t.Caller(app, secret)
        made = caller.post("/funds", t.appropriation("620100", "兰财〔2024〕1号"))
        assert made.status_code == 201
        revoked = runner.invoke(main, ["tokens", "revoke", token_id, "--reason", "离职"])
        assert revoked.exit_code == 0, revoked.output
        t.assert_problem(caller.get(f"/funds/{made.get_json()['fund_id']}"), 401, "invalid_token")
        again = runner.invoke(main, ["tokens", "revoke", token_id])
        assert again.exit_code != 0 and "invalid_state" in again.output
        assert "revoked" in runner.invoke(main, ["tokens", "list"]).stdout
    finally:
        t.close_app(app)


def test_refuses_an_unknown_scope(app_env: dict[str, str], monkeypatch) -> None:
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["tokens", "create", "--actor", "x", "--role", "auditor", "--scope", "99"])
    assert result.exit_code != 0 and "invalid_region" in result.output


def test_serve_offers_workers_bind_and_dev() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--workers", "--bind", "--dev", "--threads"):
        assert option in result.output


def test_admin_lists_tokens_over_http_without_secrets(people, api) -> None:
    response = people.admin.get("/tokens")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert {i["role"] for i in items} == {"officer", "auditor", "admin"}
    assert people.hebei.secret not in response.get_data(as_text=True)


def test_projections_status_and_rebuild_report_where_the_audit_views_stand(app_env: dict[str, str],
                                                                           monkeypatch) -> None:
    import json

    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    app = t.make_app(app_env)
    try:
        officer = t.Caller(app, t.token(app, "河北省厅财务", "officer", "13"))
        assert officer.post("/funds", t.appropriation()).status_code == 201
        head = t.log_position(app)
    finally:
        t.close_app(app)
    runner = CliRunner()
    before = json.loads(runner.invoke(main, ["projections", "status", "--json"]).stdout)
    assert before["head"] == head and before["lag_events"] == head - before["position"] > 0
    rebuilt = runner.invoke(main, ["projections", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    after = json.loads(runner.invoke(main, ["projections", "status", "--json"]).stdout)
    assert after["position"] == head and after["lag_events"] == 0
    assert after["generation"] == before["generation"] + 1
