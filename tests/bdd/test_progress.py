"""The progress and performance specifications: every LAG and PRF rule fired and held at its boundary, judged at
the evaluation date each scenario names, and the coverage figures (stations against township units, and the
village/community service points against a configured village count) through the HTTP API on both stores."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from api import testing as t

# Named here so that pytest parametrises every scenario over the stores (the steps ask for it only at run time).
pytestmark = pytest.mark.usefixtures("ledger")

scenarios("progress_lags.feature", "coverage.feature", "service_points.feature", "performance.feature")

# The shared steps' conventions (tests/bdd/conftest.py), restated here: a test module cannot import that conftest by
# name, since every test directory has one and the name ``conftest`` means whichever pytest imported last.
DATE_PATTERN = r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日"
Ledger = Any  # tests/bdd/conftest.py's Ledger: the scenario's API, people, ids behind names, last answer
Reading = Any  # tests/bdd/conftest.py's Reading: what one dated audit read answered


def day(text: str) -> str:
    """2024年3月1日 → 2024-03-01."""
    match = re.fullmatch(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日", text.strip())
    assert match is not None, f"write dates as 2024年3月1日, not {text!r}"
    return date(*(int(part) for part in match.groups())).isoformat()


def code_of(region: str) -> str:
    match = re.search(r"[0-9]{6,9}", region)
    assert match is not None, f"write regions as 名称(代码), not {region!r}"
    return match.group(0)


def percent(value: Any) -> str:
    """A share as the API gives it ("0.3250") → 32.50%."""
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.01'))}%"


def share(text: str) -> str:
    """65% → 0.65."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)%", text.strip())
    assert match is not None, f"write shares as 65%, not {text!r}"
    return str(Decimal(match.group(1)) / 100)


def pattern(template: str) -> Any:
    """"{name}" is a quoted value, {on} / {start} / {end} a date written 2024年3月1日; the rest is a regular
    expression (so the brackets of 村(社区) are written escaped)."""
    def group(match: re.Match[str]) -> str:
        quote, name = match.group(1), match.group(2)
        if quote:
            return f'"(?P<{name}>[^"]+)"'
        return f"(?P<{name}>{DATE_PATTERN})" if name in ("on", "start", "end") else f"(?P<{name}>.+?)"

    return parsers.re(re.sub(r'("?)\{([a-z_]+)\}\1', group, template))


# == 村(社区)社工服务点 (features/service_points.feature) ======================================================

@given(pattern(r'规则配置写明"{region}"有"{villages}"个村\(社区\)，计划{start}起至{end}村\(社区\)服务点覆盖"{target}"'))
def service_point_plan(ledger: Ledger, app_env: dict[str, str], tmp_path: Path, region: str, villages: str,
                       start: str, end: str, target: str) -> None:
    """The rules configuration is read when the server starts: the step writes the file and starts the API again
    on the same store with it (the people keep their tokens)."""
    path = tmp_path / "rules.toml"
    path.write_text(f'[[service_point_target]]\nregion = "{code_of(region)}"\nvillages = {int(villages)}\n'
                    f'share = "{share(target)}"\nby = {day(end)}\nstart = {day(start)}\n', encoding="utf-8")
    t.close_app(ledger.app)
    ledger.app = t.make_app(app_env, LEDGER_RULES_CONFIG=str(path))
    for caller in ledger.people.values():
        caller.app = ledger.app


@when(pattern(r'"{who}"查看"{region}"在{on}的村\(社区\)服务点覆盖'))
def read_service_points(ledger: Ledger, reading: Reading, who: str, region: str, on: str) -> None:
    response = ledger.people[who].get("/audit/coverage", query={
        "region": code_of(region), "on": day(on), "min_position": str(t.log_position(ledger.app))})
    assert response.status_code == 200, response.get_json()
    figure = response.get_json()["service_points"]
    assert figure is not None and figure["on"] == day(on), figure
    reading.on, reading.finding, reading.figure = day(on), None, figure
    reading.items = [figure["finding"]] if figure["finding"] else []


@then(pattern(r'运营中的村\(社区\)服务点为"{reported}"个，村\(社区\)数为"{villages}"个，覆盖率为"{coverage}"，'
              r'计划进度为"{planned}"'))
def service_point_figure(reading: Reading, reported: str, villages: str, coverage: str, planned: str) -> None:
    figure = reading.figure
    assert (figure["reported"], figure["villages"]) == (int(reported), int(villages)), figure
    assert percent(figure["coverage"]) == coverage, figure
    assert percent(figure["target"]["planned_on_date"]) == planned, figure["target"]


@then(pattern(r'运营中的村\(社区\)服务点为"{reported}"个，村\(社区\)数未配置，计划到{end}覆盖"{target}"'))
def service_points_without_villages(reading: Reading, reported: str, end: str, target: str) -> None:
    figure = reading.figure
    assert figure["reported"] == int(reported), figure
    assert (figure["villages"], figure["coverage"], figure["behind_plan"]) == (None, None, None), figure
    assert figure["denominator"] == "村(社区)数未配置", figure
    assert (figure["target"]["by"], Decimal(figure["target"]["share"])) == (day(end), Decimal(share(target)))
    assert figure["target"]["planned_points"] is None, figure["target"]


@then(pattern(r"村\(社区\)服务点覆盖(?P<behind>落后|不落后)于计划"))
def service_points_behind(reading: Reading, behind: str) -> None:
    assert reading.figure["behind_plan"] is (behind == "落后"), reading.figure
