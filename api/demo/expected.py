"""What the audit must find in the demo, derived from the plan (not from the audit code): the stored findings of
the injected faults, and each time-based lag with the first day it holds (and the last, where it stops)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from api.demo.plan import DEFAULT_SEED, FAULT_FINDINGS, YEAR, FundPlan, Plan, ProjectPlan, build_plan

GAP = Decimal("0.10")  # LAG-01's gap (RULES.md default)
Q3_MINIMUM = Decimal("0.60")
PROVINCE_DAYS, LOWER_DAYS, IDLE_DAYS, PAYMENT_DAYS, MIDTERM_DAYS, CLOSEOUT_DAYS = 30, 60, 90, 30, 30, 90


@dataclass(frozen=True)
class ExpectedLag:
    rule: str
    key: str | None  # the finding's key; None where it holds an id (LAG-09: procurement id and installment)
    subject: str  # a project code, or ``region:document no`` for a fund
    first: date  # absent the day before, present from this day
    last: date | None = None  # present until this day, absent after it (None: it stays)

    def holds_on(self, day: date) -> bool:
        return self.first <= day and (self.last is None or day <= self.last)


def expected_findings(seed: int = DEFAULT_SEED, scale: float = 1.0, *, families: tuple[str, ...] = ("EAR", "PRF",
                                                                                                     "PRC"),
                      plan: Plan | None = None) -> set[tuple[str, str]]:
    """(rule, project code) of every stored finding the demo must show (EAR, PRF and PRC), and no other."""
    plan = plan or build_plan(seed, scale)
    return {(rule, p.code) for p in plan.projects if p.fault for rule in FAULT_FINDINGS[p.fault]
            if rule.split("-")[0] in families}


def expected_lags(seed: int = DEFAULT_SEED, scale: float = 1.0, *, plan: Plan | None = None) -> list[ExpectedLag]:
    """Every LAG finding of projects and funds the demo must show on some day; on any day, exactly those that
    hold on it."""
    plan = plan or build_plan(seed, scale)
    lags: list[ExpectedLag] = []
    for p in plan.projects:
        lags += _project_lags(p)
    for fund in plan.funds:
        lags += _fund_lags(fund)
    return lags


def _project_lags(p: ProjectPlan) -> list[ExpectedLag]:
    fault, code = p.fault, p.code
    if fault == "late_report":  # June's report, due 10 July, filed 15 July
        return [ExpectedLag("LAG-08", f"{YEAR}-06", code, date(YEAR, 7, 11))]
    if fault == "late_payment":  # the second installment paid 40 days after the mid-term was passed
        return [ExpectedLag("LAG-09", None, code, p.midterm_on + timedelta(days=PAYMENT_DAYS + 1))]
    if fault == "late_midterm":
        deadline = p.midpoint + timedelta(days=MIDTERM_DAYS)
        return [ExpectedLag("LAG-06", "midterm", code, deadline + timedelta(days=1))]
    if fault == "no_closeout":  # no final evaluation, surplus never returned
        day = p.period_end + timedelta(days=CLOSEOUT_DAYS + 1)
        return [ExpectedLag("LAG-07", "final", code, day), ExpectedLag("LAG-07", "surplus", code, day)]
    if fault == "front_loaded":  # January and February above 120% of the plan: seen at February's end
        return [ExpectedLag("LAG-02", f"high:{YEAR}-01", code, date(YEAR, 2, 28))]
    if fault == "few_cases":  # 3 cases a month against 4: behind from January's report deadline on
        return [ExpectedLag("LAG-03", "cases", code, date(YEAR, 2, 11))]
    if fault == "slow_spending":  # 80% of the plan: behind the calendar on and off, then for good
        return [ExpectedLag("LAG-01", "project", code, first, last) for first, last in _behind_time(p)]
    if fault == "late_procurement":  # money received in November, nothing paid until the March contract
        return [ExpectedLag("LAG-04", "project", code, p.allocated_on + timedelta(days=IDLE_DAYS),
                            p.first_payment_on - timedelta(days=1))]
    return []


def _elapsed(start: date, end: date, day: date) -> Decimal:
    if day < start:
        return Decimal(0)
    return min(Decimal(1), Decimal((day - start).days + 1) / Decimal((end - start).days + 1))


def _behind_time(p: ProjectPlan) -> list[tuple[date, date]]:
    """The runs of days in the period on which spending is more than the gap behind time progress (LAG-01)."""
    budget = sum(p.budget_lines.values(), Decimal(0))
    runs: list[tuple[date, date]] = []
    day = p.period_start
    while day <= p.period_end:
        if _elapsed(p.period_start, p.period_end, day) - p.spent_by(day) / budget > GAP:
            runs = [*runs[:-1], (runs[-1][0], day)] if runs and runs[-1][1] == day - timedelta(days=1) else \
                [*runs, (day, day)]
        day += timedelta(days=1)
    return runs


def _fund_lags(f: FundPlan) -> list[ExpectedLag]:
    label = f.label
    if f.fault == "city_late":  # passed on 62 days after it arrived: holding on day 61, late from then on
        assert f.passes_on is not None
        return [ExpectedLag("LAG-05", "holding", label, f.arrives + timedelta(days=LOWER_DAYS + 1),
                            f.passes_on - timedelta(days=1)),
                ExpectedLag("LAG-05", "late", label, f.passes_on)]
    if f.fault not in ("county_holds", "region_holds"):
        return []
    limit = PROVINCE_DAYS if f.parent is None else LOWER_DAYS
    moves = [c.arrives for c in f.children] + [p.allocated_on for p in f.projects]
    passed = f.amount - f.held
    progress = passed / f.amount
    lags = [ExpectedLag("LAG-05", "holding", label, f.arrives + timedelta(days=limit + 1)),
            ExpectedLag("LAG-04", "fund", label, max([f.arrives, *moves]) + timedelta(days=IDLE_DAYS))]
    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    day = start
    while _elapsed(start, end, day) - progress <= GAP:
        day += timedelta(days=1)
        assert day <= end, f"{label} never falls behind"
    lags.append(ExpectedLag("LAG-01", "year", label, day))
    if progress < Q3_MINIMUM:
        lags.append(ExpectedLag("LAG-01", "q3", label, date(YEAR, 9, 30)))
    return lags
