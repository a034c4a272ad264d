"""The postings of a synthetic fiscal year, deterministic from a seed: every township station runs one project.

A plan is a sequence of ``Posting``s in the use cases' own terms (the use case's name, the aggregate it addresses,
its keyword arguments with typed values), so the same plan can be loaded through the use cases, directly through
the domain aggregates in large batches, or over HTTP (the keyword arguments are the request body).

One station year (the clean case; it raises no finding on any evaluation date):

* the province's fund is passed down to each city, then each county (资金下达), then to each station project;
* registration with budget lines, a monthly spending plan and monthly output targets;
* procurement by competitive consultation: plan, announcement, 3 bids, evaluation, award, award notice, contract
  (4 installments: two on signing, two once the mid-term evaluation passed), contract notice;
* the 4 installments, paid ahead of the spending they cover;
* every month 2 staff payments and 16–25 smaller expenditures on activities, training and supervision (20,000.00 a
  month), and the month's output report;
* a self-evaluation, a mid-term and a final evaluation, and the unspent 20,000.00 returned after the year.

About 300 events per project (≈ 0.72 million for the 2,365 townships of 河北省). A few percent of the projects carry
an injected violation or lag (see ``INJECTIONS``); which ones is drawn from the seed, at least one per family.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from stdnum.cn import uscc

from ledger import ids
from ledger.regions import Division, ancestors, get_division, is_valid_code, townships_under

BEIJING = timezone(timedelta(hours=8))
CENTS = Decimal("0.01")
PER_PROJECT = Decimal("260000.00")
CONTRACT = Decimal("240000.00")
SURPLUS = PER_PROJECT - CONTRACT
BUDGET = {"staff": Decimal("170000.00"), "activities": Decimal("70000.00"), "training": Decimal("10000.00"),
          "supervision": Decimal("5000.00"), "management": Decimal("5000.00")}
# Each month: two staff payments, then activities, training and supervision split into many small expenditures.
STAFF_PAYMENT = Decimal("7000.00")
SMALL_ITEMS = {"activities": (Decimal("5000.00"), 13, 21), "training": (Decimal("700.00"), 1, 3),
               "supervision": (Decimal("300.00"), 1, 2)}
MONTHLY = Decimal("20000.00")
INSTALLMENTS = [(1, Decimal("80000.00"), "signing"), (2, Decimal("60000.00"), "signing"),
                (3, Decimal("60000.00"), "midterm_passed"), (4, Decimal("40000.00"), "midterm_passed")]
WEIGHTS = {"decision": Decimal(15), "process": Decimal(25), "output": Decimal(30), "effect": Decimal(30)}
FUND_CATEGORIES = [*BUDGET, "equipment", "travel", "office", "subcontracting"]
DOMAINS = ["elderly_care", "child_welfare", "social_assistance", "community_governance"]

# Injected faults by rule family: (rate among projects, kinds). Each kind names the rule(s) it is built to raise.
INJECTIONS: dict[str, tuple[float, dict[str, str]]] = {
    "EAR": (0.04, {
        "reception": "EAR-01, EAR-02: 公务接待费, no such budget line and prohibited",
        "duplicate_invoice": "EAR-09: an invoice number listed twice",
        "government_payee": "EAR-06: paid to the street office",
        "over_line": "EAR-03: training beyond its approved line",
        "after_period": "EAR-08: spent after the period and its grace",
        "early_installment": "EAR-11: third installment paid before the mid-term evaluation",
        "wrong_payee": "EAR-05: fourth installment paid to a bidder who lost",
        "unapproved_shift": "EAR-04: 27,000.00 moved between lines with no approval document",
    }),
    "PRF": (0.02, {
        "fair_midterm": "PRF-01 (S3): mid-term rated 中",
        "failed_midterm": "PRF-01 (S2), PRF-03, EAR-11: mid-term rated 差 and paid on regardless",
        "bad_weights": "PRF-02: output and effect weighted 40",
        "inflated_self": "PRF-04: self-evaluation 98 against a mid-term of about 85",
    }),
    "LAG": (0.03, {
        "late_report": "LAG-08: June's report filed on 15 July",
        "late_payment": "LAG-09: fourth installment paid 67 days after the mid-term",
        "late_midterm": "LAG-06: mid-term evaluated 2 days after its deadline",
        "idle": "LAG-04, LAG-01, LAG-02, LAG-03, LAG-08, later LAG-07: nothing spent or reported after July",
    }),
    "PRC": (0.01, {
        "identical_bids": "PRC-07: two bids at the same price",
        "short_period": "PRC-04: 5 days from announcement to deadline",
        "award_after_contract": "PRC-01, PRC-02: the award dated after the contract",
    }),
}


@dataclass(frozen=True)
class ProcurementOf:
    """The procurement opened for a project: its id is only known once it is opened."""

    project_code: str


@dataclass(frozen=True)
class Posting:
    """One write: the use case, the aggregate it addresses (id, or ``ProcurementOf``) and its keyword arguments."""

    op: str
    target: UUID | ProcurementOf | None
    args: dict[str, Any]
    project: str | None = None  # the project code it belongs to, if any
    key: str = ""  # a stable, unique name: the Idempotency-Key over HTTP, the seed of entry ids in direct loading


@dataclass
class Workload:
    """A plan: the townships it covers and, per project code, the faults injected there."""

    seed: int
    year: int
    townships: list[Division]
    injected: dict[str, list[str]] = field(default_factory=dict)

    def chunks(self, chunk: int = 100) -> Iterator[list[Posting]]:
        """The funds first, then the projects ``chunk`` townships at a time, each chunk in business-date order (the
        log interleaves the stations of a chunk as their postings happened, not one station after another)."""
        yield list(_fund_postings(self))
        for start in range(0, len(self.townships), chunk):
            stations: list[Posting] = []
            for index in range(start, min(start + chunk, len(self.townships))):
                stations += _station_year(self, index)
            order = {id(p): n for n, p in enumerate(stations)}
            yield sorted(stations, key=lambda p: (p.args["effective_on"], order[id(p)]))

    def postings(self, chunk: int = 100) -> Iterator[Posting]:
        for postings in self.chunks(chunk):
            yield from postings

    @property
    def projects(self) -> list[str]:
        return [project_code(t, self.year) for t in self.townships]

    def counts_by_family(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for faults in self.injected.values():
            for fault in faults:
                family = next(f for f, (_, kinds) in INJECTIONS.items() if fault in kinds)
                counts[family] = counts.get(family, 0) + 1
        return counts


def province_year(province: str = "130000", *, townships: int | None = None, seed: int = 2023,
                  year: int = 2023) -> Workload:
    """Every township of a province (or its first ``townships``) for a fiscal year."""
    units = townships_under(province)
    return _workload(units[:townships] if townships else units, seed, year)


def nation_sample(every: int = 20, *, seed: int = 2023, year: int = 2023, townships: int | None = None) -> Workload:
    """Every ``every``-th township of the country (all 31 provinces): a sample of the nation-year whose figures are
    scaled by ``every`` (about 41,000 townships in all)."""
    units: list[Division] = []
    for province in _provinces():
        units += townships_under(province)
    sample = units[::every]
    return _workload(sample[:townships] if townships else sample, seed, year)


def project_code(township: Division, year: int) -> str:
    return f"SGZ-{township.code}-{year}"


def fund_document(code: str, year: int) -> str:
    return f"财社〔{year}〕{code}号"


def fund_chain(township: Division) -> list[str]:
    """The divisions whose funds the money passes through, top down, ending at the township's county (or city)."""
    return [code for code in reversed(ancestors(township.code)) if get_division(code).level != "township"]


def _provinces() -> list[str]:
    return [code for code in (f"{n}0000" for n in range(10, 100)) if is_valid_code(code)]


def _workload(units: Sequence[Division], seed: int, year: int) -> Workload:
    workload = Workload(seed=seed, year=year, townships=list(units))
    rng = random.Random(f"{seed}:injections")
    order = list(range(len(units)))
    rng.shuffle(order)
    position = 0
    for _family, (rate, kinds) in INJECTIONS.items():
        count = max(1, round(rate * len(units))) if units else 0
        names = sorted(kinds)
        for n in range(count):
            index = order[position % len(order)]
            position += 1
            code = project_code(units[index], year)
            workload.injected.setdefault(code, []).append(names[n % len(names)])
    return workload


def _fund_id(code: str, year: int) -> UUID:
    return ids.fund_id(code, fund_document(code, year))


def _fund_postings(w: Workload) -> Iterator[Posting]:
    """Appropriation at the top of each chain, and allocations down to each county (or city) that has stations."""
    needed: dict[str, Decimal] = {}
    parents: dict[str, str | None] = {}
    for township in w.townships:
        chain = fund_chain(township)
        for depth, code in enumerate(chain):
            needed[code] = needed.get(code, Decimal(0)) + PER_PROJECT
            parents.setdefault(code, chain[depth - 1] if depth else None)
    year = w.year
    common = {"fiscal_year": year, "source_level": "central", "purpose": "乡镇(街道)社工站建设运营",
              "allowed_categories": FUND_CATEGORIES, "service_domains": DOMAINS, "valid_from": date(year, 1, 1),
              "valid_to": date(year, 12, 31)}
    for code in sorted(needed, key=lambda c: (len(ancestors(c)), c)):
        parent = parents[code]
        if parent is None:
            yield Posting("appropriate_fund", None, {"holder_region": code, "document_no": fund_document(code, year),
                                                     "amount": needed[code], "effective_on": date(year, 2, 1),
                                                     **common}, key=f"fund-{code}")
        else:
            depth = len(ancestors(code))
            yield Posting("allocate_funds", _fund_id(parent, year),
                          {"target_kind": "fund", "child_region": code, "document_no": fund_document(code, year),
                           "amount": needed[code],
                           "effective_on": date(year, 2, 1) + timedelta(days=19 if depth == 1 else 29)},
                          key=f"fund-{code}")


def provider_of(county: str) -> tuple[str, str]:
    """The social work organisation contracted in a county: name and a valid USCC (民办非企业单位, 52...)."""
    division = get_division(county)
    base = f"52{county}MJ{int(county) % 10**7:07d}"
    return f"{division.name}社会工作服务中心", base + uscc.calc_check_digit(base)


def _bidder(county: str, n: int) -> tuple[str, str]:
    division = get_division(county)
    base = f"52{county}MK{(int(county) * 7 + n) % 10**7:07d}"
    return f"{division.name}第{n}社工事务所", base + uscc.calc_check_digit(base)


def _split(rng: random.Random, total: Decimal, parts: int) -> list[Decimal]:
    """``total`` in ``parts`` random positive amounts, to the cent, adding up exactly."""
    cents = int(total * 100)
    cuts = sorted(rng.sample(range(1, cents), parts - 1))
    return [(Decimal(b - a) / 100).quantize(CENTS) for a, b in zip([0, *cuts], [*cuts, cents], strict=True)]


def _months(start: date) -> list[tuple[int, int]]:
    return [(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1) for i in range(12)]


def _station_year(w: Workload, index: int) -> list[Posting]:
    township = w.townships[index]
    year, code = w.year, project_code(township, w.year)
    faults = set(w.injected.get(code, []))
    rng = random.Random(f"{w.seed}:{township.code}")
    county = fund_chain(township)[-1]
    fund_id = _fund_id(county, year)
    provider, provider_uscc = provider_of(county)
    pid = ids.project_id(code)
    start, end = date(year, 4, 1), date(year + 1, 3, 31)
    months = _months(start)
    postings: list[Posting] = []

    def post(op: str, target: Any, **args: Any) -> None:
        postings.append(Posting(op, target, args, project=code, key=f"{code}-{len(postings)}"))

    plan = [{"month": f"{y}-{m:02d}", "cumulative_amount": MONTHLY * (i + 1)} for i, (y, m) in enumerate(months)]
    targets = [{"indicator": "cases", "month": f"{y}-{m:02d}", "cumulative_target": 4 * (i + 1)}
               for i, (y, m) in enumerate(months)]
    post("register_project", None, code=code, name=f"{township.name}社工站{year}年度运营项目",
         township_code=township.code, station_name=f"{township.name}社会工作服务站",
         service_domains=["elderly_care", "child_welfare"], period_start=start, period_end=end,
         budget_lines=dict(BUDGET), monthly_plan=plan, output_targets=targets, effective_on=date(year, 2, 10))
    post("allocate_funds", fund_id, target_kind="project", project_id=pid, amount=PER_PROJECT,
         effective_on=date(year, 3, 20))
    bidders = [(provider, provider_uscc), _bidder(county, 1), _bidder(county, 2)]
    _procurement(w, township, faults, rng, bidders, post)

    # -- evaluations and installments ----------------------------------------------------------------------------
    on_time = "late_midterm" not in faults
    midterm_on = date(year, 10, 9) if on_time else date(year, 11, 1)  # the deadline is 30 October
    weights, scores = dict(WEIGHTS), {"decision": Decimal(13), "process": Decimal(21), "output": Decimal(26),
                                      "effect": Decimal(rng.randint(22, 28))}
    if "bad_weights" in faults:
        weights = {"decision": Decimal(40), "process": Decimal(20), "output": Decimal(20), "effect": Decimal(20)}
        scores = {"decision": Decimal(36), "process": Decimal(18), "output": Decimal(18), "effect": Decimal(18)}
    elif "failed_midterm" in faults:
        scores = {"decision": Decimal(8), "process": Decimal(12), "output": Decimal(15), "effect": Decimal(10)}
    elif "fair_midterm" in faults:
        scores = {"decision": Decimal(11), "process": Decimal(18), "output": Decimal(21), "effect": Decimal(20)}
    self_scores = ({"decision": Decimal(15), "process": Decimal(25), "output": Decimal(29), "effect": Decimal(29)}
                   if "inflated_self" in faults else dict(scores))
    post("record_evaluation", pid, kind="self", evaluator=provider, weights=dict(weights), scores=self_scores,
         effective_on=midterm_on - timedelta(days=8))
    post("record_evaluation", pid, kind="midterm", evaluator="第三方评估机构", weights=dict(weights),
         scores=dict(scores), effective_on=midterm_on)
    idle = "idle" in faults
    paid_on = {1: date(year, 4, 3), 2: date(year, 4, 20), 3: midterm_on + timedelta(days=11 if on_time else 1),
               4: midterm_on + timedelta(days=25 if on_time else 2)}
    if "early_installment" in faults:
        paid_on[3] = date(year, 9, 20)
    if "late_payment" in faults:
        paid_on[4] = midterm_on + timedelta(days=67)
    for number, amount, _ in INSTALLMENTS:
        if idle and number > 2:
            break
        payee, payee_uscc = bidders[1] if number == 4 and "wrong_payee" in faults else bidders[0]
        post("disburse", pid, fund_id=fund_id, amount=amount, payee_name=payee, payee_uscc=payee_uscc,
             installment=number, procurement_id=ProcurementOf(code), voucher_no=f"PZ-{township.code}-{number}",
             effective_on=paid_on[number])

    # -- the months: spending and reports -------------------------------------------------------------------------
    extra = _fault_spending(faults, township.code, provider, provider_uscc, year)
    repeated: dict[str, Any] | None = None  # the first supplier invoice, listed again by the duplicate fault
    for number_of_month, (y, m) in enumerate(months):
        if idle and number_of_month >= 4:
            break
        here = [args for (fy, fm), args in extra if (fy, fm) == (y, m)]
        if "duplicate_invoice" in faults and (y, m) == (year, 12) and repeated is not None:
            here.append({**repeated, "amount": Decimal("100.00"), "effective_on": date(year, 12, 16)})
        items: list[dict[str, Any]] = [
            {"line": "staff", "amount": STAFF_PAYMENT, "payee_name": provider, "payee_uscc": provider_uscc,
             "payee_kind": "provider", "effective_on": date(y, m, day)} for day in (5, 20)]
        for line, (total, low, high) in SMALL_ITEMS.items():
            if line == "activities":  # the faults' spending comes out of the month's activities: totals still agree
                total -= sum((a["amount"] for a in here), Decimal(0))
            for amount in _split(rng, total, rng.randint(low, high)):
                items.append({"line": line, "amount": amount, "payee_name": f"{township.name}{_SUPPLIERS[line]}",
                              "payee_kind": "supplier", "effective_on": date(y, m, rng.randint(4, 28))})
        for n, item in enumerate(sorted(items, key=lambda i: i["effective_on"])):
            item["invoice_no"] = f"FP{township.code}{y % 100:02d}{m:02d}{n:02d}"
            if repeated is None and item["payee_kind"] == "supplier":
                repeated = item
            post("record_expenditure", pid, **item)
        for args in here:
            post("record_expenditure", pid, **args)
        late = "late_report" in faults and (y, m) == (year, 6)
        post("report_outputs", pid, month=f"{y}-{m:02d}",
             values={"cases": 4, "home_visits": rng.randint(5, 20), "people_served": rng.randint(40, 120)},
             effective_on=date(year, 7, 15) if late else date(y, m, 28))
    if "unapproved_shift" in faults:
        post("revise_budget", pid, moves=[{"from_line": "activities", "to_line": "staff",
                                           "amount": Decimal("27000.00")}],
             reason="人员经费不足，调整预算", effective_on=date(year, 8, 1))
    if idle:
        return postings  # the idle station neither closes its year nor returns its money
    post("record_evaluation", pid, kind="final", evaluator="第三方评估机构", weights=dict(WEIGHTS),
         scores={"decision": Decimal(13), "process": Decimal(22), "output": Decimal(26), "effect": Decimal(25)},
         effective_on=date(year + 1, 4, 20))
    post("recover_funds", fund_id, source_id=pid, amount=SURPLUS, reason="项目结余上缴",
         effective_on=date(year + 1, 4, 25))
    return postings


def _procurement(w: Workload, township: Division, faults: set[str], rng: random.Random,
                 bidders: list[tuple[str, str]], post: Any) -> None:
    """Competitive consultation: plan, announcement, 3 bids, evaluation, award and its notice, contract and its."""
    year, code = w.year, project_code(township, w.year)
    pid = ids.project_id(code)
    procurement = ProcurementOf(code)
    provider, provider_uscc = bidders[0]
    post("open_procurement", pid, method="competitive_consultation", subject=f"{township.name}社工站运营服务",
         category="staff", estimated_amount=CONTRACT, effective_on=date(year, 2, 15))

    def step(name: str, on: date, **details: Any) -> None:
        post("record_procurement_step", procurement, step=name, details=details, effective_on=on)

    def at(on: date, hour: int) -> datetime:
        return datetime(on.year, on.month, on.day, hour, tzinfo=BEIJING)

    announced = date(year, 2, 20)
    deadline = date(year, 2, 25) if "short_period" in faults else date(year, 3, 3)
    step("plan_approved", date(year, 2, 16), document_no=f"采购计划-{township.code}-{year}")
    step("announced", announced, announced_at=at(announced, 9), submission_deadline=at(deadline, 17),
         notice_no=f"GG-{township.code}-{year}")
    prices = [CONTRACT, CONTRACT + rng.randint(30, 90) * 100, CONTRACT + rng.randint(100, 160) * 100]
    if "identical_bids" in faults:
        prices[2] = prices[1]
    for n, ((name, bidder_uscc), price) in enumerate(zip(bidders, prices, strict=True)):
        received = deadline - timedelta(days=2 - n)
        step("bid_received", received, bidder_name=name, bidder_uscc=bidder_uscc, price=price,
             received_at=at(received, 10))
    evaluated = deadline + timedelta(days=3)
    step("bids_evaluated", evaluated, scores={u: Decimal(90 - 4 * n) for n, (_, u) in enumerate(bidders)},
         qualified=[u for _, u in bidders], committee_size=5, expert_count=4)
    signed, start = date(year, 3, 28), date(year, 4, 1)
    awarded = date(year, 3, 30) if "award_after_contract" in faults else evaluated + timedelta(days=2)
    step("awarded", awarded, supplier_name=provider, supplier_uscc=provider_uscc, amount=CONTRACT)
    step("award_published", awarded + timedelta(days=1), notice_no=f"ZB-{township.code}-{year}")
    step("contract_signed", signed, contract_no=f"HT-{township.code}-{year}", supplier_name=provider,
         supplier_uscc=provider_uscc, amount=CONTRACT, term_start=start, term_end=date(year + 1, 3, 31),
         installments=[{"no": n, "amount": a, "condition": c} for n, a, c in INSTALLMENTS])
    step("contract_published", signed + timedelta(days=1), notice_no=f"HTGG-{township.code}-{year}")


_SUPPLIERS = {"activities": "便民超市", "training": "职业培训学校", "supervision": "督导工作室"}


def _fault_spending(faults: set[str], code: str, provider: str, provider_uscc: str,
                    year: int) -> list[tuple[tuple[int, int], dict[str, Any]]]:
    """Expenditures of the injected earmarking faults, each with the month whose activities it comes out of."""
    spend = {"payee_name": provider, "payee_uscc": provider_uscc, "payee_kind": "provider"}
    december = (year, 12)
    found: list[tuple[tuple[int, int], dict[str, Any]]] = []
    if "reception" in faults:
        found.append((december, {**spend, "line": "official_reception", "amount": Decimal("1200.00"),
                                 "invoice_no": f"JD{code}", "effective_on": date(year, 12, 15)}))
    if "government_payee" in faults:
        found.append((december, {"line": "staff", "amount": Decimal("2000.00"), "payee_name": "街道办事处",
                                 "payee_kind": "government_unit", "effective_on": date(year, 12, 15)}))
    if "over_line" in faults:
        found.append((december, {**spend, "line": "training", "amount": Decimal("2000.00"),
                                 "invoice_no": f"PX{code}", "effective_on": date(year, 12, 15)}))
    if "after_period" in faults:
        found.append(((year + 1, 3), {**spend, "line": "activities", "amount": Decimal("1000.00"),
                                      "invoice_no": f"YQ{code}", "effective_on": date(year + 1, 6, 1)}))
    return found
