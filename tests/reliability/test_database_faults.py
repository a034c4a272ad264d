"""PostgreSQL faults under a posting load, against the real server (`ledger serve`) and projection worker (`ledger
projections run`), both reaching the database through a TCP proxy of the test's: their backends terminated with
pg_terminate_backend (only those the proxy carries, in this run's own database), then the database made
unreachable for a while by cutting the proxy. Meanwhile the API answers 503 problem+json with Retry-After (never 500,
never a hang); afterwards it recovers by itself, nothing acknowledged is lost or posted twice, and the worker
resumes and catches up with the log."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.crashtest import (
    REQUEST_TIMEOUT,
    Load,
    Proxy,
    Stack,
    check_log,
    check_views_equal_rebuild,
    prepare,
    read_log,
    retry_all,
    stack_env,
    terminate_backends,
    wait_for_lag_zero,
)

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 6.0


def _probe(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    # A hang would raise requests.Timeout here and fail the test: answers must come within REQUEST_TIMEOUT.
    return session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)


def test_terminated_connections_and_an_outage_answer_503_then_recover_losing_nothing(
        postgres_env_for: Any, postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_env = {**postgres_env_for(f"faults_{int(time.time() * 1000) % 10**9}"), "POSTGRES_POOL_SIZE": "2",
                 "POSTGRES_MAX_OVERFLOW": "4", "LEDGER_VIEWS_POOL_SIZE": "2"}
    proxy = Proxy((store_env["POSTGRES_HOST"], int(store_env["POSTGRES_PORT"])))
    direct = stack_env(store_env, tmp_path)
    stack = Stack(stack_env({**store_env, "POSTGRES_PORT": str(proxy.port)}, tmp_path), tmp_path)
    faults: Counter[str] = Counter()
    probes: Counter[str] = Counter()
    try:
        stack.start()
        ledger = prepare(stack, direct)
        load = Load(stack.base, ledger, clients=4, seed=11, retry_for=60)
        load.start()
        time.sleep(2)

        for _ in range(3):  # connections killed by the server under load
            faults["backends terminated"] += terminate_backends(postgres_dsn, proxy.upstream_ports())
            time.sleep(1.5)

        proxy.cut()  # the database is unreachable
        faults["outages"] += 1
        officer, auditor = requests.Session(), requests.Session()
        officer.headers["Authorization"] = f"Bearer {ledger.officer}"
        auditor.headers["Authorization"] = f"Bearer {ledger.auditor}"
        api = f"{stack.base}/api/v1"
        cut_at = time.monotonic()
        while time.monotonic() - cut_at < OUTAGE_SECONDS:
            for name, response in (
                ("post", _probe(officer, "POST", f"{api}/projects/{ledger.projects[0]}/expenditures",
                                json={"line": "staff", "amount": "1.00", "payee_name": "探针", "payee_kind": "supplier",
                                      "effective_on": "2024-05-01"},
                                headers={"Idempotency-Key": f"probe-{probes['post']}"})),
                ("read", _probe(officer, "GET", f"{api}/funds/{ledger.fund_id}")),
                ("audit", _probe(auditor, "GET", f"{api}/audit/projections")),
                ("readyz", _probe(officer, "GET", f"{stack.base}/readyz")),
            ):
                probes[name] += 1
                assert response.status_code == 503, (name, response.status_code, response.text[:300])
                assert response.headers["Content-Type"].startswith("application/problem+json"), name
                assert response.json()["code"] == "unavailable", response.json()
                if name != "readyz":
                    assert int(response.headers["Retry-After"]) > 0, name
        proxy.restore()

        deadline = time.monotonic() + 60  # the pools reconnect by themselves
        while _probe(officer, "GET", f"{api}/funds/{ledger.fund_id}").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover after the database came back"
            time.sleep(0.5)
        time.sleep(3)  # more load after the recovery
        load.finish()

        assert not load.problems, load.problems[:10]
        assert load.statuses["500"] == 0 and load.statuses["timeout"] == 0, load.statuses
        assert set(load.statuses) <= {"201", "201r", "503"}, load.statuses
        counts = check_log(read_log(direct), load)
        assert counts["lost"] == counts["duplicated"] == 0
        retries = retry_all(load)
        assert retries["acknowledged replayed"] == counts["acknowledged"]
        facts = read_log(direct)
        check_log(facts, load)
        wait_for_lag_zero(direct, facts.head, timeout=60)  # the external worker resumed on its own
        views = check_views_equal_rebuild(Stack(direct, tmp_path))
        assert "resumed after" in stack.log_tail("worker", 200_000)
    except BaseException:
        print(f"server log:\n{stack.log_tail('server', 6000)}\nworker log:\n{stack.log_tail('worker', 6000)}")
        raise
    finally:
        stack.stop()
        proxy.close()
    with capsys.disabled():
        print(f"\ndatabase faults: {dict(faults)}; probes while down (all 503): {dict(probes)}\n"
              f"  answers: {dict(sorted(load.statuses.items()))}\n  log: {counts}\n  retried: {retries}\n"
              f"  views equal a rebuild: {views}")
