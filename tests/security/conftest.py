"""Security fixtures: the API on the test's store with its data directory in the test's folder, token holders of
河北 (13) and 兰州 (6201), and a small world: a Hebei fund passed down to 长安区, a station project with a contract,
money paid and spent, and an EAR-02 finding in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import testing as t


@pytest.fixture
def api(app_env: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    with t.running_app(app_env, LEDGER_DATA_DIR=str(tmp_path / "data")) as app:
        yield app


@dataclass
class People:
    officer_in: t.Caller  # 河北省 (13): the world is inside its scope
    officer_out: t.Caller  # 兰州市 (6201)
    auditor: t.Caller  # 河北省 (13)
    admin: t.Caller
    anonymous: t.Caller


@pytest.fixture
def people(api: Flask) -> People:
    return People(
        officer_in=t.Caller(api, t.token(api, "河北省厅财务 张敏", "officer", "13")),
        officer_out=t.Caller(api, t.token(api, "兰州市民政局财务 王强", "officer", "6201")),
        auditor=t.Caller(api, t.token(api, "河北审计 赵审", "auditor", "13")),
        admin=t.Caller(api, t.token(api, "系统管理员", "admin", "")),
        anonymous=t.Caller(api, None),
    )


@dataclass
class World:
    province_fund: str
    city_fund: str
    county_fund: str
    project: str
    procurement: str
    entry: str
    finding: str


created = t.created


@pytest.fixture
def world(people: People) -> World:
    o = people.officer_in
    province = created(o.post("/funds", t.appropriation()), "fund_id")
    city = created(o.post(f"/funds/{province}/allocations",
                          t.allocation_to_fund("130100", "石财社〔2024〕2号", "600000.00")), "target_id")
    county = created(o.post(f"/funds/{city}/allocations",
                            t.allocation_to_fund("130102", "长财社〔2024〕3号", "300000.00")), "target_id")
    project = created(o.post("/projects", t.registration()), "project_id")
    created(o.post(f"/funds/{county}/allocations", t.allocation_to_project(project, "200000.00")), "allocation_id")
    procurement = created(o.post(f"/projects/{project}/procurements", t.procurement()), "procurement_id")
    created(o.post(f"/procurements/{procurement}/steps", t.contract()), "procurement_id")
    created(o.post(f"/projects/{project}/disbursements", t.disbursement(county, "50000.00")), "entry_id")
    entry = created(o.post(f"/projects/{project}/expenditures", t.expenditure("800.00")), "entry_id")
    created(o.post(f"/projects/{project}/expenditures",  # a prohibited budget line: an EAR-02 finding
                   t.expenditure(line="official_reception", invoice_no="FP-JD-1")), "entry_id")
    findings = people.auditor.get("/audit/findings", query={"rule": "EAR-02"}).get_json()["items"]
    return World(province, city, county, project, procurement, entry, str(findings[0]["finding_id"]))


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def console_client(api: Flask, secret: str | None, base_url: str = "http://localhost") -> FlaskClient:
    """A browser of the console: signed in with ``secret`` when it may sign in, else without a session."""
    client = api.test_client()
    if secret is None:
        return client
    form = client.get("/console/login", base_url=base_url)
    client.post("/console/login", data={"token": secret, "csrf_token": csrf_of(form.text)}, base_url=base_url)
    return client
