"""The demo scenario as plain data, deterministic from a seed: funds, station projects, their procurement, a year of
postings, and the faults injected into a few of them. Nothing here touches the ledger; ``loader`` posts a plan.

Fiscal year 2023. The 2023 provincial lottery funds (福彩公益金) are passed down in advance (提前下达) in the autumn
of 2022: province → city → county → station projects, each within the limits of LAG-05; procurement runs in
November–December 2022 and the stations operate for the calendar year 2023. Every clean station spends in step
with its monthly plan and the calendar, reports its outputs on time, passes its mid-term and final evaluations,
and returns its surplus, so that the audit finds the injected faults and nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import chinese_calendar
from stdnum.cn import uscc

from ledger.regions import Division, children, get_division, townships_under

DEFAULT_SEED = 2023
YEAR = 2023
BEIJING = timezone(timedelta(hours=8))
ZERO = Decimal("0.00")
CENT = Decimal("0.01")

# The faults, by family, and the stored findings (EAR, PRC, PRF) each must raise; the time-based lags are stated by
# ``expected.expected_lags``. Every faulty station carries exactly one fault.
FAULT_FINDINGS: dict[str, frozenset[str]] = {
    # 专款专用
    "reception": frozenset({"EAR-01", "EAR-02"}),  # 公务接待费: prohibited, and no such budget line
    "over_line": frozenset({"EAR-03"}),  # training beyond its approved line
    "budget_shift": frozenset({"EAR-04"}),  # 12% of the budget moved between lines without approval
    "wrong_payee": frozenset({"EAR-05"}),  # the second installment paid to a company that is not the provider
    "government_payee": frozenset({"EAR-06"}),  # activity money paid to the street office
    "paid_before_contract": frozenset({"EAR-07", "EAR-11", "PRC-01"}),  # first installment before signing
    "after_period": frozenset({"EAR-08"}),  # spent after the period and its 30-day grace
    "duplicate_invoice": frozenset({"EAR-09"}),  # an invoice already listed by a sibling station
    "over_disbursement": frozenset({"EAR-10"}),  # an extra payment beyond the contract
    "early_installment": frozenset({"EAR-11"}),  # second installment before the mid-term evaluation
    "prefinanced": frozenset({"EAR-12"}),  # 30% at signing: the provider spends ahead of its money
    "subcontracted": frozenset({"EAR-13"}),  # activities passed on to another organisation (40% of the contract)
    # 绩效
    "fair_midterm": frozenset({"PRF-01"}),  # mid-term rated 中
    "failed_midterm_paid": frozenset({"PRF-01", "PRF-03", "EAR-11"}),  # rated 差, second installment paid anyway
    "bad_weights": frozenset({"PRF-02"}),  # 产出 + 效益 weighted 50
    "inflated_self": frozenset({"PRF-04"}),  # self-evaluation 14 points above the final evaluation
    # 政府购买服务程序
    "steps_reversed": frozenset({"PRC-01"}),  # announced before the purchase plan was approved
    "signed_before_award": frozenset({"PRC-01", "PRC-02"}),
    "one_qualified": frozenset({"PRC-03"}),  # 竞争性磋商 with one qualified supplier
    "short_period": frozenset({"PRC-04"}),  # 7 days to submit instead of 10
    "small_committee": frozenset({"PRC-05"}),  # a committee of four
    "late_bid_won": frozenset({"PRC-06"}),  # the winner's bid came two hours after the deadline
    "equal_prices": frozenset({"PRC-07"}),  # two bidders with the same price
    "late_signing": frozenset({"PRC-08"}),  # contract signed 35 days after the award
    "late_publication": frozenset({"PRC-09"}),  # award published five working days after the decision
    "long_term": frozenset({"PRC-10"}),  # a two-year contract without a recorded reason
    "single_source_unjustified": frozenset({"PRC-11"}),
    "top_up": frozenset({"PRC-12"}),  # the contract raised by 12%
    # 进度 (time-based: see expected.expected_lags)
    "late_report": frozenset(), "late_payment": frozenset(), "late_midterm": frozenset(), "no_closeout": frozenset(),
    "front_loaded": frozenset(), "few_cases": frozenset(), "slow_spending": frozenset(),
    "late_procurement": frozenset(),
}
# Where each fault goes: 河北 stations, 兰州 stations, 兰州's community rooms, 拉萨 stations.
HEBEI_FAULTS = ("over_disbursement", "duplicate_invoice", "government_payee", "budget_shift", "wrong_payee",
                "paid_before_contract", "early_installment", "prefinanced", "fair_midterm", "failed_midterm_paid",
                "steps_reversed", "signed_before_award", "one_qualified", "short_period", "small_committee",
                "late_report", "late_payment", "front_loaded", "no_closeout")
LANZHOU_FAULTS = ("subcontracted", "bad_weights", "inflated_self", "late_bid_won", "equal_prices",
                  "late_publication", "top_up", "late_midterm", "few_cases", "slow_spending", "after_period")
ROOM_FAULTS = ("late_signing", "late_procurement")
LHASA_FAULTS = ("long_term", "single_source_unjustified", "over_line")
WALKTHROUGH = ("130102001", "reception")  # 长安区建北街道: the station the console walkthrough opens

CITY_SHORT = {"130100": "石", "130200": "唐", "130300": "秦", "130400": "邯", "130500": "邢", "130600": "保",
              "130700": "张", "130800": "承", "130900": "沧", "131000": "廊", "131100": "衡", "620100": "兰",
              "540100": "拉"}
ORG_WORDS = ("启航", "乐和", "同心", "阳光", "春晖", "和睦", "明德", "善行", "益民", "德馨", "仁爱", "恒信", "致远",
             "众合", "暖心", "博爱")
STANDARD_WEIGHTS = {"decision": "15", "process": "25", "output": "30", "effect": "30"}
LANZHOU_DOMAINS = ("social_assistance", "elderly_care", "child_welfare", "community_governance", "marriage_funeral",
                   "disability_services")


# -- the plan's records ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    name: str
    uscc: str


@dataclass
class Step:
    step: str
    on: date
    details: dict[str, Any]


@dataclass
class Posting:
    """One dated posting of a project: a disbursement, expenditure, outputs report, evaluation, budget revision or
    contract amendment (``kind``), with the use case's keyword arguments."""

    kind: str
    on: date
    fields: dict[str, Any]


@dataclass
class ProjectPlan:
    code: str
    name: str
    station_name: str
    township: Division
    kind: str  # station, room, bilingual
    domains: list[str]
    period_start: date
    period_end: date
    budget: Decimal
    contract: Decimal
    provider: Organisation
    fund: FundPlan
    registered_on: date
    allocated_on: date
    method: str
    justification: str | None = None
    social_worker: str | None = None
    fault: str | None = None
    budget_lines: dict[str, Decimal] = field(default_factory=dict)
    monthly_plan: list[dict[str, Any]] = field(default_factory=list)
    output_targets: list[dict[str, Any]] = field(default_factory=list)
    opened_on: date = date(YEAR - 1, 11, 22)
    steps: list[Step] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)
    midterm_on: date = date(YEAR, 7, 10)
    first_payment_on: date = date(YEAR - 1, 12, 20)
    surplus: Decimal = ZERO
    surplus_on: date | None = None
    closed_on: date | None = None

    @property
    def midpoint(self) -> date:
        return self.period_start + timedelta(days=(self.period_end - self.period_start).days // 2)

    def spent_by(self, day: date) -> Decimal:
        return sum((p.fields["amount"] for p in self.postings if p.kind == "expenditure" and p.on <= day), ZERO)


@dataclass
class FundPlan:
    region: Division
    document_no: str
    arrives: date
    parent: FundPlan | None = None
    passes_on: date | None = None  # the day it passes money to its child funds
    held: Decimal = ZERO  # never passed on (an injected lag)
    fault: str | None = None
    children: list[FundPlan] = field(default_factory=list)
    projects: list[ProjectPlan] = field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        return (sum((c.amount for c in self.children), ZERO) + sum((p.budget for p in self.projects), ZERO)
                + self.held)

    @property
    def label(self) -> str:
        return f"{self.region.code}:{self.document_no}"

    def walk(self) -> Iterator[FundPlan]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Plan:
    seed: int
    scale: float
    roots: list[FundPlan]

    @property
    def funds(self) -> list[FundPlan]:
        return [f for root in self.roots for f in root.walk()]

    @property
    def projects(self) -> list[ProjectPlan]:
        return [p for f in self.funds for p in f.projects]


# -- helpers -----------------------------------------------------------------------------------------------------


def organisation(rng: random.Random, name: str, region: str, kind: str = "52") -> Organisation:
    """A made-up organisation with a valid USCC (52: a 社会服务机构 registered by civil affairs; 91: a company)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = f"{kind}{region}" + "".join(rng.choice(alphabet) for _ in range(9))
    return Organisation(name, body + uscc.calc_check_digit(body))


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING)


def months_of(start: date, end: date) -> list[tuple[int, int]]:
    months, (y, m) = [], (start.year, start.month)
    while (y, m) <= (end.year, end.month):
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def month_end(y: int, m: int) -> date:
    return (date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)) - timedelta(days=1)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


# -- the year of a station -------------------------------------------------------------------------------------


def _schedule(p: ProjectPlan) -> list[tuple[str, Decimal, date]]:
    """The clean spending schedule: each month a twelfth (or tenth) of the contract: staff on the 5th (60%),
    activities on the 18th, training twice a year and supervision each quarter out of the activities' share."""
    months = months_of(p.period_start, p.period_end)
    n = len(months)
    m = p.contract / n
    training = {1, n // 2 + 1}
    supervision = {2, 5, 8, 11} - training
    rows = []
    for i, (y, mo) in enumerate(months):
        rows.append(("staff", money(m * Decimal("0.6")), date(y, mo, 5)))
        activities = m * Decimal("0.4")
        if i in training:
            rows.append(("training", money(m * Decimal("0.15")), date(y, mo, 22)))
            activities -= m * Decimal("0.15")
        if i in supervision:
            rows.append(("supervision", money(m * Decimal("0.15")), date(y, mo, 25)))
            activities -= m * Decimal("0.15")
        rows.append(("activities", money(activities), date(y, mo, 18)))
    return sorted(rows, key=lambda r: r[2])


def _invoice(p: ProjectPlan, line: str, day: date) -> str:
    return f"FP{p.township.code}{'R' if p.kind == 'room' else ''}{day:%m%d}{line[:2].upper()}"


def _spend(p: ProjectPlan, line: str, amount: Decimal, day: date, *, payee: Organisation | None = None,
           payee_kind: str = "provider", invoice_no: str | None = None, description: str = "") -> Posting:
    payee = payee or p.provider
    fields: dict[str, Any] = {"line": line, "amount": amount, "payee_name": payee.name, "payee_kind": payee_kind,
                              "effective_on": day}
    if payee.uscc:
        fields["payee_uscc"] = payee.uscc
    fields["invoice_no"] = invoice_no if invoice_no is not None else _invoice(p, line, day)
    if description:
        fields["description"] = description
    return Posting("expenditure", day, fields)


def _scores(rng: random.Random) -> dict[str, str]:
    return {"decision": str(rng.randint(12, 14)), "process": str(rng.randint(20, 24)),
            "output": str(rng.randint(25, 29)), "effect": str(rng.randint(25, 29))}


def _evaluation(kind: str, day: date, scores: dict[str, str], weights: dict[str, str] | None = None) -> Posting:
    return Posting("evaluation", day, {"kind": kind, "evaluator": "第三方评估机构" if kind != "self" else "承接机构",
                                       "weights": dict(weights or STANDARD_WEIGHTS), "scores": scores,
                                       "effective_on": day})


def _procurement(p: ProjectPlan, rng: random.Random, bidders: list[Organisation]) -> None:
    """The legal procedure end to end, or the fault's departure from it."""
    fault = p.fault
    plan_on, announced_on = date(YEAR - 1, 11, 22), date(YEAR - 1, 11, 24)
    deadline = at(date(YEAR - 1, 12, 5), 9, 30)
    evaluated_on, awarded_on = date(YEAR - 1, 12, 5), date(YEAR - 1, 12, 6)
    if fault == "late_procurement":  # the room's procurement slips into 2023: its money sits idle meanwhile
        plan_on, announced_on = date(YEAR, 2, 6), date(YEAR, 2, 8)
        deadline, evaluated_on, awarded_on = at(date(YEAR, 2, 19), 9, 30), date(YEAR, 2, 20), date(YEAR, 2, 21)
    if fault == "short_period":
        deadline = at(announced_on + timedelta(days=7), 9, 30)
    if fault == "steps_reversed":
        plan_on = announced_on + timedelta(days=2)
    award_published = next_working_day(awarded_on)
    if fault == "late_publication":
        for _ in range(4):
            award_published = next_working_day(award_published)
    signed_on = awarded_on + timedelta(days=9)
    if fault == "late_procurement":
        signed_on = date(YEAR, 3, 8)
    if fault == "late_signing":
        signed_on = awarded_on + timedelta(days=35)
    if fault == "signed_before_award":
        signed_on = evaluated_on
    contract_published = max(next_working_day(signed_on), award_published)
    p.opened_on = plan_on
    code = p.township.code + ("R" if p.kind == "room" else "")
    steps = [Step("plan_approved", plan_on, {"document_no": f"采购计划〔{plan_on.year}〕{code}"}),
             Step("announced", announced_on, {"announced_at": at(announced_on, 9), "submission_deadline": deadline,
                                              "notice_no": f"GG-{code}"})]
    price = p.contract
    if p.method != "single_source":
        winner, others = bidders[0], bidders[1:3]
        prices = [price + Decimal(1200) * k for k in sorted(rng.sample(range(1, 9), 2))]
        if fault == "equal_prices":
            prices = [prices[0], prices[0]]
        received = [at(announced_on + timedelta(days=4 + i), 10 + i) for i in range(3)]
        if fault == "late_bid_won":
            received[0] = deadline + timedelta(hours=2)
        for bidder, amount, when in zip([winner, *others], [price, *prices], received, strict=True):
            steps.append(Step("bid_received", when.date(), {"bidder_name": bidder.name, "bidder_uscc": bidder.uscc,
                                                            "price": amount, "received_at": when}))
        scores = {winner.uscc: Decimal("92.50"), others[0].uscc: Decimal("86.00"), others[1].uscc: Decimal("81.50")}
        steps.append(Step("bids_evaluated", evaluated_on, {
            "scores": scores, "qualified": [winner.uscc] if fault == "one_qualified" else list(scores),
            "committee_size": 4 if fault == "small_committee" else 5,
            "expert_count": 3 if fault == "small_committee" else 4}))
    steps += [Step("awarded", awarded_on, {"supplier_name": p.provider.name, "supplier_uscc": p.provider.uscc,
                                           "amount": price}),
              Step("award_published", award_published, {"notice_no": f"ZB-{code}"})]
    # installments: 60% at signing and 40% once the mid-term evaluation is passed (70/30 where the second comes
    # late, so that the provider's spending stays within what it was paid; 30/70 for the prefinancing fault)
    first = Decimal("0.3") if fault == "prefinanced" else Decimal("0.7") if fault in ("late_payment",
                                                                                      "late_midterm") else \
        Decimal("0.6")
    contract = {"contract_no": f"HT-{code}-{YEAR}", "supplier_name": p.provider.name,
                "supplier_uscc": p.provider.uscc, "amount": price, "term_start": p.period_start,
                "term_end": p.period_end,
                "installments": [{"no": 1, "amount": money(price * first), "condition": "signing"},
                                 {"no": 2, "amount": price - money(price * first), "condition": "midterm_passed"}]}
    if fault == "long_term":
        contract["term_end"] = date(YEAR + 1, 12, 31)
    steps += [Step("contract_signed", signed_on, contract),
              Step("contract_published", contract_published, {"notice_no": f"HTGG-{code}"})]
    p.steps = sorted(steps, key=lambda s: s.on) if fault != "steps_reversed" else steps
    p.first_payment_on = max(contract_published + timedelta(days=4), p.allocated_on + timedelta(days=1))
    if fault == "paid_before_contract":
        p.first_payment_on = signed_on - timedelta(days=5)


def _year(p: ProjectPlan, rng: random.Random, sibling: ProjectPlan | None, others: dict[str, Organisation]) -> None:
    """Budget lines, monthly plan, output targets and the year's postings of one station."""
    fault = p.fault
    schedule = _schedule(p)
    lines: dict[str, Decimal] = {}
    for line, amount, _ in schedule:
        lines[line] = lines.get(line, ZERO) + amount
    lines["activities"] += p.budget - p.contract  # the budget's headroom over the contract price
    p.budget_lines = lines
    months = months_of(p.period_start, p.period_end)
    cumulative, plan = ZERO, []
    for y, mo in months:
        cumulative += sum((a for _, a, d in schedule if (d.year, d.month) == (y, mo)), ZERO)
        plan.append({"month": f"{y}-{mo:02d}", "cumulative_amount": cumulative})
    p.monthly_plan = plan
    cases = 5 if p.social_worker else 4
    p.output_targets = [{"indicator": indicator, "month": f"{y}-{mo:02d}", "cumulative_target": per * (i + 1)}
                        for indicator, per in (("cases", cases), ("groups", 1), ("community_activities", 2))
                        for i, (y, mo) in enumerate(months)]
    postings: list[Posting] = []

    # spending, and the faults that change it
    rows = list(schedule)
    if fault == "late_procurement":  # the room opens when its contract is signed: March's spending comes late
        rows = [(line, a, d + timedelta(days=15) if d.month == 3 and line == "staff" else
                 d + timedelta(days=7) if d.month == 3 else d) for line, a, d in rows]
    if fault == "front_loaded":  # half a month of March's staff money paid in January (year-start rush)
        march = next(i for i, (line, _, d) in enumerate(rows) if line == "staff" and d.month == 3)
        line, amount, day = rows[march]
        moved = money(p.contract / len(months) / 2)
        rows[march] = (line, amount - moved, day)
        rows.append(("staff", moved, date(YEAR, 1, 25)))
    if fault == "slow_spending":  # the station spends 80% of its plan, and is paid for what it spends
        rows = [(line, money(a * Decimal("0.8")), d) for line, a, d in rows]
    extra: list[Posting] = []
    fault_day = date(YEAR, 12, 12)
    if fault == "reception":
        extra.append(_spend(p, "official_reception", Decimal("1800.00"), fault_day, payee=others["hotel"],
                            payee_kind="supplier", invoice_no=f"JD{p.township.code}", description="公务接待餐费"))
    if fault == "duplicate_invoice" and sibling is not None:
        original = next(r for r in _schedule(sibling) if r[0] == "staff" and r[2].month == 3)
        extra.append(_spend(p, "activities", Decimal("1500.00"), fault_day,
                            invoice_no=_invoice(sibling, original[0], original[2])))
    if fault == "government_payee":
        office = Organisation(f"{p.township.name}办事处", "")
        extra.append(_spend(p, "activities", Decimal("1200.00"), fault_day, payee=office,
                            payee_kind="government_unit", invoice_no="", description="场地协调费"))
    if fault == "over_line":
        extra.append(_spend(p, "training", Decimal("1600.00"), fault_day, invoice_no=f"PX{p.township.code}"))
    if fault == "after_period":
        extra.append(_spend(p, "activities", Decimal("1000.00"), p.period_end + timedelta(days=31),
                            invoice_no=f"YQ{p.township.code}"))
    held_back = sum((e.fields["amount"] for e in extra), ZERO)
    if held_back:  # the fault's spending comes out of the last month, so the year's total still agrees
        for line in ("activities", "staff"):
            last = max((i for i, r in enumerate(rows) if r[0] == line), key=lambda i: rows[i][2])
            take = min(held_back, rows[last][1] - Decimal("100.00"))
            rows[last] = (rows[last][0], rows[last][1] - take, rows[last][2])
            held_back -= take
            if not held_back:
                break
    for line, amount, day in rows:
        payee, kind = p.provider, "provider"
        if p.social_worker and line == "staff":
            payee, kind = Organisation(p.social_worker, ""), "individual"
        if fault == "subcontracted" and line != "staff":
            payee, kind = others["subcontractor"], "service_organisation"
        postings.append(_spend(p, line, amount, day, payee=payee, payee_kind=kind,
                               invoice_no="" if kind == "individual" else None,
                               description="驻站专业社工工资" if kind == "individual" else ""))
    postings += extra
    if fault == "over_disbursement":
        postings.append(_spend(p, "activities", Decimal("3000.00"), date(YEAR, 12, 20),
                               invoice_no=f"ZJ{p.township.code}"))
    for posting in postings:  # empty invoice numbers and descriptions are left out
        for key in ("invoice_no", "description"):
            if posting.fields.get(key) == "":
                del posting.fields[key]

    # outputs, evaluations, payments
    for y, mo in months:
        values = {"cases": 3 if fault == "few_cases" else cases, "groups": 1, "community_activities": 2,
                  "home_visits": rng.randint(6, 20), "people_served": rng.randint(40, 150)}
        day = date(y, mo, 28)
        if fault == "late_report" and (y, mo) == (YEAR, 6):
            day = date(YEAR, 7, 15)
        postings.append(Posting("outputs", day, {"month": f"{y}-{mo:02d}", "values": values, "effective_on": day}))
    midterm = p.midpoint + timedelta(days=8)
    if fault == "late_midterm":
        midterm = p.midpoint + timedelta(days=49)
    p.midterm_on = midterm
    weights, scores = STANDARD_WEIGHTS, _scores(rng)
    if fault == "fair_midterm":
        scores = {"decision": "10", "process": "18", "output": "22", "effect": "22"}  # 72: 中
    if fault == "failed_midterm_paid":
        scores = {"decision": "8", "process": "14", "output": "17", "effect": "16"}  # 55: 差
    if fault == "bad_weights":
        weights = {"decision": "20", "process": "30", "output": "25", "effect": "25"}
        scores = {"decision": "18", "process": "26", "output": "22", "effect": "22"}
    postings.append(_evaluation("midterm", midterm, scores, weights))
    final_on = p.period_end + timedelta(days=18)
    if fault != "no_closeout":
        final = {"decision": "12", "process": "20", "output": "25", "effect": "25"} if fault in (
            "inflated_self", "failed_midterm_paid") else _scores(rng)
        postings.append(_evaluation("final", final_on, final))
    if fault == "inflated_self":
        postings.append(_evaluation("self", p.period_end + timedelta(days=10),
                                    {"decision": "15", "process": "24", "output": "29", "effect": "28"}))
    contract = next(s for s in p.steps if s.step == "contract_signed").details
    first, second = (i["amount"] for i in contract["installments"])
    pay_second = midterm + timedelta(days=6)
    if fault == "late_payment":
        pay_second = midterm + timedelta(days=40)
    if fault == "early_installment":
        pay_second = midterm - timedelta(days=20)
    if fault == "slow_spending":
        second = sum((a for _, a, _ in rows), ZERO) - first
    postings.append(Posting("disbursement", p.first_payment_on, {"amount": first, "installment": 1}))
    second_fields: dict[str, Any] = {"amount": second, "installment": 2}
    if fault == "wrong_payee":
        second_fields["payee"] = others["company"]
    postings.append(Posting("disbursement", pay_second, second_fields))
    if fault == "over_disbursement":
        postings.append(Posting("disbursement", date(YEAR, 11, 20), {"amount": Decimal("3000.00"),
                                                                      "installment": None}))
    if fault == "budget_shift":
        moved = money(p.budget * Decimal("0.12"))
        postings.append(Posting("revision", date(YEAR, 9, 10), {
            "moves": [{"from_line": "activities", "to_line": "staff", "amount": moved}],
            "reason": "调整人员经费", "effective_on": date(YEAR, 9, 10)}))
    if fault == "top_up":
        postings.append(Posting("amendment", date(YEAR, 9, 1), {
            "amendment_no": f"BC-{p.township.code}", "amount_delta": money(p.contract * Decimal("0.12")),
            "reason": "增加服务内容"}))
    order = {"disbursement": 0, "revision": 1, "amendment": 1, "expenditure": 2, "outputs": 3, "evaluation": 4}
    p.postings = sorted(postings, key=lambda x: (x.on, order[x.kind]))
    paid = sum((x.fields["amount"] for x in p.postings if x.kind == "disbursement"), ZERO)
    if fault != "no_closeout":
        p.surplus, p.surplus_on, p.closed_on = p.budget - paid, final_on + timedelta(days=7), date(YEAR + 1, 2, 20)


# -- the regions ---------------------------------------------------------------------------------------------


def _contract_price(rng: random.Random, budget: Decimal, months: int) -> Decimal:
    step = Decimal(100 * months)
    return money((budget * Decimal(str(rng.uniform(0.93, 0.975))) / step).to_integral_value(rounding="ROUND_FLOOR")
                 * step)


def _station(rng: random.Random, township: Division, fund: FundPlan, provider: Organisation, *, kind: str,
             budget: int, domains: list[str], method: str = "competitive_consultation",
             social_worker: str | None = None) -> ProjectPlan:
    if kind == "room":
        code, name = f"SFS-{township.code}-{YEAR}", f"{township.name}示范社区社会工作室{YEAR}年度项目"
        station, start = f"{township.name}示范社区社会工作室", date(YEAR, 3, 1)
    elif kind == "bilingual":
        code, name = f"SGZ-{township.code}-{YEAR}", f"{township.name}双语社工站{YEAR}年度运营项目"
        station, start = f"{township.name}双语社会工作服务站", date(YEAR, 1, 1)
    else:
        code, name = f"SGZ-{township.code}-{YEAR}", f"{township.name}社工站{YEAR}年度运营项目"
        station, start = f"{township.name}社会工作服务站", date(YEAR, 1, 1)
    end = date(YEAR, 12, 31)
    months = len(months_of(start, end))
    amount = Decimal(budget).quantize(CENT)
    project = ProjectPlan(code=code, name=name, station_name=station, township=township, kind=kind,
                          domains=domains, period_start=start, period_end=end, budget=amount,
                          contract=_contract_price(rng, amount, months), provider=provider, fund=fund,
                          registered_on=date(YEAR - 1, 11, 14), allocated_on=date(YEAR - 1, 11, 21), method=method,
                          social_worker=social_worker)
    fund.projects.append(project)
    return project


def _sample(rng: random.Random, items: list[Any], share: float, minimum: int = 1) -> list[Any]:
    count = min(len(items), max(minimum, round(len(items) * share)))
    return sorted(rng.sample(items, count), key=lambda d: d.code) if count < len(items) else list(items)


def _providers(rng: random.Random, counties: list[Division], city: Division) -> dict[str, Organisation]:
    words = rng.sample(ORG_WORDS, len(ORG_WORDS))
    return {c.code: organisation(rng, f"{city.name}{c.name}{words[i % len(words)]}社会工作服务中心", c.code)
            for i, c in enumerate(counties)}


def _hebei(rng: random.Random, scale: float) -> FundPlan:
    province = get_division("130000")
    root = FundPlan(province, f"冀财社〔{YEAR - 1}〕118号", date(YEAR - 1, 10, 28), passes_on=date(YEAR - 1, 11, 1))
    for city in children(province.code):
        fund = FundPlan(city, f"冀财社〔{YEAR - 1}〕126号", date(YEAR - 1, 11, 1), parent=root,
                        passes_on=date(YEAR - 1, 11, 10))
        root.children.append(fund)
        counties = [c for c in children(city.code) if townships_under(c.code)]
        chosen = [counties[0], *rng.sample(counties[1:], 1)]  # the city seat's first district and one more
        providers = _providers(rng, chosen, city)
        for county in chosen:
            county_fund = FundPlan(county, f"{CITY_SHORT[city.code]}财社〔{YEAR - 1}〕{rng.randint(20, 90)}号",
                                   date(YEAR - 1, 11, 10), parent=fund, passes_on=date(YEAR - 1, 11, 21))
            fund.children.append(county_fund)
            townships = townships_under(county.code)
            picked = [townships[0], *_sample(rng, townships[1:], 0, minimum=max(1, round(2 * scale)))]
            for township in picked:
                _station(rng, township, county_fund, providers[county.code], kind="station",
                         budget=rng.choice((120000, 150000, 180000)),
                         domains=["social_assistance", "elderly_care", "child_welfare"])
    return root


def _lanzhou(rng: random.Random, scale: float) -> FundPlan:
    province, city = get_division("620000"), get_division("620100")
    root = FundPlan(province, f"甘财社〔{YEAR - 1}〕97号", date(YEAR - 1, 10, 26), passes_on=date(YEAR - 1, 11, 1))
    fund = FundPlan(city, f"甘财社〔{YEAR - 1}〕105号", date(YEAR - 1, 11, 1), parent=root,
                    passes_on=date(YEAR - 1, 11, 10))
    root.children.append(fund)
    counties = [c for c in children(city.code) if c.code != "620171"]  # 兰州新区 is a functional zone
    providers = _providers(rng, counties, city)
    streets: list[tuple[Division, FundPlan]] = []
    for county in counties:
        county_fund = FundPlan(county, f"兰财社〔{YEAR - 1}〕{rng.randint(30, 80)}号", date(YEAR - 1, 11, 10),
                               parent=fund, passes_on=date(YEAR - 1, 11, 21))
        fund.children.append(county_fund)
        townships = townships_under(county.code)
        for township in _sample(rng, townships, scale):
            focus = ["elderly_care", "child_welfare", "social_assistance"]
            _station(rng, township, county_fund, providers[county.code], kind="station",
                     budget=rng.choice((80000, 100000, 120000)),
                     domains=[*focus, rng.choice(LANZHOU_DOMAINS[3:])])
        if county.code in ("620102", "620103", "620104", "620105", "620111"):
            streets += [(t, county_fund) for t in townships if t.name.endswith("街道")]
    # 14 demonstration community rooms (示范社区工作室) opened in 2023 in the urban districts' streets
    for township, county_fund in sorted(rng.sample(streets, 14), key=lambda s: s[0].code):
        _station(rng, township, county_fund, providers[township.code[:6]], kind="room", budget=60000,
                 domains=["community_governance", "elderly_care"], method="competitive_negotiation")
    return root


def _lhasa(rng: random.Random, scale: float) -> FundPlan:
    region, city = get_division("540000"), get_division("540100")
    root = FundPlan(region, f"藏财社〔{YEAR - 1}〕66号", date(YEAR - 1, 10, 31), passes_on=date(YEAR - 1, 11, 1),
                    fault="region_holds")
    fund = FundPlan(city, f"藏财社〔{YEAR - 1}〕71号", date(YEAR - 1, 11, 1), parent=root,
                    passes_on=date(YEAR - 1, 11, 10))
    root.children.append(fund)
    counties = [c for c in children(city.code) if c.code[4:] < "71"]  # the 8 districts and counties: 65 units
    providers = _providers(rng, counties, city)
    # the first 12 professional social workers: 12 townships of 城关区, 堆龙德庆区 and 达孜区 (6 + 3 + 3)
    stationed = {t.code for code, n in (("540102", 6), ("540103", 3), ("540104", 3))
                 for t in rng.sample(townships_under(code), n)}
    for county in counties:
        county_fund = FundPlan(county, f"拉财社〔{YEAR - 1}〕{rng.randint(10, 60)}号", date(YEAR - 1, 11, 10),
                               parent=fund, passes_on=date(YEAR - 1, 11, 21))
        fund.children.append(county_fund)
        townships = townships_under(county.code)
        for township in townships if scale >= 1 else _sample(rng, townships, scale):
            worker = f"{township.name}驻站专业社工" if township.code in stationed else None
            _station(rng, township, county_fund, providers[county.code], kind="bilingual",
                     budget=180000 if worker else 100000,
                     domains=["social_assistance", "elderly_care", "community_governance"],
                     method="single_source" if worker else "competitive_consultation", social_worker=worker)
    # The region passes only 拉萨市's share on and keeps the rest unallocated all year (an injected fund lag).
    root.held = money(fund.amount * Decimal("1.25"))
    return root


def build_plan(seed: int = DEFAULT_SEED, scale: float = 1.0) -> Plan:
    """The whole scenario; ``scale`` (0 < scale <= 1) keeps that share of the clean stations of 兰州 and 拉萨
    and of 河北's sampled townships; every fault is placed whatever the scale."""
    if not 0 < scale <= 1:
        raise ValueError("scale must be in (0, 1]")
    rng = random.Random(seed)
    roots = [_hebei(rng, scale), _lanzhou(rng, scale), _lhasa(rng, scale)]
    plan = Plan(seed, scale, roots)
    _place_faults(rng, plan)
    others = {"hotel": organisation(rng, "某大酒店有限公司", "130102", "91"),
              "company": organisation(rng, "某文化传播有限公司", "130102", "91"),
              "subcontractor": organisation(rng, "兰州市某社会工作事务所", "620102")}
    bidders = {}
    for root in roots:
        pool = sorted({p.provider for f in root.walk() for p in f.projects}, key=lambda o: o.uscc)
        for p in (p for f in root.walk() for p in f.projects):
            rivals = [o for o in pool if o != p.provider]
            bidders[p.code] = [p.provider, *rng.sample(rivals, 2)]
    siblings = {p.code: next((q for q in p.fund.projects if q is not p and q.kind == p.kind), None)
                for p in plan.projects}
    for p in plan.projects:
        _procurement(p, rng, bidders[p.code])
        _year(p, rng, siblings[p.code], others)
    return plan


def _place_faults(rng: random.Random, plan: Plan) -> None:
    hebei, lanzhou, lhasa = (plan.roots[0], plan.roots[1], plan.roots[2])
    cities = hebei.children
    late_city = rng.choice([c for c in cities if c.region.code != "130100"])
    late_city.fault, late_city.passes_on = "city_late", late_city.arrives + timedelta(days=62)
    for county in late_city.children:  # its counties get the money late, and pass it on at once
        county.arrives, county.passes_on = late_city.passes_on, late_city.passes_on + timedelta(days=1)
        for p in county.projects:
            p.allocated_on = county.passes_on
    holding = rng.choice([c for city in cities if city is not late_city for c in city.children
                          if c.region.code != "130102"])
    holding.fault = "county_holds"  # keeps a fifth of its money unallocated all year
    holding.held = money(sum((p.budget for p in holding.projects), ZERO) / 4)

    walkthrough = next(p for p in hebei.children[0].children[0].projects if p.township.code == WALKTHROUGH[0])
    walkthrough.fault = WALKTHROUGH[1]
    pool = [p for f in hebei.walk() if f is not late_city and f.parent is not late_city for p in f.projects
            if p.fault is None]
    _assign(rng, pool, HEBEI_FAULTS)
    stations = [p for f in lanzhou.walk() for p in f.projects if p.kind == "station"]
    _assign(rng, stations, LANZHOU_FAULTS)
    _assign(rng, [p for f in lanzhou.walk() for p in f.projects if p.kind == "room"], ROOM_FAULTS)
    _assign(rng, [p for f in lhasa.walk() for p in f.projects if p.method != "single_source"],
            LHASA_FAULTS[1:])
    _assign(rng, [p for f in lhasa.walk() for p in f.projects if p.fault is None], LHASA_FAULTS[:1])
    for p in plan.projects:
        if p.fault == "single_source_unjustified":
            p.method, p.justification = "single_source", "原承接机构服务满意，继续委托"
        elif p.method == "single_source":
            p.justification = "必须保证原有采购项目一致性或者服务配套的要求：延续驻站专业社工服务"


def _assign(rng: random.Random, pool: list[ProjectPlan], faults: tuple[str, ...]) -> None:
    free = [p for p in pool if p.fault is None]
    if len(free) < len(faults):
        raise ValueError(f"the scale leaves {len(free)} stations for {len(faults)} faults")
    for project, fault in zip(rng.sample(free, len(faults)), faults, strict=True):
        project.fault = fault
        if fault == "duplicate_invoice" and not any(q is not project and q.kind == project.kind
                                                    for q in project.fund.projects):
            raise ValueError(f"{project.code} has no sibling station to take an invoice from")
