"""覆盖率 and LAG-10: township units with an operating station, which codes count, and the straight line to a target.

The figures are those of DOMAIN.md on the shipped NBS 2023 division table: 兰州市 112 township units in its 8
counties/districts (109 without its 3 政企合一 units) or 116 with the functional zone 兰州新区; 拉萨市 65; 河北省
2,365 township-level units in 11 prefecture cities.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledger.regions import children, township_kind, townships_under
from projections.coverage import DEFAULT_TARGETS, CountingRule, CoverageTarget, coverage, coverage_finding

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
