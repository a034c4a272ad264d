"""进度: the time-based progress rules (LAG), judged at an explicit evaluation date so results can be reproduced.

Each rule sees only what had taken effect by the evaluation date (the caller passes ``project_on(project, on)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.money import ZERO
from ledger.vocabulary import OUTPUT_INDICATORS
from projections.rules import Finding, rule
from projections.rules.earmarking import ProjectContext, condition_met_on
from projections.state import FundState, ProjectState

PERCENT = Decimal("0.1")


@dataclass
class LagContext(ProjectContext):
    on: date = date.min


def elapsed_share(start: date, end: date, on: date) -> Decimal:
    """序时进度: the share of the period's days that have passed by the end of ``on`` (0 to 1)."""
    if on < start:
        return Decimal(0)
    days = (end - start).days + 1
    return min(Decimal(1), Decimal((on - start).days + 1) / Decimal(days))


def month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[5:7])
    first_of_next = date(year + number // 12, number % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def report_due(month: str) -> date:
    """A month's report is due on the 10th of the next month."""
    return month_end(month) + timedelta(days=10)


def _spent_by(p: ProjectState, day: date) -> Decimal:
    return sum((e["amount"] for e in p.live_entries("expenditure") if e["effective_on"] <= day), ZERO)


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(PERCENT)}%"


@rule("LAG-01", 1, "支出进度慢于序时进度")
def spending_behind_time(ctx: LagContext) -> Iterator[Finding]:
    p, on = ctx.project, ctx.on
    budget = sum(p.budget_lines.values(), ZERO)
    if budget <= 0 or on < p.period_start or on > p.period_end:
        return
    params = ctx.params("LAG-01")
    time_share = elapsed_share(p.period_start, p.period_end, on)
    spent_share = _spent_by(p, on) / budget
    gap = time_share - spent_share
    # RULES.md: fires when spent ÷ budget < elapsed share − gap, so exactly the gap behind is not yet a lag.
    severity = "S2" if gap > params["serious_gap"] else "S3" if gap > params["gap"] else None
    if severity:
        yield ctx.finding("LAG-01", 1, severity, "project", "支出进度慢于序时进度",
                          f"截至 {on} 支出进度 {_pct(spent_share)}，序时进度 {_pct(time_share)}，落后 {_pct(gap)}",
                          on, [p.registration["ref"]])


@rule("LAG-02", 1, "未完成月度分解计划")
def off_monthly_plan(ctx: LagContext) -> Iterator[Finding]:
    p, on = ctx.project, ctx.on
    params = ctx.params("LAG-02")
    low, high, months = params["low"], params["high"], params["months"]
    streak: dict[str, list[str]] = {"low": [], "high": []}
    for item in p.monthly_plan:
        end = month_end(item["month"])
        if end > on or item["cumulative_amount"] <= 0:
            continue
        ratio = _spent_by(p, end) / item["cumulative_amount"]
        side = "low" if ratio < low else "high" if ratio > high else None
        for name in streak:
            streak[name] = [*streak[name], item["month"]] if name == side else []
        for name, run in streak.items():
            if len(run) >= months:
                words = "低于" if name == "low" else "高于"
                limit = low if name == "low" else high
                yield ctx.finding("LAG-02", 1, "S3", f"{name}:{run[0]}", "未完成月度分解计划",
                                  f"{run[0]} 起连续 {len(run)} 个月累计支出{words}月度计划的 {_pct(limit)}"
                                  f"（{item['month']} 为 {_pct(ratio)}）", end, [p.registration["ref"]])
                streak[name] = []


@rule("LAG-03", 1, "产出指标滞后")
def outputs_behind(ctx: LagContext) -> Iterator[Finding]:
    p, on = ctx.project, ctx.on
    params = ctx.params("LAG-03")
    latest: dict[str, dict[str, Any]] = {}  # each indicator's last target whose month's report is due by ``on``
    for t in p.output_targets:
        # a deadline given as a date ends at 24:00 that day: the month counts from the day after its report is due
        if report_due(t["month"]) < on and t["month"] >= latest.get(t["indicator"], t)["month"]:
            latest[t["indicator"]] = t
    for indicator, target in sorted(latest.items()):
        last = target["month"]
        if target["cumulative_target"] <= 0:
            continue
        reported = sum(o["values"].get(indicator, 0) for m, o in p.outputs.items() if m <= last)
        ratio = Decimal(reported) / Decimal(target["cumulative_target"])
        severity = "S2" if ratio < params["serious"] else "S3" if ratio < params["warning"] else None
        if severity:
            yield ctx.finding("LAG-03", 1, severity, indicator, "产出指标滞后",
                              f"截至 {last} 累计{OUTPUT_INDICATORS.get(indicator, indicator)} {reported}，"
                              f"目标 {target['cumulative_target']}，"
                              f"完成 {_pct(ratio)}", report_due(last), [p.registration["ref"]])


@rule("LAG-04", 1, "资金沉淀")
def idle_project_money(ctx: LagContext) -> Iterator[Finding]:
    p, on = ctx.project, ctx.on
    if on > p.period_end:
        return  # a project whose period has ended is judged by LAG-07
    days = ctx.params("LAG-04")["days"]
    received = sum((r["amount"] for r in p.receipts), ZERO) - sum((r["amount"] for r in p.returns), ZERO)
    moved = [e["effective_on"] for e in [*p.live_entries("disbursement"), *p.live_entries("expenditure")]]
    paid_out = sum((e["amount"] for e in p.live_entries("disbursement")), ZERO)
    if received - paid_out <= 0 or not p.receipts:
        return
    since = max([*moved, min(r["effective_on"] for r in p.receipts)])
    if (on - since).days >= days:
        yield ctx.finding("LAG-04", 1, "S2", "project", "资金沉淀",
                          f"项目持有未拨付资金 {received - paid_out} 元，"
                          f"自 {since} 起 {(on - since).days} 天无拨付或支出",
                          on, [p.receipts[-1]["ref"]])


@rule("LAG-06", 1, "中期评估逾期")
def midterm_overdue(ctx: LagContext) -> Iterator[Finding]:
    p, on = ctx.project, ctx.on
    midpoint = p.period_start + timedelta(days=(p.period_end - p.period_start).days // 2)
    deadline = midpoint + timedelta(days=ctx.params("LAG-06")["days_after_midpoint"])
    if on > deadline and not any(e["kind"] == "midterm" and e["effective_on"] <= deadline for e in p.evaluations):
        yield ctx.finding("LAG-06", 1, "S2", "midterm", "中期评估逾期",
                          f"项目中点 {midpoint} 后 {(deadline - midpoint).days} 天（{deadline}）前未完成中期评估",
                          deadline, [p.registration["ref"]])


@rule("LAG-07", 1, "结项逾期")
def closeout_overdue(ctx: LagContext) -> Iterator[Finding]:
    p, on = ctx.project, ctx.on
    deadline = p.period_end + timedelta(days=ctx.params("LAG-07")["days"])
    if on <= deadline:
        return
    if not any(e["kind"] == "final" for e in p.evaluations):
        yield ctx.finding("LAG-07", 1, "S2", "final", "结项逾期", f"项目期满后至 {deadline} 仍未完成结项评估",
                          deadline, [p.registration["ref"]])
    unspent = (sum((r["amount"] for r in p.receipts), ZERO) - sum((r["amount"] for r in p.returns), ZERO)
               - _spent_by(p, on))
    if unspent > 0:
        yield ctx.finding("LAG-07", 1, "S2", "surplus", "结项逾期",
                          f"项目期满后至 {deadline} 仍有结余 {unspent} 元未上缴", deadline, [p.registration["ref"]])


@rule("LAG-08", 1, "月报缺报")
def missing_monthly_report(ctx: LagContext) -> Iterator[Finding]:
    p, on = ctx.project, ctx.on
    day = ctx.params("LAG-08")["due_day"]
    month = date(p.period_start.year, p.period_start.month, 1)
    while month <= p.period_end:
        key = f"{month.year:04d}-{month.month:02d}"
        due = month_end(key) + timedelta(days=day)
        if due >= on:
            break
        report = p.outputs.get(key)
        if report is None or report["effective_on"] > due:
            yield ctx.finding("LAG-08", 1, "S3", key, "月报缺报", f"{key} 的服务月报未在 {due} 前报送", due,
                              [p.registration["ref"]] if report is None else [report["ref"]])
        month = month_end(key) + timedelta(days=1)


@rule("LAG-09", 1, "付款逾期")
def late_payment(ctx: LagContext) -> Iterator[Finding]:
    """An installment whose condition was met, not paid within the limit."""
    p, on = ctx.project, ctx.on
    days = ctx.params("LAG-09")["days"]
    disbursements = p.live_entries("disbursement")
    for procurement_id, contract in p.contracts.items():
        for installment in contract["installments"]:
            met_on = condition_met_on(p, contract, installment["condition"])
            if met_on is None or on <= met_on + timedelta(days=days):
                continue
            deadline = met_on + timedelta(days=days)
            if not any(d.get("installment") == installment["no"] and d["effective_on"] <= deadline
                       and d.get("procurement_id") in (procurement_id, None) for d in disbursements):
                yield ctx.finding("LAG-09", 1, "S3", f"{procurement_id}:{installment['no']}", "付款逾期",
                                  f"第 {installment['no']} 期款条件于 {met_on} 满足，{days} 天内未拨付", deadline,
                                  [contract["ref"]])


PROJECT_LAG_RULES = ("LAG-01", "LAG-02", "LAG-03", "LAG-04", "LAG-06", "LAG-07", "LAG-08", "LAG-09")


def fund_lags(fund: FundState, on: date, params: Callable[[str], dict[str, Any]], level: str) -> Iterator[Finding]:
    """LAG-01, LAG-04 and LAG-05 for a fund held by a region."""
    def finding(code: str, severity: str, key: str, title: str, detail: str, when: date) -> Finding:
        return Finding(rule=code, version=1, severity=severity, subject_kind="fund", subject_id=fund.id,
                       region_code=fund.holder_region, key=key, title=title, detail=detail, effective_on=when,
                       params=params(code), evidence=[])

    allocations = [a for a in fund.allocations if a["effective_on"] <= on and a["target_kind"] != "recovery"]
    passed_on = sum((a["amount"] for a in allocations), ZERO)
    if fund.amount > 0 and fund.appropriated_on <= on:
        year_end = date(fund.fiscal_year, 12, 31)
        share = elapsed_share(date(fund.fiscal_year, 1, 1), year_end, min(on, year_end))
        progress = passed_on / fund.amount
        lag = params("LAG-01")
        q3_end = date(fund.fiscal_year, 9, 30)
        at_q3 = sum((a["amount"] for a in allocations if a["effective_on"] <= q3_end), ZERO) / fund.amount
        if fund.appropriated_on <= q3_end <= on and at_q3 < lag["q3_minimum"]:  # what was passed on by Q3's end
            yield finding("LAG-01", "S2", "q3", "支出进度慢于序时进度",
                          f"三季度末资金下达或支出进度 {_pct(at_q3)}，低于 {_pct(lag['q3_minimum'])}", q3_end)
        if share - progress > lag["gap"]:
            severity = "S2" if share - progress > lag["serious_gap"] else "S3"
            yield finding("LAG-01", severity, "year", "支出进度慢于序时进度",
                          f"资金下达或支出进度 {_pct(progress)}，序时进度 {_pct(share)}", on)
    available = fund.amount - passed_on - fund.returned
    last_move = max([fund.appropriated_on, *(a["effective_on"] for a in allocations)])
    idle_days = params("LAG-04")["days"]
    if available > 0 and (on - last_move).days >= idle_days:
        yield finding("LAG-04", "S2", "fund", "资金沉淀",
                      f"资金余额 {available} 元自 {last_move} 起 {(on - last_move).days} 天未分配或使用", on)
    onward = params("LAG-05")
    limit = onward["province_days" if level == "province" else "lower_days"]
    deadline = fund.appropriated_on + timedelta(days=limit)

    def limit_for(allocation: dict[str, Any]) -> int:  # to a project: its own limit, whatever the fund's level
        return onward["project_days"] if allocation["target_kind"] == "project" else limit

    late = [a for a in allocations if (a["effective_on"] - fund.appropriated_on).days > limit_for(a)]
    if late:
        yield finding("LAG-05", "S2", "late", "资金下达超时",
                      f"资金于 {fund.appropriated_on} 到达，{late[0]['effective_on']} 才下达"
                      f"{'到项目' if late[0]['target_kind'] == 'project' else ''}，超过 {limit_for(late[0])} 天",
                      fund.appropriated_on + timedelta(days=limit_for(late[0])))
    elif available > 0 and on > deadline:
        yield finding("LAG-05", "S2", "holding", "资金下达超时",
                      f"资金于 {fund.appropriated_on} 到达，超过 {limit} 天仍有 {available} 元未下达",
                      deadline)
