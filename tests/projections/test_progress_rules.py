"""进度: the nine LAG rules of projects and funds (LAG-10, coverage, is in ``test_coverage.py``), each with a case
that fires and a boundary case that must not, judged at an explicit evaluation date.

Real ledger events from an in-memory ``LedgerApplication`` are folded by ``ReadModel`` and judged by the rule engine
on the date ``on``: a rule sees only what had taken effect by then. Boundaries follow RULES.md: thresholds that say
"at least" are inclusive, day counts are whole days, and a deadline given as a date ends at 24:00 on that date.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from projection_builders import (
    CHANGAN,
    DAY,
    PERIOD_END,
    SHIJIAZHUANG,
    SIGNED,
    Officer,
    fund_lag_findings,
    lag_findings,
    of_rule,
)

from ledger.application import LedgerApplication
from projections.rules import REGISTRY, Finding
from projections.rules.params import DEFAULTS, RuleParameters
from projections.rules.progress import PROJECT_LAG_RULES

HUNDRED_DAYS_END = DAY + timedelta(days=99)  # a 100-day period: 2023-03-01 .. 2023-06-08
HALFWAY = DAY + timedelta(days=49)  # 2023-04-19: 50 of the 100 days have passed by its end, time progress 50%
BUDGET_TOTAL = Decimal("180000.00")  # projection_builders.BUDGET


def lags(app: LedgerApplication, rule: str, on: date, parameters: RuleParameters | None = None) -> list[Finding]:
    """A project rule's findings on the evaluation date ``on``."""
    return of_rule(lag_findings(app, on, parameters=parameters), rule)


def fund_lags(app: LedgerApplication, fund: UUID, rule: str, on: date) -> dict[str, Finding]:
    """One fund's findings of a rule on ``on``, by key."""
    return {f.key: f for f in of_rule(fund_lag_findings(app, on), rule) if f.subject_id == str(fund)}


def share_of_budget(percent: str) -> str:
    return str((BUDGET_TOTAL * Decimal(percent) / 100).quantize(Decimal("0.01")))


def test_the_progress_rules_are_registered_project_rules_and_fund_rules() -> None:
    assert PROJECT_LAG_RULES == ("LAG-01", "LAG-02", "LAG-03", "LAG-04", "LAG-06", "LAG-07", "LAG-08", "LAG-09")
    assert all(REGISTRY[code].code == code and REGISTRY[code].version >= 1 for code in PROJECT_LAG_RULES)
    # LAG-05 (and the fund halves of LAG-01 and LAG-04) are judged by fund_lags; LAG-10 by coverage_finding.


# -- LAG-01 支出进度慢于序时进度: projects -----------------------------------------------------------------------------


@pytest.mark.parametrize(("spent_percent", "severity"), [
    ("39.9", "S3"),  # 10.1 pp behind 50% time progress
    ("40.0", None),  # exactly 10 pp behind: RULES.md fires only when spent < elapsed − gap
    ("29.9", "S2"),  # 20.1 pp behind
    ("30.0", "S3"),  # exactly 20 pp behind: still the warning
])
def test_lag01_a_project_spending_10_pp_behind_time_progress_is_a_warning_and_20_pp_is_serious(
        officer: Officer, memory_app: LedgerApplication, spent_percent: str, severity: str | None) -> None:
    _, project = officer.funded_project(end=HUNDRED_DAYS_END)
    officer.spend(project, share_of_budget(spent_percent), on=date(2023, 4, 1))

    found = lags(memory_app, "LAG-01", HALFWAY)

    assert [f.severity for f in found] == ([severity] if severity else [])
    if severity:
        [finding] = found
        assert (finding.key, finding.effective_on, finding.subject_id) == ("project", HALFWAY, str(project))
        assert f"支出进度 {spent_percent}%" in finding.detail and "序时进度 50.0%" in finding.detail
        assert finding.params == DEFAULTS["LAG-01"]


def test_lag01_a_project_lag_disappears_when_spending_catches_up(officer: Officer,
                                                                 memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(end=HUNDRED_DAYS_END)
    officer.spend(project, share_of_budget("39.9"), on=date(2023, 4, 1))
    officer.spend(project, "10000.00", on=HALFWAY + timedelta(days=1))

    assert [f.severity for f in lags(memory_app, "LAG-01", HALFWAY)] == ["S3"]
    assert lags(memory_app, "LAG-01", HALFWAY + timedelta(days=1)) == []  # 45.6% spent against 51% elapsed


def test_lag01_reversed_spending_does_not_count_as_progress(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(end=HUNDRED_DAYS_END)
    officer.spend(project, share_of_budget("39.9"), on=date(2023, 4, 1))
    wrong = officer.spend(project, "18000.00", on=date(2023, 4, 2))
    officer.reverse(project, wrong, on=date(2023, 4, 3))

    assert [f.severity for f in lags(memory_app, "LAG-01", HALFWAY)] == ["S3"]


def test_lag01_a_project_is_judged_only_inside_its_period(officer: Officer, memory_app: LedgerApplication) -> None:
    officer.funded_project(end=HUNDRED_DAYS_END)

    assert lags(memory_app, "LAG-01", DAY - timedelta(days=1)) == []
    assert lags(memory_app, "LAG-01", HUNDRED_DAYS_END + timedelta(days=1)) == []  # LAG-07 takes over
    assert [f.severity for f in lags(memory_app, "LAG-01", HUNDRED_DAYS_END)] == ["S2"]


# -- LAG-01: funds (a fiscal-year budget held by a region) -------------------------------------------------------------

FORTY_PERCENT_OF_2023 = date(2023, 5, 26)  # day 146 of 365: time progress exactly 40%
END_OF_Q3 = date(2023, 9, 30)


@pytest.mark.parametrize(("passed_on", "severity"), [
    ("299000.00", "S3"),  # 29.9% passed on against 40% of the year: 10.1 pp behind
    ("300000.00", None),  # exactly 10 pp: not yet below elapsed − gap
    ("199000.00", "S2"),  # 20.1 pp
    ("200000.00", "S3"),  # exactly 20 pp: still the warning
])
def test_lag01_a_fund_passing_money_on_10_pp_behind_the_fiscal_year_is_a_warning_and_20_pp_is_serious(
        officer: Officer, memory_app: LedgerApplication, passed_on: str, severity: str | None) -> None:
    province = officer.fund("1000000.00")
    officer.child_fund(province, passed_on, on=DAY)

    found = fund_lags(memory_app, province, "LAG-01", FORTY_PERCENT_OF_2023)

    assert {k: f.severity for k, f in found.items()} == ({"year": severity} if severity else {})
    if severity:
        assert found["year"].params == DEFAULTS["LAG-01"]
        assert "序时进度 40.0%" in found["year"].detail


@pytest.mark.parametrize(("passed_on", "on", "fires"), [
    ("599000.00", END_OF_Q3, True),  # 59.9% at the end of Q3
    ("600000.00", END_OF_Q3, False),  # exactly 60%
    ("599000.00", END_OF_Q3 - timedelta(days=1), False),  # Q3 has not ended yet
])
def test_lag01_a_fund_below_60_percent_at_the_end_of_q3_is_serious(
        officer: Officer, memory_app: LedgerApplication, passed_on: str, on: date, fires: bool) -> None:
    province = officer.fund("1000000.00")
    officer.child_fund(province, passed_on, on=DAY)

    found = fund_lags(memory_app, province, "LAG-01", on)

    assert ("q3" in found) is fires
    if fires:
        assert (found["q3"].severity, found["q3"].effective_on) == ("S2", END_OF_Q3)
        assert "三季度末资金下达或支出进度 59.9%" in found["q3"].detail
        assert found["q3"].params["q3_minimum"] == Decimal("0.60")


def test_lag01_the_q3_check_is_judged_on_what_had_been_passed_on_by_the_end_of_q3(
        officer: Officer, memory_app: LedgerApplication) -> None:
    province = officer.fund("1000000.00")
    officer.child_fund(province, "500000.00", on=DAY)
    officer.child_fund(province, "300000.00", on=date(2023, 10, 10))

    found = fund_lags(memory_app, province, "LAG-01", date(2023, 10, 15))

    assert found["q3"].severity == "S2" and "50.0%" in found["q3"].detail  # 80% by 10-15 does not undo Q3
    assert "year" not in found  # 80% against 78.9% of the year: not behind now


def test_lag01_a_fund_received_after_q3_is_not_judged_at_the_end_of_q3(officer: Officer,
                                                                      memory_app: LedgerApplication) -> None:
    province = officer.fund("1000000.00", on=date(2023, 10, 8))
    officer.child_fund(province, "1000000.00", on=date(2023, 10, 9))

    assert fund_lags(memory_app, province, "LAG-01", date(2023, 10, 10)) == {}


# -- LAG-02 未完成月度分解计划 -----------------------------------------------------------------------------------------

PLAN = {"2023-03": "10000.00", "2023-04": "20000.00", "2023-05": "30000.00"}


def test_lag02_two_consecutive_months_below_80_percent_of_the_plan_fire_at_the_second_month_end(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(monthly_plan=PLAN)
    officer.spend(project, "7000.00", on=date(2023, 3, 15))  # 70% of 10,000
    officer.spend(project, "8000.00", on=date(2023, 4, 15))  # 75% of 20,000

    assert lags(memory_app, "LAG-02", date(2023, 4, 29)) == []  # April is not yet a completed month
    [finding] = lags(memory_app, "LAG-02", date(2023, 4, 30))

    assert (finding.severity, finding.key, finding.effective_on) == ("S3", "low:2023-03", date(2023, 4, 30))
    assert "连续 2 个月" in finding.detail and "低于" in finding.detail
    assert finding.params == DEFAULTS["LAG-02"]


def test_lag02_one_month_below_80_percent_is_not_a_finding(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(monthly_plan=PLAN)
    officer.spend(project, "7000.00", on=date(2023, 3, 15))  # March 70%
    officer.spend(project, "9000.00", on=date(2023, 4, 15))  # April exactly 80%: not below
    # May: 16,000 of 30,000 is low again, but March and May are not consecutive

    assert lags(memory_app, "LAG-02", date(2023, 5, 31)) == []


def test_lag02_two_consecutive_months_above_120_percent_are_front_loading(officer: Officer,
                                                                          memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(monthly_plan=PLAN)
    officer.spend(project, "12100.00", on=date(2023, 3, 15))  # 121%
    officer.spend(project, "12000.00", on=date(2023, 4, 15))  # 24,100 of 20,000: 120.5%

    [finding] = lags(memory_app, "LAG-02", date(2023, 4, 30))

    assert (finding.severity, finding.key) == ("S3", "high:2023-03")
    assert "高于" in finding.detail


def test_lag02_one_month_above_120_percent_is_not_a_finding(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(monthly_plan=PLAN)
    officer.spend(project, "12100.00", on=date(2023, 3, 15))  # 121%
    officer.spend(project, "11900.00", on=date(2023, 4, 15))  # exactly 120%: not above

    assert lags(memory_app, "LAG-02", date(2023, 4, 30)) == []


def test_lag02_a_low_month_then_a_high_month_is_no_streak(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(monthly_plan=PLAN)
    officer.spend(project, "7000.00", on=date(2023, 3, 15))  # 70%
    officer.spend(project, "18000.00", on=date(2023, 4, 15))  # 125%

    assert lags(memory_app, "LAG-02", date(2023, 4, 30)) == []


# -- LAG-03 产出指标滞后 -----------------------------------------------------------------------------------------------

TARGETS = {("cases", "2023-03"): 10, ("cases", "2023-04"): 20}
MARCH_DUE = date(2023, 4, 10)  # March's report is due on the 10th of April


@pytest.mark.parametrize(("cases", "severity"), [(5, "S2"), (6, "S3"), (7, "S3"), (8, None)])
def test_lag03_outputs_below_80_percent_of_target_are_a_warning_and_below_60_percent_serious(
        officer: Officer, memory_app: LedgerApplication, cases: int, severity: str | None) -> None:
    _, project = officer.funded_project(output_targets=TARGETS)
    officer.report(project, "2023-03", on=date(2023, 4, 5), cases=cases)

    found = lags(memory_app, "LAG-03", MARCH_DUE + timedelta(days=1))

    assert [f.severity for f in found] == ([severity] if severity else [])
    if severity:
        [finding] = found
        assert (finding.key, finding.effective_on) == ("cases", MARCH_DUE)
        assert f"累计个案 {cases}，目标 10" in finding.detail
        assert finding.params == DEFAULTS["LAG-03"]


def test_lag03_a_month_whose_report_is_not_yet_due_never_counts(officer: Officer,
                                                                memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project(output_targets=TARGETS)

    assert lags(memory_app, "LAG-03", MARCH_DUE) == []  # due today, and a dated deadline ends at 24:00
    assert [f.severity for f in lags(memory_app, "LAG-03", MARCH_DUE + timedelta(days=1))] == ["S2"]

    officer.report(project, "2023-03", on=date(2023, 4, 5), cases=8)
    assert lags(memory_app, "LAG-03", date(2023, 5, 10)) == []  # April's report is due today: still on time
    [april] = lags(memory_app, "LAG-03", date(2023, 5, 11))
    assert april.severity == "S2" and "截至 2023-04 累计个案 8，目标 20" in april.detail


def test_lag03_each_indicator_is_judged_at_its_own_last_due_target(officer: Officer,
                                                                   memory_app: LedgerApplication) -> None:
    """Targets need not run for every month: an indicator with a March target only is still judged in May."""
    targets = {("cases", "2023-03"): 10, ("groups", "2023-03"): 2, ("groups", "2023-04"): 4}
    _, project = officer.funded_project(output_targets=targets)
    officer.report(project, "2023-03", on=date(2023, 4, 5), groups=2)
    officer.report(project, "2023-04", on=date(2023, 5, 5), groups=2)

    [finding] = lags(memory_app, "LAG-03", date(2023, 5, 11))

    assert (finding.key, finding.severity) == ("cases", "S2")


# -- LAG-04 资金沉淀 ---------------------------------------------------------------------------------------------------


def test_lag04_a_project_holding_received_money_90_days_without_moving_it_is_idle(
        officer: Officer, memory_app: LedgerApplication) -> None:
    officer.funded_project()  # received 300,000 on 2023-03-01

    assert lags(memory_app, "LAG-04", DAY + timedelta(days=89)) == []
    [finding] = lags(memory_app, "LAG-04", DAY + timedelta(days=90))

    assert (finding.severity, finding.key) == ("S2", "project")
    assert "90 天无拨付或支出" in finding.detail
    assert finding.params == DEFAULTS["LAG-04"]


def test_lag04_a_disbursement_or_expenditure_restarts_the_idle_count(officer: Officer,
                                                                     memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.spend(project, "1000.00", on=date(2023, 4, 1))

    assert lags(memory_app, "LAG-04", date(2023, 4, 1) + timedelta(days=89)) == []
    assert len(lags(memory_app, "LAG-04", date(2023, 4, 1) + timedelta(days=90))) == 1


def test_lag04_a_reversed_expenditure_is_no_movement(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    wrong = officer.spend(project, "1000.00", on=date(2023, 4, 1))
    officer.reverse(project, wrong, on=date(2023, 4, 15))

    assert len(lags(memory_app, "LAG-04", DAY + timedelta(days=90))) == 1


def test_lag04_a_project_whose_period_has_ended_is_left_to_lag07(officer: Officer,
                                                                 memory_app: LedgerApplication) -> None:
    officer.funded_project(end=date(2023, 5, 15))

    assert lags(memory_app, "LAG-04", DAY + timedelta(days=90)) == []


def test_lag04_a_fund_holding_a_balance_90_days_without_an_allocation_is_idle(
        officer: Officer, memory_app: LedgerApplication) -> None:
    province = officer.fund("1000000.00", on=date(2023, 2, 1))
    officer.child_fund(province, "400000.00", on=DAY)

    assert fund_lags(memory_app, province, "LAG-04", DAY + timedelta(days=89)) == {}
    found = fund_lags(memory_app, province, "LAG-04", DAY + timedelta(days=90))

    assert found["fund"].severity == "S2" and "余额 600000.00 元" in found["fund"].detail
    assert found["fund"].params == DEFAULTS["LAG-04"]


# -- LAG-05 资金下达超时 -----------------------------------------------------------------------------------------------

RECEIVED = date(2023, 2, 1)


@pytest.mark.parametrize(("days", "late"), [(30, False), (31, True)])
def test_lag05_a_province_fund_passes_money_down_within_30_days(officer: Officer, memory_app: LedgerApplication,
                                                                days: int, late: bool) -> None:
    province = officer.fund("1000000.00", on=RECEIVED)
    officer.child_fund(province, "1000000.00", on=RECEIVED + timedelta(days=days))

    found = fund_lags(memory_app, province, "LAG-05", date(2023, 6, 1))

    assert list(found) == (["late"] if late else [])
    if late:
        assert (found["late"].severity, found["late"].effective_on) == ("S2", RECEIVED + timedelta(days=30))
        assert "超过 30 天" in found["late"].detail
        assert found["late"].params == DEFAULTS["LAG-05"]


def test_lag05_a_province_fund_still_holding_money_after_30_days_is_late(officer: Officer,
                                                                         memory_app: LedgerApplication) -> None:
    province = officer.fund("1000000.00", on=RECEIVED)
    officer.child_fund(province, "900000.00", on=RECEIVED + timedelta(days=10))

    assert fund_lags(memory_app, province, "LAG-05", RECEIVED + timedelta(days=30)) == {}
    found = fund_lags(memory_app, province, "LAG-05", RECEIVED + timedelta(days=31))
    assert "仍有 100000.00 元未下达" in found["holding"].detail


@pytest.mark.parametrize(("days", "late"), [(60, False), (61, True)])
def test_lag05_a_city_fund_passes_money_down_within_60_days(officer: Officer, memory_app: LedgerApplication,
                                                            days: int, late: bool) -> None:
    province = officer.fund("1000000.00", on=RECEIVED)
    city = officer.child_fund(province, "400000.00", region=SHIJIAZHUANG, on=DAY)
    officer.child_fund(city, "400000.00", region=CHANGAN, on=DAY + timedelta(days=days))

    assert list(fund_lags(memory_app, city, "LAG-05", date(2023, 8, 1))) == (["late"] if late else [])


def test_lag05_a_county_fund_may_hold_money_60_days(officer: Officer, memory_app: LedgerApplication) -> None:
    province = officer.fund("1000000.00", on=RECEIVED)
    city = officer.child_fund(province, "400000.00", region=SHIJIAZHUANG, on=RECEIVED)
    county = officer.child_fund(city, "400000.00", region=CHANGAN, on=DAY)

    assert fund_lags(memory_app, county, "LAG-05", DAY + timedelta(days=60)) == {}
    assert list(fund_lags(memory_app, county, "LAG-05", DAY + timedelta(days=61))) == ["holding"]


@pytest.mark.parametrize(("days", "late"), [(30, False), (31, True)])
def test_lag05_money_reaches_a_project_within_30_days_whatever_the_fund_level(
        officer: Officer, memory_app: LedgerApplication, days: int, late: bool) -> None:
    province = officer.fund("1000000.00", on=RECEIVED)
    city = officer.child_fund(province, "400000.00", region=SHIJIAZHUANG, on=RECEIVED)
    project = officer.project()
    officer.allocate(city, project, "400000.00", on=RECEIVED + timedelta(days=days))

    found = fund_lags(memory_app, city, "LAG-05", date(2023, 6, 1))

    assert list(found) == (["late"] if late else [])
    if late:
        assert "才下达到项目，超过 30 天" in found["late"].detail
        assert found["late"].params["project_days"] == 30


# -- LAG-06 中期评估逾期 -----------------------------------------------------------------------------------------------

# 2023-03-01 .. 2024-02-29 is 365 days end minus start: the midpoint is start + ⌊365 / 2⌋ = start + 182 days.
MIDPOINT = date(2023, 8, 30)
MIDTERM_DEADLINE = date(2023, 9, 29)  # midpoint + 30 days


def test_lag06_no_midterm_by_the_midpoint_plus_30_days_is_overdue(officer: Officer,
                                                                  memory_app: LedgerApplication) -> None:
    officer.funded_project()

    assert lags(memory_app, "LAG-06", MIDTERM_DEADLINE) == []
    [finding] = lags(memory_app, "LAG-06", MIDTERM_DEADLINE + timedelta(days=1))

    assert (finding.severity, finding.key, finding.effective_on) == ("S2", "midterm", MIDTERM_DEADLINE)
    assert f"项目中点 {MIDPOINT} 后 30 天（{MIDTERM_DEADLINE}）" in finding.detail
    assert finding.params == DEFAULTS["LAG-06"]


def test_lag06_a_midterm_on_the_last_day_is_in_time(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.evaluate(project, "75.0", on=MIDTERM_DEADLINE)

    assert lags(memory_app, "LAG-06", MIDTERM_DEADLINE + timedelta(days=1)) == []


def test_lag06_a_midterm_a_day_late_does_not_undo_the_finding(officer: Officer,
                                                              memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.evaluate(project, "75.0", on=MIDTERM_DEADLINE + timedelta(days=1))

    assert len(lags(memory_app, "LAG-06", MIDTERM_DEADLINE + timedelta(days=1))) == 1


def test_lag06_the_midpoint_rounds_down_to_a_whole_day(officer: Officer, memory_app: LedgerApplication) -> None:
    officer.funded_project(end=DAY + timedelta(days=3))  # ⌊3 / 2⌋ = 1: midpoint 03-02, deadline 04-01

    assert lags(memory_app, "LAG-06", date(2023, 4, 1)) == []
    assert [f.effective_on for f in lags(memory_app, "LAG-06", date(2023, 4, 2))] == [date(2023, 4, 1)]


# -- LAG-07 结项逾期 ---------------------------------------------------------------------------------------------------

CLOSEOUT_DEADLINE = PERIOD_END + timedelta(days=90)  # 2024-05-29


def test_lag07_90_days_after_the_period_no_final_evaluation_and_unreturned_surplus_are_overdue(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()  # received 300,000
    officer.spend(project, "100000.00", on=date(2023, 12, 1))

    assert lags(memory_app, "LAG-07", CLOSEOUT_DEADLINE) == []
    found = {f.key: f for f in lags(memory_app, "LAG-07", CLOSEOUT_DEADLINE + timedelta(days=1))}

    assert sorted(found) == ["final", "surplus"]
    assert {f.severity for f in found.values()} == {"S2"}
    assert {f.effective_on for f in found.values()} == {CLOSEOUT_DEADLINE}
    assert "结余 200000.00 元未上缴" in found["surplus"].detail
    assert found["final"].params == DEFAULTS["LAG-07"]


def test_lag07_a_final_evaluation_and_the_surplus_returned_close_the_project_out(
        officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.spend(project, "100000.00", on=date(2023, 12, 1))
    officer.evaluate(project, "85.0", kind="final", on=date(2024, 3, 15))
    officer.recover(fund, project, "200000.00", on=date(2024, 3, 20))

    assert lags(memory_app, "LAG-07", CLOSEOUT_DEADLINE + timedelta(days=1)) == []


def test_lag07_each_missing_step_is_its_own_finding(officer: Officer, memory_app: LedgerApplication) -> None:
    fund, returned = officer.funded_project()
    officer.recover(fund, returned, "300000.00", on=date(2024, 3, 20))
    _, evaluated = officer.funded_project()
    officer.evaluate(evaluated, "85.0", kind="final", on=date(2024, 3, 15))

    found = {(f.subject_id, f.key) for f in lags(memory_app, "LAG-07", CLOSEOUT_DEADLINE + timedelta(days=1))}

    assert found == {(str(returned), "final"), (str(evaluated), "surplus")}


# -- LAG-08 月报缺报 ---------------------------------------------------------------------------------------------------


def test_lag08_a_month_without_a_report_is_missing_from_the_11th_of_the_next_month(
        officer: Officer, memory_app: LedgerApplication) -> None:
    officer.funded_project()

    assert lags(memory_app, "LAG-08", MARCH_DUE) == []  # on day 10 the report is not late
    [finding] = lags(memory_app, "LAG-08", MARCH_DUE + timedelta(days=1))

    assert (finding.severity, finding.key, finding.effective_on) == ("S3", "2023-03", MARCH_DUE)
    assert finding.evidence[0]["type"] == "Registered"
    assert finding.params == DEFAULTS["LAG-08"]


def test_lag08_a_report_dated_the_10th_is_on_time(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.report(project, "2023-03", on=MARCH_DUE, cases=3)

    assert lags(memory_app, "LAG-08", MARCH_DUE + timedelta(days=1)) == []


def test_lag08_a_report_dated_the_11th_is_late(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.report(project, "2023-03", on=MARCH_DUE + timedelta(days=1), cases=3)

    [finding] = lags(memory_app, "LAG-08", MARCH_DUE + timedelta(days=1))

    assert finding.key == "2023-03" and finding.evidence[0]["type"] == "OutputsReported"


def test_lag08_the_due_day_is_a_parameter_written_into_the_finding(officer: Officer,
                                                                   memory_app: LedgerApplication) -> None:
    officer.funded_project()
    parameters = RuleParameters([{"rule": "LAG-08", "region": "13", "due_day": 15}])

    assert lags(memory_app, "LAG-08", date(2023, 4, 15), parameters=parameters) == []
    [finding] = lags(memory_app, "LAG-08", date(2023, 4, 16), parameters=parameters)
    assert finding.params == {"due_day": 15}


# -- LAG-09 付款逾期 ---------------------------------------------------------------------------------------------------

PAYMENT_DEADLINE = SIGNED + timedelta(days=30)  # the signing installment: 2023-05-01


def test_lag09_an_installment_not_paid_within_30_days_of_its_condition_is_late(
        officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    procurement = officer.contract(project)  # installment 1 on signing (2023-04-01), 2 on a passed mid-term

    assert lags(memory_app, "LAG-09", PAYMENT_DEADLINE) == []
    [finding] = lags(memory_app, "LAG-09", PAYMENT_DEADLINE + timedelta(days=1))

    assert (finding.severity, finding.key, finding.effective_on) == ("S3", f"{procurement}:1", PAYMENT_DEADLINE)
    assert f"条件于 {SIGNED} 满足，30 天内未拨付" in finding.detail
    assert finding.params == DEFAULTS["LAG-09"]


def test_lag09_paying_on_day_30_is_in_time(officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    procurement = officer.contract(project)
    officer.disburse(project, fund, "90000.00", on=PAYMENT_DEADLINE, installment=1, procurement=procurement)

    assert lags(memory_app, "LAG-09", PAYMENT_DEADLINE + timedelta(days=1)) == []


def test_lag09_paying_on_day_31_is_late(officer: Officer, memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    procurement = officer.contract(project)
    officer.disburse(project, fund, "90000.00", on=PAYMENT_DEADLINE + timedelta(days=1), installment=1,
                     procurement=procurement)

    assert len(lags(memory_app, "LAG-09", PAYMENT_DEADLINE + timedelta(days=1))) == 1


@pytest.mark.parametrize(("midterm", "fires"), [("60.0", True), ("59.9", False)])
def test_lag09_the_midterm_installment_is_due_only_once_the_midterm_passed(
        officer: Officer, memory_app: LedgerApplication, midterm: str, fires: bool) -> None:
    fund, project = officer.funded_project()
    procurement = officer.contract(project)
    officer.disburse(project, fund, "90000.00", on=SIGNED, installment=1, procurement=procurement)
    officer.evaluate(project, midterm, on=date(2023, 9, 1))

    assert lags(memory_app, "LAG-09", date(2023, 10, 1)) == []
    found = [f.key for f in lags(memory_app, "LAG-09", date(2023, 10, 2))]
    assert found == ([f"{procurement}:2"] if fires else [])
