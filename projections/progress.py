"""Progress views (进度): a project's spending and outputs month by month against its plan and the calendar, and
the time-based findings (LAG) on an evaluation date, each saying when it was first seen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.money import ZERO
from projections.engine import RuleEngine
from projections.procurement_state import ProcurementState
from projections.rules import REGISTRY, Finding
from projections.rules.progress import LagContext, elapsed_share, month_end, report_due
from projections.state import FundState, ProjectState, project_on

FIRST_SEEN_HORIZON = 400  # days an evaluation looks back for when a lag began
SHARE = Decimal("0.0001")


def _total(items: Any) -> Decimal:
    return sum((i["amount"] for i in items), ZERO)


def _months(start: date, end: date) -> list[str]:
    months, current = [], date(start.year, start.month, 1)
    while current <= end:
        months.append(f"{current.year:04d}-{current.month:02d}")
        current = month_end(months[-1]) + timedelta(days=1)
    return months


def project_progress(project: ProjectState, on: date) -> dict[str, Any]:
    """序时进度 against 支出进度, money in and out, the monthly plan and output targets, evaluations: on ``on``."""
    p = project_on(project, on)
    budget = sum(p.budget_lines.values(), ZERO)
    spent_entries = p.live_entries("expenditure")
    spent = _total(spent_entries)
    plan = {item["month"]: item["cumulative_amount"] for item in p.monthly_plan}
    targets: dict[str, dict[str, int]] = {}
    for target in p.output_targets:
        targets.setdefault(target["month"], {})[target["indicator"]] = target["cumulative_target"]
    months, reported_so_far = [], {}  # type: ignore[var-annotated]
    for month in _months(p.period_start, min(p.period_end, on)):
        end = month_end(month)
        report = p.outputs.get(month)
        for indicator, value in (report or {}).get("values", {}).items():
            reported_so_far[indicator] = reported_so_far.get(indicator, 0) + value
        months.append({
            "month": month,
            "complete": end <= on,
            "planned_cumulative": plan.get(month),
            "spent_cumulative": _total(e for e in spent_entries if e["effective_on"] <= end),
            "time_progress": elapsed_share(p.period_start, p.period_end, min(end, on)).quantize(SHARE),
            "outputs": dict((report or {}).get("values", {})),
            "outputs_cumulative": dict(reported_so_far),
            "output_targets_cumulative": targets.get(month, {}),
            "report_due": report_due(month),
            "reported_on": None if report is None else report["effective_on"],
        })
    return {
        "project_id": p.id, "code": p.code, "name": p.name, "township_code": p.township_code, "on": on,
        "period_start": p.period_start, "period_end": p.period_end, "status": p.status, "budget": budget,
        "received": _total(p.receipts) - _total(p.returns),
        "disbursed": _total(p.live_entries("disbursement")), "spent": spent,
        "time_progress": elapsed_share(p.period_start, p.period_end, on).quantize(SHARE),
        "spending_progress": (spent / budget).quantize(SHARE) if budget else Decimal(0),
        "months": months,
        "evaluations": [{"kind": e["kind"], "total": e["total"], "rating": e["rating"],
                         "effective_on": e["effective_on"]} for e in p.evaluations],
    }


def first_seen(finding: Finding, fires_on: Callable[[date], set[str]], on: date) -> date:
    """The first day of the unbroken run of days, ending on ``on``, on which the same finding fires.

    Deadline rules start firing on a known day (their effective date or the day after), which is checked first;
    otherwise the run is walked back day by day (a run can break on any day, so no larger steps).
    """
    def fires(day: date) -> bool:
        return finding.finding_id in fires_on(day)

    start = finding.effective_on
    if start < on and not fires(start - timedelta(days=1)):
        if fires(start):
            return start
        if fires(start + timedelta(days=1)):
            return start + timedelta(days=1)
    day = on
    for _ in range(FIRST_SEEN_HORIZON):
        if not fires(day - timedelta(days=1)):
            return day
        day -= timedelta(days=1)
    return day


def project_lags(engine: RuleEngine, project: ProjectState, funds: dict[str, FundState], on: date,
                 rules: set[str] | None = None) -> list[dict[str, Any]]:
    """The project's LAG findings on ``on``, each with the day it was first seen."""
    found = [f for f in engine.lag_findings(project, funds, on) if rules is None or f.rule in rules]

    def fires_on(rule: str) -> Callable[[date], set[str]]:
        def check(day: date) -> set[str]:
            state = project_on(project, day)
            context = LagContext(state, funds, lambda code: engine.params_for(state, code), day)
            return {f.finding_id for f in REGISTRY[rule].check(context)}

        return check

    return [{**f.as_record(), "status": "open", "evaluated_on": on,
             "first_seen": first_seen(f, fires_on(f.rule), on)} for f in found]


def fund_lags(engine: RuleEngine, fund: FundState, on: date, rules: set[str] | None = None) -> list[dict[str, Any]]:
    found = [f for f in engine.fund_lag_findings(fund, on) if rules is None or f.rule in rules]

    def fires_on(day: date) -> set[str]:
        return {f.finding_id for f in engine.fund_lag_findings(fund, day)}

    return [{**f.as_record(), "status": "open", "evaluated_on": on, "first_seen": first_seen(f, fires_on, on)}
            for f in found]


def procurement_deadlines(engine: RuleEngine, procurement: ProcurementState, on: date,
                          rules: set[str] | None = None) -> list[dict[str, Any]]:
    """The procurement's deadline findings on ``on`` (PRC-08, PRC-09), each with the day it was first seen."""
    found = [f for f in engine.procurement_dated_findings(procurement, on) if wanted(f.rule, rules)]

    def fires_on(day: date) -> set[str]:
        return {f.finding_id for f in engine.procurement_dated_findings(procurement, day)}

    return [{**f.as_record(), "status": "open", "evaluated_on": on, "first_seen": first_seen(f, fires_on, on)}
            for f in found]


def wanted(rule: str, rules: set[str] | None) -> bool:
    """Whether a rule's code is asked for by ``rules`` (codes or families; None asks for all)."""
    return rules is None or rule in rules or rule.split("-", 1)[0] in rules
