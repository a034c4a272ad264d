"""A real server for the fuzzers: `ledger serve` (gunicorn) on a free loopback port, on the test's store, with
nationwide officer, auditor and admin tokens and a small seeded world so that path ids exist."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from api import testing as t
from api.serving import served
from ledger.access import issue_token
from ledger.application import LedgerApplication


@dataclass
class Server:
    """A running server: its base URL, a secret per role, the ids the seeded world made, and its log file."""

    base: str
    secrets: dict[str, str]
    ids: dict[str, list[str]] = field(default_factory=dict)
    log: Path | None = None

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log else ""


def _issue_tokens(env: dict[str, str]) -> dict[str, str]:
    ledger = LedgerApplication(env=env)
    try:
        return {role: issue_token(ledger, actor_name=f"全国{role}", role=role, scope="", issued_by="fuzz")[0]
                for role in ("officer", "auditor", "admin")}
    finally:
        ledger.close()


@pytest.fixture
def server_env(app_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**app_env, "LEDGER_DATA_DIR": str(tmp_path / "instance"), "LEDGER_TOKEN_CACHE_SECONDS": "30",
            "LEDGER_PROJECTIONS": "inline", "LEDGER_LOG_LEVEL": "WARNING", "POSTGRES_POOL_SIZE": "4"}


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    secrets = _issue_tokens(server_env)
    log_path = tmp_path / "server.log"
    with served(server_env, log_path, workers=1, threads=4, start_timeout=30) as (base, _):
        running = Server(base, secrets, log=log_path)
        running.ids = seed(running)
        yield running


def _created(response: requests.Response, key: str) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()[key])


def seed(server: Server) -> dict[str, list[str]]:
    """A Hebei fund passed down to 长安区, a station project with a contract, money paid and spent (raising findings
    an auditor can decide), and a 兰州 fund: the ids the fuzzers put into paths."""
    session = requests.Session()
    session.headers.update(server.auth("officer"))
    api = f"{server.base}/api/v1"
    keys = iter(range(10**6))

    def post(path: str, body: dict[str, Any]) -> requests.Response:
        return session.post(api + path, json=body, headers={"Idempotency-Key": f"seed-{next(keys)}"}, timeout=30)

    province = _created(post("/funds", t.appropriation()), "fund_id")
    city = _created(post(f"/funds/{province}/allocations",
                         t.allocation_to_fund("130100", "石财社〔2024〕2号", "600000.00")), "target_id")
    county = _created(post(f"/funds/{city}/allocations",
                           t.allocation_to_fund("130102", "长财社〔2024〕3号", "300000.00")), "target_id")
    project = _created(post("/projects", t.registration()), "project_id")
    _created(post(f"/funds/{county}/allocations", t.allocation_to_project(project, "200000.00")), "allocation_id")
    procurement = _created(post(f"/projects/{project}/procurements", t.procurement()), "procurement_id")
    _created(post(f"/procurements/{procurement}/steps", t.contract()), "procurement_id")
    _created(post(f"/projects/{project}/disbursements", t.disbursement(county, "50000.00")), "entry_id")
    _created(post(f"/projects/{project}/expenditures", t.expenditure("800.00")), "entry_id")
    # a prohibited budget line: an EAR-02 finding for the auditor to decide
    _created(post(f"/projects/{project}/expenditures",
                  t.expenditure(line="official_reception", invoice_no="FP-JD-1")), "entry_id")
    lanzhou = _created(post("/funds", t.appropriation("620100", "兰财社〔2024〕9号", "500000.00")), "fund_id")
    findings = requests.get(f"{api}/audit/findings", headers=server.auth("auditor"), timeout=30)
    assert findings.status_code == 200, findings.text
    finding_ids = [str(f["finding_id"]) for f in findings.json()["items"]]
    return {"fund_id": [province, city, county, lanzhou], "project_id": [project], "procurement_id": [procurement],
            "finding_id": finding_ids, "code": ["130000", "130100", "130102", "130102001", "620100"]}
