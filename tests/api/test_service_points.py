"""拉萨市's village/community service points (村(社区)社工服务点) in the region roll-up, the OpenAPI document and the
console region page, on both stores. The arithmetic and LAG-10 are specified in tests/projections/test_coverage.py
and features/service_points.feature."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import testing as t

ON = "2024-07-01"  # 547 of the 730 days from 2023-01-01 to 2024-12-31: the line stands at 48.71%, 97.41 of 200


@pytest.fixture
def lhasa(app_env: dict[str, str], tmp_path: Path) -> Callable[[int | None], AbstractContextManager[Flask]]:
    """The API with 拉萨市's service-point plan, its village count configured (a number) or not (None)."""
    def start(villages: int | None) -> AbstractContextManager[Flask]:
        config: dict[str, str] = {"LEDGER_DATA_DIR": str(tmp_path / "data")}
        if villages is not None:
            rules = tmp_path / "rules.toml"
            rules.write_text(f'[[service_point_target]]\nregion = "540100"\nvillages = {villages}\nshare = "0.65"\n'
                             'by = 2024-12-31\nstart = 2023-01-01\nnote = "拉萨市村(社区)社工服务点覆盖65%"\n',
                             encoding="utf-8")
            config["LEDGER_RULES_CONFIG"] = str(rules)
        return t.running_app(app_env, **config)

    return start


def _reported(app: Flask, points: int) -> str:
    """A 拉萨市 station project in 八廓街道 for 2024 that reported ``points`` service points for January; the
    secret of an auditor of 西藏自治区."""
    officer = t.Caller(app, t.token(app, "拉萨市民政局财务 次仁", "officer", "540100"))
    registered = officer.post("/projects", t.registration(
        code="SGZ-540102002-2024", township="540102002", name="八廓街道社工站2024年度运营项目",
        station_name="八廓街道双语社会工作服务站", period_start="2024-01-01", period_end="2024-12-31",
        effective_on="2023-12-20"))
    assert registered.status_code == 201, registered.get_json()
    reported = officer.post(f"/projects/{registered.get_json()['project_id']}/outputs",
                            {"month": "2024-01", "values": {"service_points": points, "cases": 4},
                             "effective_on": "2024-02-05"})
    assert reported.status_code == 201, reported.get_json()
    return t.token(app, "西藏审计 卓玛", "auditor", "54")


def _console(app: Flask, secret: str) -> FlaskClient:
    client = app.test_client()
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None, form[:2000]
    signed_in = client.post("/console/login", data={"token": secret, "csrf_token": csrf.group(1)})
    assert signed_in.status_code == 302, signed_in.text[:2000]
    return client


def test_the_region_roll_up_and_the_console_show_lhasas_service_points_behind_its_plan(
        lhasa: Callable[[int | None], AbstractContextManager[Flask]]) -> None:
    with lhasa(200) as app:
        auditor = t.Caller(app, _reported(app, 30))
        body = auditor.get("/audit/regions/540100", query={"on": ON, "min_position": str(t.log_position(app))})

        assert body.status_code == 200, body.get_json()
        points = body.get_json()["coverage"]["service_points"]
        assert (points["reported"], points["villages"], points["coverage"], points["behind_plan"]) == (
            30, 200, "0.1500", True)
        assert points["target"]["planned_on_date"] == "0.4871" and points["target"]["planned_points"] == "97.41"
        assert (points["finding"]["rule"], points["finding"]["title"]) == ("LAG-10", "村(社区)服务点覆盖滞后")
        city = auditor.get("/audit/regions/540102", query={"on": ON}).get_json()  # 城关区: no plan names it
        assert city["coverage"]["service_points"] is None

        page = _console(app, auditor.secret).get(f"/console/regions/540100?on={ON}")
        assert page.status_code == 200
        table = page.text[page.text.index('id="service-points"'):]
        row = (r'<th>拉萨市</th><td class="num">200</td><td class="num">30</td>\s*'
               r'<td class="num">15.0%</td><td class="num">48.7%\(97.41 个\)</td>\s*<td>是</td>')
        assert re.search(row, table), table
        assert "口径:规则配置的村(社区)数 200 个" in page.text


def test_without_a_village_count_the_region_roll_up_and_the_console_say_it_is_not_configured(
        lhasa: Callable[[int | None], AbstractContextManager[Flask]]) -> None:
    with lhasa(None) as app:
        auditor = t.Caller(app, _reported(app, 30))
        points = auditor.get("/audit/regions/540100", query={
            "on": ON, "min_position": str(t.log_position(app))}).get_json()["coverage"]["service_points"]

        assert (points["reported"], points["villages"], points["coverage"], points["behind_plan"]) == (
            30, None, None, None)
        assert points["denominator"] == "村(社区)数未配置" and points["finding"] is None

        page = _console(app, auditor.secret).get(f"/console/regions/540100?on={ON}").text
        assert '<td class="num">未配置</td><td class="num">30</td>' in page
        assert "村(社区)数未配置" in page
        assert 'id="service-points"' not in _console(app, auditor.secret).get("/console/regions/620100").text


def test_the_openapi_document_describes_the_service_point_block(
        lhasa: Callable[[int | None], AbstractContextManager[Flask]]) -> None:
    with lhasa(None) as app:
        document: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").get_json()

    schemas = document["components"]["schemas"]
    assert "service_points" in schemas["CoverageOut"]["properties"]
    assert {"reported", "villages", "denominator", "coverage", "target", "behind_plan", "finding"} <= set(
        schemas["ServicePointsOut"]["properties"])
    assert "planned_points" in schemas["ServicePointTargetOut"]["properties"]

