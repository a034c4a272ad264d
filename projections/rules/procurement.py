"""政府购买服务程序: the thirteen procurement rules (PRC) of the rules catalogue, over one procurement's state.

Pure functions over a ``ProcurementContext``, registered under their codes; the audit projection runs them on every
procurement a batch touches (``RuleEngine.procurement_findings``) and the audit reads judge the deadline findings
(``DATED_KEYS``) on an evaluation date (``RuleEngine.procurement_dated_findings``).
Boundaries follow Cardinal: whole days are truncated calendar days, "at least" thresholds are inclusive, and
cancelled processes are never judged. Working days between a and b are the official working days d with
a < d ≤ b from the Chinese calendar (``chinese_calendar``, with its 调休 make-up workdays); a year the calendar does
not cover is a clear ``CalendarNotCoveredError``, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import chinese_calendar

from projections.procurement_state import ProcurementState, amended_total, local_datetime
from projections.rules import Finding, rule
from projections.rules.params import DEFAULTS

PRC_RULES = tuple(f"PRC-{n:02d}" for n in range(1, 14))

ORDER = ("plan_approved", "announced", "bid_received", "bids_evaluated", "awarded", "award_published",
         "contract_signed", "contract_published", "disbursed")
BID_STEPS = ("bid_received", "bids_evaluated")
COMPETITIVE = ("open_tender", "competitive_consultation", "competitive_negotiation", "request_for_quotation",
               "other")

# The PRC parameters' defaults (overridable per region and fiscal year, see ``projections.rules.params``).
PRC_DEFAULTS: dict[str, dict[str, Any]] = {code: DEFAULTS[code] for code in PRC_RULES if code in DEFAULTS}

# Findings that hold because time has passed with a step still missing (a contract not signed, a result not
# published): judged on an evaluation date at read time, like the LAG rules, never stored. Every other PRC finding
# follows from recorded steps alone and is stored by the audit projection.
DATED_KEYS = frozenset({("PRC-08", "signing:overdue"), ("PRC-09", "award:unpublished"),
                        ("PRC-09", "contract:unpublished"), ("PRC-09", "calendar:dated")})
DATED_RULES = tuple(sorted({code for code, _ in DATED_KEYS}))


def is_dated(finding: Finding) -> bool:
    return (finding.rule, finding.key) in DATED_KEYS


class CalendarNotCoveredError(ValueError):
    """The official calendar package has no data for a year, so working days cannot be counted."""


def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as error:
        raise CalendarNotCoveredError(
            f"the Chinese official calendar (chinesecalendar {getattr(chinese_calendar, '__version__', '?')}) has no "
            f"holiday data for {day.year}; working days cannot be counted: {error}") from error


def working_days(a: date, b: date) -> int:
    """The official working days d with a < d ≤ b (0 when b ≤ a)."""
    count, day = 0, a + timedelta(days=1)
    while day <= b:
        count += is_working_day(day)
        day += timedelta(days=1)
    return count


def working_day_after(a: date, n: int) -> date:
    """The n-th official working day after a (n ≥ 1): the first day b with working_days(a, b) = n."""
    day, count = a, 0
    while count < n:
        day += timedelta(days=1)
        count += is_working_day(day)
    return day


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later; a date missing in the target month (29–31) rolls to the next month's 1st, so
    "the day before" is always the last day of the shorter month."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    try:
        return date(year, month, day.day)
    except ValueError:
        return date(year + (month == 12), month % 12 + 1, 1)


def period_end(start: date, months: int) -> date:
    """The inclusive last day of a period of ``months`` from ``start`` (2023-03-01, 12 → 2024-02-29)."""
    return add_months(start, months) - timedelta(days=1)


def default_params(code: str) -> dict[str, Any]:
    return dict(PRC_DEFAULTS.get(code, {}))


@dataclass
class ProcurementContext:
    procurement: ProcurementState
    params: Callable[[str], dict[str, Any]] = default_params
    on: date | None = None  # the evaluation date; None: judge only what has happened, nothing "still missing"
    others: list[ProcurementState] = field(default_factory=list)  # the same buyer's other processes (PRC-13)

    def finding(self, code: str, version: int, severity: str, key: str, title: str, detail: str,
                effective_on: date, evidence: Iterable[dict[str, Any]]) -> Finding:
        p = self.procurement
        return Finding(rule=code, version=version, severity=severity, subject_kind="procurement", subject_id=p.id,
                       project_id=p.project_id, region_code=p.region, key=key, title=title, detail=detail,
                       effective_on=effective_on, params=self.params(code), evidence=list(evidence))


def _live(check: Callable[[ProcurementContext], Iterator[Finding]]) -> Callable[[ProcurementContext],
                                                                                 Iterator[Finding]]:
    """Cancelled procurements are excluded from every procurement rule."""

    def guarded(ctx: ProcurementContext) -> Iterator[Finding]:
        if ctx.procurement.is_cancelled:
            return iter(())
        return check(ctx)

    guarded.__name__, guarded.__doc__ = check.__name__, check.__doc__
    return guarded


def evaluate(ctx: ProcurementContext, codes: Iterable[str] = PRC_RULES) -> list[Finding]:
    """Every finding of the rules ``codes``. A rule that must count working days in a year the official calendar
    does not cover is not guessed: it gives an S4 information finding saying so, until the calendar is updated."""
    from projections.rules import REGISTRY

    found = []
    for code in codes:
        try:
            found += list(REGISTRY[code].check(ctx))
        except CalendarNotCoveredError as error:
            p = ctx.procurement
            latest = max([p.opened_on, *(s["effective_on"] for s in p.steps)])
            key = "calendar" if ctx.on is None else "calendar:dated"
            found.append(ctx.finding(code, REGISTRY[code].version, "S4", key, REGISTRY[code].name,
                                     f"无法按工作日判断：{error}", ctx.on or latest,
                                     [s["ref"] for s in p.steps[-1:]] or [p.opened_ref]))
    return found


@rule("PRC-01", 1, "程序倒置")
@_live
def steps_out_of_order(ctx: ProcurementContext) -> Iterator[Finding]:
    """A step dated before a present required predecessor (single source skips the bid steps). One finding per
    step, against the latest predecessor in the sequence that it precedes."""
    p = ctx.procurement
    order = [s for s in ORDER if not (p.method == "single_source" and s in BID_STEPS)]
    for i, step in enumerate(order):
        occurrences = p.dates_of(step)
        if step == "disbursed":
            occurrences = occurrences[:1]  # the first disbursement
        if not occurrences:
            continue
        earliest = min(occurrences, key=lambda s: s["effective_on"])
        for predecessor in reversed(order[:i]):
            before = p.dates_of(predecessor)
            if not before:
                continue
            latest = max(before, key=lambda s: s["effective_on"])
            if earliest["effective_on"] < latest["effective_on"]:
                yield ctx.finding("PRC-01", 1, "S1", f"step:{step}", "程序倒置",
                                  f"{step}（{earliest['effective_on']}）早于前置环节 {predecessor}"
                                  f"（{latest['effective_on']}）", earliest["effective_on"],
                                  [latest["ref"], earliest["ref"]])
                break


@rule("PRC-02", 1, "先签约后定标")
@_live
def contract_before_award(ctx: ProcurementContext) -> Iterator[Finding]:
    """A contract signed before the award decision, or with no award decision recorded at all."""
    p = ctx.procurement
    if p.contract is None:
        return
    signed = p.contract["signed_on"]
    if p.award is None:
        yield ctx.finding("PRC-02", 1, "S1", "contract", "先签约后定标",
                          f"合同 {p.contract['contract_no']} 于 {signed} 签订，但没有定标（成交）决定", signed,
                          [p.contract["ref"]])
    elif signed < p.award["effective_on"]:
        yield ctx.finding("PRC-02", 1, "S1", "contract", "先签约后定标",
                          f"合同于 {signed} 签订，早于 {p.award['effective_on']} 的定标决定", signed,
                          [p.contract["ref"], p.award["ref"]])


def _bidders(p: ProcurementState) -> list[str]:
    return sorted({b["bidder_uscc"] for b in p.bids})


@rule("PRC-03", 1, "有效供应商不足")
@_live
def single_qualified_supplier(ctx: ProcurementContext) -> Iterator[Finding]:
    """竞争性磋商 with one qualified supplier → S1 (two may proceed); other competitive methods with one bidder →
    S3. Judged once the bids were evaluated or an award made."""
    p = ctx.procurement
    decided = p.evaluation or p.award
    if decided is None or p.method not in COMPETITIVE:
        return
    bidders = _bidders(p)
    evidence = [b["ref"] for b in p.bids] + [decided["ref"]]
    if p.method == "competitive_consultation":
        qualified = sorted(set(p.evaluation["qualified"])) if p.evaluation else bidders
        if len(qualified) == 1:
            yield ctx.finding("PRC-03", 1, "S1", "suppliers", "有效供应商不足",
                              "竞争性磋商只有 1 家有效供应商，应终止并重新组织采购", decided["effective_on"], evidence)
    elif len(bidders) == 1:
        yield ctx.finding("PRC-03", 1, "S3", "suppliers", "有效供应商不足",
                          f"{p.method} 只有 1 家供应商投标", decided["effective_on"], evidence)


@rule("PRC-04", 1, "等标期不足")
@_live
def short_submission_period(ctx: ProcurementContext) -> Iterator[Finding]:
    """Whole days (truncated) from announcement to deadline below the method's minimum; negotiation and quotation
    count working days between the local (UTC+8) dates."""
    p = ctx.procurement
    a = p.announcement
    if a is None or p.method == "single_source":
        return
    params = ctx.params("PRC-04")
    start, end = local_datetime(a["announced_at"]), local_datetime(a["submission_deadline"])
    if f"{p.method}_working_days" in params:
        minimum, got = params[f"{p.method}_working_days"], working_days(start.date(), end.date())
        unit = "个工作日"
    else:
        minimum, got = params[f"{p.method}_days"], (end - start).days
        unit = "天"
    if got < minimum:
        yield ctx.finding("PRC-04", 1, "S2", "period", "等标期不足",
                          f"公告 {start.isoformat()} 至截止 {end.isoformat()} 仅 {got} {unit}，少于 {minimum} {unit}",
                          a["effective_on"], [a["ref"]])


@rule("PRC-05", 1, "未评审定标")
@_live
def award_without_evaluation(ctx: ProcurementContext) -> Iterator[Finding]:
    """An award with no evaluation (by the award date) scoring every submitted bid, or a committee of fewer than 5,
    an even number, or experts below two thirds. Single source needs no evaluation, but one recorded is checked."""
    p = ctx.procurement
    if p.award is None:
        return
    params = ctx.params("PRC-05")
    award = p.award
    evaluations = [e for e in p.evaluations if e["effective_on"] <= award["effective_on"]]
    if not evaluations:
        if p.method != "single_source":
            yield ctx.finding("PRC-05", 1, "S1", "evaluation", "未评审定标", "定标前没有评审", award["effective_on"],
                              [award["ref"]])
        return
    ev = evaluations[-1]
    problems = []
    unscored = [u for u in _bidders(p) if u not in ev["scores"]]
    if unscored:
        problems.append(f"{len(unscored)} 份投标未评分")
    size, experts = ev["committee_size"], ev["expert_count"]
    if size < params["committee_minimum"]:
        problems.append(f"评审委员会 {size} 人，少于 {params['committee_minimum']} 人")
    if size % 2 == 0:
        problems.append(f"评审委员会 {size} 人，不是单数")
    if Decimal(experts) < Decimal(size) * params["expert_share"]:
        problems.append(f"专家 {experts} 人，不足三分之二")
    if problems:
        yield ctx.finding("PRC-05", 1, "S1", "evaluation", "未评审定标", "；".join(problems), award["effective_on"],
                          [ev["ref"], award["ref"]])


@rule("PRC-06", 1, "截止后投标中标")
@_live
def late_bid_won(ctx: ProcurementContext) -> Iterator[Finding]:
    """The winner's bid (its latest one, which is the one that counts) arrived after the submission deadline."""
    p = ctx.procurement
    if p.award is None or p.announcement is None:
        return
    bids = [b for b in p.bids if b["bidder_uscc"] == p.award["supplier_uscc"]]
    if not bids:
        return
    bid = max(bids, key=lambda b: b["received_at"])
    deadline = p.announcement["submission_deadline"]
    if bid["received_at"] > deadline:
        yield ctx.finding("PRC-06", 1, "S2", "late_bid", "截止后投标中标",
                          f"中标人的投标于 {local_datetime(bid['received_at']).isoformat()} 送达，晚于截止时间 "
                          f"{local_datetime(deadline).isoformat()}", p.award["effective_on"],
                          [p.announcement["ref"], bid["ref"], p.award["ref"]])


@rule("PRC-07", 1, "报价雷同")
@_live
def identical_bid_prices(ctx: ProcurementContext) -> Iterator[Finding]:
    """Two or more bidders whose (latest) prices are exactly equal."""
    p = ctx.procurement
    latest: dict[str, dict[str, Any]] = {}
    for bid in sorted(p.bids, key=lambda b: (b["received_at"], b["ref"]["position"])):
        latest[bid["bidder_uscc"]] = bid
    by_price: dict[Decimal, list[dict[str, Any]]] = {}
    for bid in latest.values():
        by_price.setdefault(bid["price"], []).append(bid)
    for price, bids in sorted(by_price.items()):
        if len(bids) >= 2:
            yield ctx.finding("PRC-07", 1, "S3", f"price:{price}", "报价雷同",
                              f"{len(bids)} 家供应商报价均为 {price} 元", max(b["effective_on"] for b in bids),
                              [b["ref"] for b in bids])


@rule("PRC-08", 1, "逾期签约")
@_live
def late_contract_signing(ctx: ProcurementContext) -> Iterator[Finding]:
    """Contract signed more than 30 whole days after the award (notice to the winner); on an evaluation date, also
    an award with no contract signed when more than 30 days have passed (key ``signing:overdue``, from the 31st
    day until the contract is signed, when the signed contract's own finding takes over)."""
    p = ctx.procurement
    if p.award is None:
        return
    limit = ctx.params("PRC-08")["days"]
    if p.contract is None:
        if ctx.on is not None and (ctx.on - p.award["effective_on"]).days > limit:
            yield ctx.finding("PRC-08", 1, "S3", "signing:overdue", "逾期签约",
                              f"定标后截至 {ctx.on} 已 {(ctx.on - p.award['effective_on']).days} 天仍未签订合同，"
                              f"超过 {limit} 天", p.award["effective_on"] + timedelta(days=limit + 1),
                              [p.award["ref"]])
        return
    days = (p.contract["signed_on"] - p.award["effective_on"]).days
    if days > limit:
        yield ctx.finding("PRC-08", 1, "S3", "signing", "逾期签约", f"定标后 {days} 天才签订合同，超过 {limit} 天",
                          p.contract["signed_on"], [p.award["ref"], p.contract["ref"]])


@rule("PRC-09", 1, "未及时公告")
@_live
def not_published_in_time(ctx: ProcurementContext) -> Iterator[Finding]:
    """Award or contract published more than 2 working days after the decision / signing (keys ``award``,
    ``contract``); on an evaluation date, also not published at all when more than 2 working days have passed
    (keys ``award:unpublished``, ``contract:unpublished``, from the first overdue day until it is published)."""
    p = ctx.procurement
    limit = ctx.params("PRC-09")["working_days"]
    for key, done, published, label in (("award", p.award, p.award_publication, "中标（成交）结果"),
                                        ("contract", p.contract, p.contract_publication, "合同")):
        if done is None:
            continue
        if published is not None:
            days = working_days(done["effective_on"], published["effective_on"])
            if days > limit:
                yield ctx.finding("PRC-09", 1, "S3", key, "未及时公告",
                                  f"{label}在 {days} 个工作日后才公告，超过 {limit} 个工作日",
                                  published["effective_on"], [done["ref"], published["ref"]])
        elif ctx.on is not None and working_days(done["effective_on"], ctx.on) > limit:
            yield ctx.finding("PRC-09", 1, "S3", f"{key}:unpublished", "未及时公告",
                              f"{label}截至 {ctx.on} 未公告，已超过 {limit} 个工作日",
                              working_day_after(done["effective_on"], limit + 1), [done["ref"]])


@rule("PRC-10", 1, "合同期限超限")
@_live
def contract_term_too_long(ctx: ProcurementContext) -> Iterator[Finding]:
    """Inclusive term beyond one year (end after the day before the same date a year later) without a recorded
    justification, or beyond three years. The term after amendments counts."""
    p = ctx.procurement
    c = p.contract
    if c is None:
        return
    params = ctx.params("PRC-10")
    evidence = [c["ref"]] + [a["ref"] for a in p.amendments if a["new_term_end"] is not None]
    longest = period_end(c["term_start"], 12 * params["maximum_years"])
    if c["term_end"] > longest:
        yield ctx.finding("PRC-10", 1, "S2", "term", "合同期限超限",
                          f"合同期限 {c['term_start']} 至 {c['term_end']}，超过 {params['maximum_years']} 年",
                          c["signed_on"], evidence)
    elif c["term_end"] > period_end(c["term_start"], 12 * params["years_without_justification"]) \
            and not (c["term_justification"] or "").strip():
        yield ctx.finding("PRC-10", 1, "S2", "term", "合同期限超限",
                          f"合同期限 {c['term_start']} 至 {c['term_end']} 超过 1 年，未记录理由", c["signed_on"],
                          evidence)


@rule("PRC-11", 1, "无理由单一来源")
@_live
def unjustified_single_source(ctx: ProcurementContext) -> Iterator[Finding]:
    """Single source whose justification does not start with an allowed reason (a code or its Chinese wording,
    optionally followed by ':' / '：' and details)."""
    p = ctx.procurement
    if p.method != "single_source":
        return
    allowed = ctx.params("PRC-11")["allowed_justifications"]
    text = (p.single_source_justification or "").strip()
    head = text.replace("：", ":").split(":", 1)[0].strip()
    if head not in allowed:
        yield ctx.finding("PRC-11", 1, "S2", "justification", "无理由单一来源",
                          f"单一来源采购理由 {text or '（无）'} 不在允许的情形之内", p.opened_on, [p.opened_ref])


@rule("PRC-12", 1, "追加超限")
@_live
def top_ups_over_cap(ctx: ProcurementContext) -> Iterator[Finding]:
    """Amendments raising the contract value by more than 10% of the signed amount in total, judged at each
    amendment in business-date order."""
    p = ctx.procurement
    if p.contract is None:
        return
    share, signed = ctx.params("PRC-12")["share"], p.contract["signed_amount"]
    running = Decimal(0)
    seen = []
    for a in sorted(p.amendments, key=lambda a: (a["effective_on"], a["ref"]["position"])):
        running += a["amount_delta"]
        seen.append(a["ref"])
        if running > signed * share:
            yield ctx.finding("PRC-12", 1, "S2", "amendments", "追加超限",
                              f"累计追加 {running} 元，超过合同金额 {signed} 元的 {share:.0%}", a["effective_on"],
                              [p.contract["ref"], *seen])
            return
    assert running == amended_total(p)


@rule("PRC-13", 1, "化整为零")
@_live
def threshold_splitting(ctx: ProcurementContext) -> Iterator[Finding]:
    """Same buyer (the caller passes its other processes), provider and category: two or more signed contracts,
    each under the open-tender threshold, signed within a 12-month window (start to the day before the same date
    12 months later), whose sum reaches the threshold. Cancelled processes do not count."""
    p = ctx.procurement
    if p.contract is None:
        return
    params = ctx.params("PRC-13")
    threshold, months = params["threshold"], params["window_months"]
    if p.contract["signed_amount"] >= threshold:
        return
    group = [o for o in [p, *ctx.others]
             if o.contract is not None and not o.is_cancelled and o.region == p.region
             and o.category == p.category and o.contract["supplier_uscc"] == p.contract["supplier_uscc"]
             and o.contract["signed_amount"] < threshold]
    group = sorted({o.id: o for o in group}.values(), key=lambda o: (o.contract["signed_on"], o.id))
    for first in group:
        start = first.contract["signed_on"]
        window = [o for o in group if start <= o.contract["signed_on"] <= period_end(start, months)]
        total = sum((o.contract["signed_amount"] for o in window), Decimal(0))
        if p.id in {o.id for o in window} and len(window) >= 2 and total >= threshold:
            yield ctx.finding("PRC-13", 1, "S2", "splitting", "化整为零",
                              f"{len(window)} 份合同（同一采购人、供应商、品目）{months} 个月内合计 {total} 元，"
                              f"达到公开招标数额标准 {threshold} 元", max(o.contract["signed_on"] for o in window),
                              [o.contract["ref"] for o in window])
            return
