"""Token secrets: stored only as SHA-256 digests, found by their digest and compared in constant time, never logged
while they are made or used, and never shown again after creation (HTTP list, `ledger tokens list`)."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging

import pytest
from click.testing import CliRunner
from flask import Flask

from api import testing as t
from api.cli import main
from api.extension import extension
from ledger import access
from ledger.access import authenticate, digest_of, issue_token, token_id_for
from tests.security.conftest import People, console_client


def test_a_token_is_stored_as_its_sha256_digest_and_never_as_its_secret(api: Flask, app_env: dict[str, str]) -> None:
    with api.app_context():
        secret, view = issue_token(extension().app, actor_name="审计 周", role="auditor", scope="13", issued_by="t")
        assert view["token_id"] == token_id_for(hashlib.sha256(secret.encode()).hexdigest())
        assert "digest" not in view and secret not in json.dumps(view, default=str)
        stored = b"".join(e.state for e in extension().app.recorder.select_notifications(start=1, limit=10**6))
    assert secret.encode() not in stored
    assert digest_of(secret).encode() in stored  # what a presented secret is checked against


def test_a_presented_secret_is_looked_up_by_its_digest_and_compared_in_constant_time(
        api: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    source = inspect.getsource(access.authenticate)
    assert "token_id_for(digest)" in source and "hmac.compare_digest" in source
    compared: list[tuple[str, str]] = []
    compare = hmac.compare_digest

    def recording_compare(a: str, b: str) -> bool:
        compared.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", recording_compare)
    with api.app_context():
        secret, _ = issue_token(extension().app, actor_name="财务 吴", role="officer", scope="13", issued_by="t")
        assert authenticate(extension().app, secret) is not None
        assert authenticate(extension().app, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert compared == [(digest_of(secret), digest_of(secret))]  # digests, never the secret itself


def test_secrets_never_reach_the_log_while_tokens_are_made_used_refused_or_listed(
        api: Flask, people: People, world: object, app_env: dict[str, str], caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    made = runner.invoke(main, ["tokens", "create", "--actor", "审计 郑", "--role", "auditor", "--scope", "13"],
                         env={**app_env, "LEDGER_LOG_LEVEL": "DEBUG"})
    assert made.exit_code == 0, made.output
    cli_secret = made.stdout.strip().splitlines()[-1]
    assert cli_secret.startswith("lgr_")
    auditor = t.Caller(api, cli_secret)
    assert auditor.get("/audit/findings").status_code == 200
    assert people.officer_in.post(f"/projects/{world.project}/expenditures",  # type: ignore[attr-defined]
                                  t.expenditure("3.00", invoice_no="FP-LOG-1")).status_code == 201
    assert people.officer_out.get(f"/projects/{world.project}").status_code == 403  # type: ignore[attr-defined]
    assert t.Caller(api, cli_secret + "x").get("/audit/findings").status_code == 401
    console = console_client(api, people.auditor.secret)
    assert console.get("/console/").status_code == 200
    listed = runner.invoke(main, ["tokens", "list", "--json"], env=app_env)
    assert listed.exit_code == 0, listed.output
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records) + capsys.readouterr().err
    for secret in (cli_secret, people.officer_in.secret, people.officer_out.secret, people.auditor.secret):
        assert secret and secret not in logged
        assert secret[4:] not in listed.output and digest_of(secret) not in listed.output


def test_no_list_shows_a_secret_or_its_digest_after_creation(api: Flask, people: People,
                                                              app_env: dict[str, str]) -> None:
    listed = people.admin.get("/tokens")
    assert listed.status_code == 200
    text = listed.get_data(as_text=True)
    cli = CliRunner().invoke(main, ["tokens", "list"], env=app_env)
    cli_json = CliRunner().invoke(main, ["tokens", "list", "--json"], env=app_env)
    assert cli.exit_code == 0 and cli_json.exit_code == 0
    for holder in (people.officer_in, people.officer_out, people.auditor, people.admin):
        assert holder.secret is not None
        for shown in (text, cli.output, cli_json.output):
            assert holder.secret[4:] not in shown and digest_of(holder.secret) not in shown
    assert len([json.loads(line) for line in cli_json.stdout.splitlines()]) == 4
