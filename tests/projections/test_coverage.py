"""覆盖率 and LAG-10: township units with an operating station, which codes count, and the straight line to a target.

The figures are those of DOMAIN.md on the shipped NBS 2023 division table: 兰州市 112 township units in its 8
counties/districts (109 without its 3 政企合一 units) or 116 with the functional zone 兰州新区; 拉萨市 65; 河北省
2,365 township-level units in 11 prefecture cities.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.regions import children, township_kind, townships_under
from ledger.vocabulary import OUTPUT_INDICATORS
from projections.coverage import (
    DEFAULT_SERVICE_POINT_TARGETS,
    DEFAULT_TARGETS,
    CountingRule,
    CoverageTarget,
    ServicePointTarget,
    coverage,
    coverage_finding,
    reported_service_points,
    service_point_targets_from,
    service_points,
)
from projections.rules.params import RuleParameters

LANZHOU, LHASA, HEBEI = "620100", "540100", "130000"
LANZHOU_NEW_AREA = "620171"  # 兰州新区: a statistical functional zone
EVERYTHING = CountingRule(include_functional_zones=True, include_enterprise_units=True)


def counted(region: str, rule: CountingRule | None = None) -> list[str]:
    """The township codes a region counts by a counting rule, in code order."""
    rule = rule or CountingRule()
    return [t.code for t in townships_under(region) if rule.counts(t.code)]


def operating(region: str, stations: int) -> set[str]:
    """The first ``stations`` counted township units of a region, each with an operating station."""
    return set(counted(region)[:stations])


# -- which township units count ----------------------------------------------------------------------------------------


def test_lanzhou_counts_109_township_units_by_default_and_states_its_denominator() -> None:
    figure = coverage(LANZHOU, set(), date(2023, 6, 30))

    assert (figure["name"], figure["township_units"]) == ("兰州市", 109)
    assert figure["denominator"] == "统计用区划代码（2023）中的乡级单位，不含功能区、政企合一单位"
    assert not any(code.startswith(LANZHOU_NEW_AREA) for code in counted(LANZHOU))
    assert sum(1 for code in counted(LANZHOU, EVERYTHING) if township_kind(code) == "enterprise") == 3


def test_lanzhou_counts_112_in_its_8_counties_and_116_with_lanzhou_new_area() -> None:
    counties = [c.code for c in children(LANZHOU) if c.code != LANZHOU_NEW_AREA]

    with_enterprise_units = CountingRule(include_enterprise_units=True)
    assert len(counties) == 8
    assert coverage(LANZHOU, set(), date(2023, 6, 30), with_enterprise_units)["township_units"] == 112
    assert sum(len(townships_under(c)) for c in counties) == 112

    everything = coverage(LANZHOU, set(), date(2023, 6, 30), EVERYTHING)
    assert everything["township_units"] == 116
    assert everything["denominator"] == "统计用区划代码（2023）中的乡级单位"


def test_lhasa_counts_its_65_township_units() -> None:
    assert coverage(LHASA, set(), date(2023, 6, 30))["township_units"] == 65


def test_hebei_counts_2365_township_level_units_in_11_cities_or_2195_by_default() -> None:
    assert len([c for c in children(HEBEI) if c.level == "city"]) == 11
    assert coverage(HEBEI, set(), date(2023, 6, 30), EVERYTHING)["township_units"] == 2365
    assert coverage(HEBEI, set(), date(2023, 6, 30))["township_units"] == 2195


def test_a_station_in_a_unit_that_does_not_count_is_not_covered() -> None:
    enterprise_unit = next(c for c in counted(LANZHOU, EVERYTHING) if township_kind(c) == "enterprise")

    assert coverage(LANZHOU, {enterprise_unit}, date(2023, 6, 30))["operating"] == 0
    assert coverage(LANZHOU, {enterprise_unit}, date(2023, 6, 30), EVERYTHING)["operating"] == 1


def test_the_configured_targets_are_those_of_the_plans() -> None:
    targets = {t.region: (t.share, t.by) for t in DEFAULT_TARGETS}

    assert targets == {LANZHOU: (Decimal("1"), date(2023, 12, 31)), LHASA: (Decimal("1"), date(2024, 12, 31)),
                       HEBEI: (Decimal("1"), date(2023, 12, 31))}


# -- LAG-10 社工站覆盖滞后 ---------------------------------------------------------------------------------------------

MID_2023 = date(2023, 7, 2)  # 182 of the 364 days from 2023-01-01 to 2023-12-31: 兰州's line stands at 50%


@pytest.mark.parametrize(("stations", "behind"), [(54, True), (55, False), (109, False)])
def test_lag10_lanzhou_below_the_straight_line_to_full_coverage_is_behind_plan(stations: int, behind: bool) -> None:
    figure = coverage(LANZHOU, operating(LANZHOU, stations), MID_2023)  # the line: 54.5 of 109 units

    finding = coverage_finding(figure)

    assert figure["target"]["planned_on_date"] == Decimal("0.5000")
    assert figure["behind_plan"] is behind and (finding is not None) is behind
    if finding is not None:
        assert (finding.rule, finding.severity, finding.subject_id, finding.effective_on) == (
            "LAG-10", "S3", LANZHOU, MID_2023)
        assert "覆盖 54/109" in finding.detail and "低于计划进度 50.00%" in finding.detail
        assert "口径：统计用区划代码（2023）中的乡级单位，不含功能区、政企合一单位" in finding.detail
        assert finding.params == {"target": "1", "by": "2023-12-31", "start": "2023-01-01",
                                  "planned_on_date": "0.5000", "township_units": 109,
                                  "denominator": figure["denominator"]}


@pytest.mark.parametrize(("stations", "behind"), [(12, True), (13, False)])
def test_lag10_lhasa_exactly_on_the_line_is_not_behind(stations: int, behind: bool) -> None:
    on = date(2023, 1, 1) + timedelta(days=146)  # 146 of 730 days: the line stands at 20%, 13 of 65 units
    figure = coverage(LHASA, operating(LHASA, stations), on)

    assert figure["behind_plan"] is behind
    assert (coverage_finding(figure) is not None) is behind


@pytest.mark.parametrize(("stations", "behind"), [(0, True), (1, False)])
def test_lag10_on_the_line_is_compared_exactly_not_after_rounding(stations: int, behind: bool) -> None:
    """One unit a day for 109 days: on day 1 the line is 1/109 (0.0092 rounded), which one station meets exactly."""
    target = CoverageTarget(LANZHOU, Decimal("1"), date(2023, 1, 1) + timedelta(days=109), date(2023, 1, 1))

    figure = coverage(LANZHOU, operating(LANZHOU, stations), date(2023, 1, 2), targets=(target,))

    assert figure["behind_plan"] is behind


@pytest.mark.parametrize(("stations", "behind"), [(108, True), (109, False)])
def test_lag10_at_the_deadline_the_whole_target_is_due(stations: int, behind: bool) -> None:
    for on in (date(2023, 12, 31), date(2024, 6, 30)):
        assert coverage(LANZHOU, operating(LANZHOU, stations), on)["behind_plan"] is behind


def test_lag10_counting_more_codes_raises_the_bar() -> None:
    covered = operating(LANZHOU, 109)

    assert coverage(LANZHOU, covered, date(2023, 12, 31))["coverage"] == Decimal("1.0000")
    everything = coverage(LANZHOU, covered, date(2023, 12, 31), EVERYTHING)
    assert (everything["operating"], everything["township_units"], everything["behind_plan"]) == (109, 116, True)


def test_lag10_nothing_is_due_at_the_plans_start_or_without_a_target() -> None:
    assert coverage(HEBEI, set(), date(2023, 2, 1))["behind_plan"] is False  # the campaign starts in February
    assert coverage(HEBEI, set(), date(2023, 2, 2))["behind_plan"] is True
    shijiazhuang = coverage("130100", set(), date(2023, 12, 31))
    assert shijiazhuang["target"] is None and coverage_finding(shijiazhuang) is None


def test_coverage_targets_come_from_the_rules_configuration_file(tmp_path) -> None:
    from datetime import date as day
    from decimal import Decimal as D

    from projections.coverage import coverage, targets_from
    from projections.rules.params import RuleParameters

    path = tmp_path / "rules.toml"
    path.write_text('[[coverage_target]]\nregion = "620102"\nshare = "0.5"\nby = 2024-12-31\nstart = 2024-01-01\n'
                    'note = "城关区半数覆盖"\n', encoding="utf-8")
    targets = targets_from(RuleParameters.from_file(path).document)
    figure = coverage("620102", set(), day(2024, 12, 31), targets=targets)
    assert figure["target"]["share"] == D("0.5") and figure["target"]["note"] == "城关区半数覆盖"
    assert figure["behind_plan"] is True
    assert coverage("620100", set(), day(2024, 12, 31), targets=targets)["target"] is None
    assert targets_from({}) != targets  # without the section the plans of the design notes apply
    path.write_text('[[coverage_target]]\nregion = "620102"\nshare = "1.5"\nby = 2024-12-31\nstart = 2024-01-01\n',
                    encoding="utf-8")
    import pytest

    with pytest.raises(ValueError, match="share"):
        targets_from(RuleParameters.from_file(path).document)


# -- 村(社区)社工服务点 (拉萨市: 65% of its villages and communities by end-2024) --------------------------------------

# The division table stops at township level, so the village count is configured; 200 is a test figure.
LHASA_PLAN = ServicePointTarget(LHASA, Decimal("0.65"), date(2024, 12, 31), date(2023, 1, 1), "", villages=200)
NEW_YEAR_2024 = date(2024, 1, 1)  # 365 of the 730 days: the line stands at 32.5%, 65 of 200


def monthly(*reports: tuple[str, date, int]) -> dict[str, dict[str, Any]]:
    """One project's output reports (month → report) as the projection keeps them."""
    return {month: {"values": {"service_points": points, "cases": 3}, "effective_on": on}
            for month, on, points in reports}


def test_the_default_service_point_plan_is_lhasas_65_percent_by_end_2024_without_a_village_count() -> None:
    assert [(t.region, t.share, t.start, t.by, t.villages) for t in DEFAULT_SERVICE_POINT_TARGETS] == [
        (LHASA, Decimal("0.65"), date(2023, 1, 1), date(2024, 12, 31), None)]
    assert OUTPUT_INDICATORS["service_points"] == "村(社区)服务点"


def test_service_points_sum_the_monthly_reports_dated_on_or_before_the_evaluation_date() -> None:
    baguo = monthly(("2023-06", date(2023, 7, 5), 30), ("2023-12", date(2024, 1, 3), 6))
    deqing = monthly(("2023-11", date(2023, 12, 5), 34))

    assert reported_service_points([baguo, deqing], NEW_YEAR_2024) == 64
    assert reported_service_points([baguo, deqing], date(2024, 1, 3)) == 70
    assert reported_service_points([baguo, deqing], date(2023, 7, 4)) == 0
    assert reported_service_points([monthly(), {"2023-06": {"values": {"cases": 4}, "effective_on": NEW_YEAR_2024}}],
                                   NEW_YEAR_2024) == 0


@pytest.mark.parametrize(("points", "behind"), [(64, True), (65, False)])
def test_lag10_service_points_exactly_on_the_straight_line_are_not_behind(points: int, behind: bool) -> None:
    figure = service_points(LHASA, NEW_YEAR_2024, points, (LHASA_PLAN,))

    assert figure is not None
    assert figure["target"]["planned_on_date"] == Decimal("0.3250")
    assert figure["target"]["planned_points"] == Decimal("65.00")
    assert figure["behind_plan"] is behind and (figure["finding"] is not None) is behind
    if behind:
        finding = figure["finding"]
        assert (finding["rule"], finding["severity"], finding["title"], finding["subject_id"]) == (
            "LAG-10", "S3", "村(社区)服务点覆盖滞后", LHASA)
        assert finding["finding_key"] == "service_points:2024-12-31" and finding["effective_on"] == NEW_YEAR_2024
        assert "覆盖 64/200（32.00%），低于计划进度 32.50%（65.00 个）" in finding["detail"]
        assert finding["params"] == {"target": "0.65", "by": "2024-12-31", "start": "2023-01-01",
                                     "planned_on_date": "0.3250", "villages": 200, "reported": 64}


@pytest.mark.parametrize(("points", "behind"), [(0, True), (1, False)])
def test_lag10_one_service_point_meets_a_line_standing_at_exactly_one(points: int, behind: bool) -> None:
    """200 villages at 65% over 130 days: one point a day, so on day 1 the line is exactly 1 point."""
    plan = ServicePointTarget(LHASA, Decimal("0.65"), date(2023, 1, 1) + timedelta(days=130), date(2023, 1, 1),
                              villages=200)

    figure = service_points(LHASA, date(2023, 1, 2), points, (plan,))

    assert figure is not None and figure["behind_plan"] is behind


@pytest.mark.parametrize(("points", "behind"), [(129, True), (130, False)])
def test_lag10_service_points_are_compared_exactly_not_after_rounding(points: int, behind: bool) -> None:
    """Over 131 days, on day 130 the line stands at 130 × 130 / 131 = 129.008 points: 64.504%, shown as 64.50%.
    129 points are 64.50% too, and still behind."""
    plan = ServicePointTarget(LHASA, Decimal("0.65"), date(2023, 1, 1) + timedelta(days=131), date(2023, 1, 1),
                              villages=200)

    figure = service_points(LHASA, date(2023, 1, 1) + timedelta(days=130), points, (plan,))

    assert figure is not None and figure["target"]["planned_on_date"] == Decimal("0.6450")
    assert figure["target"]["planned_points"] == Decimal("129.01")
    assert figure["behind_plan"] is behind


def test_lag10_service_points_at_and_after_the_deadline_the_whole_share_is_due() -> None:
    for on in (date(2024, 12, 31), date(2025, 6, 30)):
        assert service_points(LHASA, on, 129, (LHASA_PLAN,))["behind_plan"] is True
        assert service_points(LHASA, on, 130, (LHASA_PLAN,))["behind_plan"] is False
    assert service_points(LHASA, date(2023, 1, 1), 0, (LHASA_PLAN,))["behind_plan"] is False


def test_without_a_configured_village_count_the_figure_says_so_and_judges_nothing() -> None:
    figure = service_points(LHASA, NEW_YEAR_2024, 30)  # the default plan: no village count

    assert figure is not None
    assert (figure["reported"], figure["villages"], figure["coverage"], figure["behind_plan"]) == (30, None, None, None)
    assert figure["denominator"] == "村(社区)数未配置"
    assert figure["target"]["planned_on_date"] == Decimal("0.3250") and figure["target"]["planned_points"] is None
    assert figure["finding"] is None
    assert service_points(LHASA, date(2025, 6, 30), 0)["finding"] is None


def test_a_region_no_service_point_plan_names_has_no_figure() -> None:
    assert service_points(LANZHOU, NEW_YEAR_2024, 12) is None
    assert service_points("540102", NEW_YEAR_2024, 12, (LHASA_PLAN,)) is None  # 城关区: the plan is the city's


def test_service_point_plans_come_from_the_rules_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[service_point_target]]\nregion = "540100"\nvillages = 250\nshare = "0.65"\nby = 2024-12-31\n'
                    'start = 2023-01-01\nnote = "拉萨市村(社区)社工服务点覆盖65%"\n', encoding="utf-8")

    [plan] = service_point_targets_from(RuleParameters.from_file(path).document)

    assert (plan.region, plan.villages, plan.share, plan.by, plan.start, plan.note) == (
        LHASA, 250, Decimal("0.65"), date(2024, 12, 31), date(2023, 1, 1), "拉萨市村(社区)社工服务点覆盖65%")
    assert service_point_targets_from({}) == DEFAULT_SERVICE_POINT_TARGETS


@pytest.mark.parametrize(("table", "message"), [
    ('region = "540100"\nvillages = 0\nshare = "0.65"\nby = 2024-12-31\nstart = 2023-01-01', "villages"),
    ('region = "540100"\nvillages = "250"\nshare = "0.65"\nby = 2024-12-31\nstart = 2023-01-01', "villages"),
    ('region = "540100"\nvillages = 250\nshare = "65"\nby = 2024-12-31\nstart = 2023-01-01', "share"),
    ('region = "540100"\nvillages = 250\nshare = "0.65"\nby = 2024-12-31', "needs start"),
    ('region = "540100"\nvilages = 250\nshare = "0.65"\nby = 2024-12-31\nstart = 2023-01-01', "vilages"),
    ('region = "540102002"\nshare = "0.65"\nby = 2024-12-31\nstart = 2023-01-01', "not a township"),
    ('region = "999999"\nshare = "0.65"\nby = 2024-12-31\nstart = 2023-01-01', "999999"),
])
def test_a_bad_service_point_plan_is_refused_when_the_configuration_is_read(tmp_path: Path, table: str,
                                                                            message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(f"[[service_point_target]]\n{table}\n", encoding="utf-8")

    with pytest.raises(ValueError, match=message):
        RuleParameters.from_file(path)
