"""GET /api/v1/verify gives auditors the last verification; the API seals the chain head every N events."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from flask import Flask

from api import testing as t
from api.extension import extension
from api.sealing import create_key, signature_check
from ledger.integrity.recorders import as_chained
from ledger.integrity.verify import verify_log


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "seal.key"


@pytest.fixture
def api(app_env: dict[str, str], key: Path) -> Iterator[Flask]:
    with t.running_app(app_env, LEDGER_SEAL_KEY=str(key), LEDGER_SEAL_EVERY=3) as app:
        yield app


def post_funds(api: Flask, count: int) -> None:
    officer = t.Caller(api, t.token(api, "河北省厅财务 张敏", "officer", "13"))
    for number in range(count):
        assert officer.post("/funds", t.appropriation(document_no=f"冀财社〔2024〕{number + 1}号")).status_code == 201


def test_auditors_read_the_last_verification_and_others_may_not(api: Flask) -> None:
    auditor = t.Caller(api, t.token(api, "审计署 孙审", "auditor"))
    before = auditor.get("/verify")
    assert before.status_code == 200, before.get_json()
    assert before.get_json()["last"] is None and before.get_json()["head"]["position"] >= 1
    with api.app_context():
        recorder = extension().app.recorder
        as_chained(recorder).record_verification(verify_log(recorder, check_signature=None).to_dict())
    post_funds(api, 1)
    body = auditor.get("/verify").get_json()
    assert body["last"]["outcome"] == "ok" and body["last"]["first_problem"] is None
    assert body["last"]["events_checked"] == body["last"]["last_position"]
    assert body["unverified_positions"] == body["head"]["position"] - body["last"]["last_position"] > 0
    t.assert_problem(t.Caller(api, t.token(api, "河北省厅财务 张敏", "officer", "13")).get("/verify"), 403)
    t.assert_problem(t.Caller(api, None).get("/verify"), 401)


def test_the_api_seals_the_chain_head_every_n_events(api: Flask, key: Path) -> None:
    signer = create_key(key)
    post_funds(api, 4)  # a token and two events per fund (the fund and its idempotency record): well past 3
    with api.app_context():
        recorder = as_chained(extension().app.recorder)
        seals = recorder.select_seals()
        assert len(seals) >= 2 and all(b.position - a.position >= 3 for a, b in pairwise(seals))
        report = verify_log(recorder, check_signature=signature_check(signer.public_key))
    assert report.outcome == "ok" and report.seals_checked == len(seals)
    body = t.Caller(api, t.token(api, "审计署 孙审", "auditor")).get("/verify").get_json()
    assert body["latest_seal"]["seal_id"] == seals[-1].seal_id


def test_without_a_key_the_api_posts_on_and_makes_no_key(api: Flask, key: Path) -> None:
    post_funds(api, 3)
    assert not key.exists()
    with api.app_context():
        assert as_chained(extension().app.recorder).select_seals() == []
