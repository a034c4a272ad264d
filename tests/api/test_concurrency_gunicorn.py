"""16 concurrent HTTP clients post allocations and disbursements against one fund through a real gunicorn server
(`ledger serve`, 4 workers × 4 threads) on PostgreSQL: nothing is overspent, and every 201 is in the log exactly
once — no posting is lost or duplicated, and retried requests (same Idempotency-Key) are replayed, not re-posted."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from api import testing as t
from api.serving import served
from ledger.access import issue_token
from ledger.application import LedgerApplication

CLIENTS = 16
REQUESTS_PER_CLIENT = 25
FUND_AMOUNT = Decimal("10000.00")
RECEIVED_BY_PAYING_PROJECT = Decimal("3000.00")
ALLOCATION = Decimal("100.00")
DISBURSEMENT = Decimal("50.00")

pytestmark = pytest.mark.slow


@pytest.fixture
def server_env(postgres_env_for: Any, tmp_path: Path) -> dict[str, str]:
    env = postgres_env_for(f"gunicorn_{os.getpid()}_{int(time.time() * 1000) % 10**8}")
    return {**env, "POSTGRES_POOL_SIZE": "4", "LEDGER_DATA_DIR": str(tmp_path), "LEDGER_TOKEN_CACHE_SECONDS": "30",
            "LEDGER_LOG_LEVEL": "WARNING"}


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    with served(server_env, tmp_path / "gunicorn.log", workers=4, threads=4, start_timeout=30) as (base, _):
        yield base


def _post(session: requests.Session, url: str, body: dict[str, Any], key: str) -> requests.Response:
    return session.post(url, json=body, headers={"Idempotency-Key": key}, timeout=30)


def test_sixteen_clients_never_overspend_and_lose_or_duplicate_nothing(server: str, server_env: dict[str, str],
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    ledger = LedgerApplication(env=server_env)
    try:
        secret, _ = issue_token(ledger, actor_name="长安区民政局财务", role="officer", scope="130102",
                                issued_by="tests")
    finally:
        ledger.close()
    auth = {"Authorization": f"Bearer {secret}"}
    api = f"{server}/api/v1"
    setup = requests.Session()
    setup.headers.update(auth)
    fund = _post(setup, f"{api}/funds", t.appropriation("130102", "长财社〔2024〕99号", str(FUND_AMOUNT)), "s-1").json()
    fund_id = fund["fund_id"]
    projects = []
    for n in range(5):
        made = _post(setup, f"{api}/projects", t.registration(code=f"CONC-{n}"), f"s-p{n}")
        assert made.status_code == 201, made.text
        projects.append(made.json()["project_id"])
    paying = projects[0]
    received = _post(setup, f"{api}/funds/{fund_id}/allocations",
                     t.allocation_to_project(paying, str(RECEIVED_BY_PAYING_PROJECT)), "s-a")
    assert received.status_code == 201, received.text

    outcomes: list[tuple[str, int, str, dict[str, Any], bool]] = []  # kind, status, code, body, replayed
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        session = requests.Session()
        session.headers.update(auth)
        kind = "allocation" if number % 2 == 0 else "disbursement"
        start.wait()
        for n in range(REQUESTS_PER_CLIENT):
            key = f"c{number}-r{n}"
            if kind == "allocation":
                url = f"{api}/funds/{fund_id}/allocations"
                body = t.allocation_to_project(projects[1 + n % 4], str(ALLOCATION))
            else:
                url = f"{api}/projects/{paying}/disbursements"
                body = t.disbursement(fund_id, str(DISBURSEMENT))
            attempts = 2 if n % 5 == 0 else 1  # every fifth request is retried with the same key
            for _ in range(attempts):
                response = _post(session, url, body, key)
                payload = response.json()
                with lock:
                    outcomes.append((kind, response.status_code, payload.get("code", ""), payload,
                                     response.headers.get("Idempotency-Replayed") == "true"))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads)

    statuses = Counter((kind, status, code) for kind, status, code, _, _ in outcomes)
    assert all(status in (201, 409) for _, status, _ in statuses), statuses
    created = {"allocation": Counter(), "disbursement": Counter()}
    for kind, status, _, body, _replayed in outcomes:
        if status == 201:
            created[kind][body["allocation_id" if kind == "allocation" else "entry_id"]] += 1
    replays = sum(1 for *_, replayed in outcomes if replayed)

    # The ledger's own events: every 201 exactly once, nothing else.
    ledger = LedgerApplication(env=server_env)
    try:
        allocated, disbursed = Counter(), Counter()
        position = 0
        while batch := ledger.recorder.select_notifications(start=position, limit=500, inclusive_of_start=False):
            for notification in batch:
                position = notification.id
                if notification.topic == "ledger:Fund.Allocated":
                    event = ledger.mapper.to_domain_event(notification)
                    if event.target_kind == "project" and str(event.target_id) != paying:
                        allocated[str(event.allocation_id)] += 1
                elif notification.topic == "ledger:Project.Disbursed":
                    disbursed[str(ledger.mapper.to_domain_event(notification).entry_id)] += 1
        fund_view = ledger.get_fund(ledger_id(fund_id))
        paying_view = ledger.get_project(ledger_id(paying))
    finally:
        ledger.close()

    assert set(created["allocation"]) == set(allocated) and set(allocated.values()) <= {1}
    assert set(created["disbursement"]) == set(disbursed) and set(disbursed.values()) <= {1}
    assert fund_view["available"] >= 0 and paying_view["disbursed_total"] <= paying_view["received_total"]
    assert fund_view["available"] == FUND_AMOUNT - RECEIVED_BY_PAYING_PROJECT - ALLOCATION * len(allocated)
    assert paying_view["disbursed_total"] == DISBURSEMENT * len(disbursed)
    # Demand exceeded supply on both sides, so both ran out exactly.
    assert fund_view["available"] < ALLOCATION and paying_view["received_total"] - paying_view["disbursed_total"] \
        < DISBURSEMENT

    with capsys.disabled():
        print(f"\nconcurrency: {CLIENTS} clients, {len(outcomes)} requests in {elapsed:.1f}s "
              f"({len(outcomes) / elapsed:.0f}/s) through gunicorn 4x4 on PostgreSQL")
        for (kind, status, code), n in sorted(statuses.items()):
            print(f"  {kind:<12} {status} {code or '-':<22} {n}")
        print(f"  unique postings: {len(allocated)} allocations, {len(disbursed)} disbursements; "
              f"replayed answers: {replays}")
        print(f"  final: fund available {fund_view['available']} of {FUND_AMOUNT}; paying project received "
              f"{paying_view['received_total']}, disbursed {paying_view['disbursed_total']}")


def ledger_id(text: str) -> Any:
    from uuid import UUID

    return UUID(text)
