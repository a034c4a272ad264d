"""API fixtures: the Flask app on the test's store (SQLite file or PostgreSQL schema), tokens per role and region,
and a small world: a Hebei fund passed down to 长安区, a station project in 建北街道 with a signed contract."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask

from api import testing as t


@pytest.fixture
def api(app_env: dict[str, str]) -> Iterator[Flask]:
    with t.running_app(app_env) as app:
        yield app


@dataclass
class People:
    """Token holders: officers and auditors of 河北 (13), 长安区 (130102) and 兰州 (6201); a national auditor; admin."""

    hebei: t.Caller
    changan: t.Caller
    lanzhou: t.Caller
    auditor_hebei: t.Caller
    auditor_lanzhou: t.Caller
    auditor_all: t.Caller
    admin: t.Caller
    anonymous: t.Caller


@pytest.fixture
def people(api: Flask) -> People:
    return People(
        hebei=t.Caller(api, t.token(api, "河北省厅财务 张敏", "officer", "13")),
        changan=t.Caller(api, t.token(api, "长安区民政局财务 李娜", "officer", "130102")),
        lanzhou=t.Caller(api, t.token(api, "兰州市民政局财务 王强", "officer", "6201")),
        auditor_hebei=t.Caller(api, t.token(api, "河北审计 赵审", "auditor", "13")),
        auditor_lanzhou=t.Caller(api, t.token(api, "兰州审计 钱审", "auditor", "6201")),
        auditor_all=t.Caller(api, t.token(api, "审计署 孙审", "auditor", "")),
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
    lanzhou_fund: str


created = t.created


def build_world(people: People) -> World:
    o = people.hebei
    province = created(o.post("/funds", t.appropriation()), "fund_id")
    city = created(o.post(f"/funds/{province}/allocations",
                          t.allocation_to_fund("130100", "石财社〔2024〕2号", "600000.00")), "target_id")
    county = created(o.post(f"/funds/{city}/allocations",
                            t.allocation_to_fund("130102", "长财社〔2024〕3号", "300000.00")), "target_id")
    project = created(o.post("/projects", t.registration()), "project_id")
    created(o.post(f"/funds/{county}/allocations", t.allocation_to_project(project, "200000.00")), "allocation_id")
    procurement = created(o.post(f"/projects/{project}/procurements", t.procurement()), "procurement_id")
    created(o.post(f"/procurements/{procurement}/steps", t.contract()), "procurement_id")
    lanzhou = created(people.lanzhou.post("/funds", t.appropriation("620100", "兰财社〔2024〕9号", "500000.00")),
                      "fund_id")
    return World(province, city, county, project, procurement, lanzhou)


@pytest.fixture
def world(people: People) -> World:
    return build_world(people)
