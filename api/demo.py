"""A small, deterministic demo ledger built from real divisions: Hebei money passed down to 长安区 stations and
Lanzhou stations in 城关区, with a year of postings and a few earmarking violations for the audit views to find."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.actors import Actor
from ledger.application import LedgerApplication
from ledger.regions import townships_under

PROVIDERS = {"130102": ("石家庄市长安区启航社会工作服务中心", "91110000600037341L"),
             "620102": ("兰州市城关区乐和社会工作服务中心", "91620105MA71T4YW8Q")}
LINES = {"staff": "170000.00", "activities": "75000.00", "training": "5000.00", "supervision": "5000.00",
         "management": "5000.00"}
# Each month the provider spends 20,000.00 (two staff payments and one activity), in step with the monthly plan and
# with the calendar (序时进度), and reports 4 cases: a clean station raises no finding on any date.
MONTHLY = (("staff", Decimal("7000.00"), 5), ("staff", Decimal("7000.00"), 12), ("activities", Decimal("6000.00"), 19))
MONTHS = 12


def _region_chain(app: LedgerApplication, officer: Actor, province: str, city: str, county: str, year: int,
                  prefix: str, amount: str) -> str:
    common = {"fiscal_year": year, "source_level": "central", "purpose": "乡镇(街道)社工站建设运营",
              "allowed_categories": [*LINES, "equipment", "travel", "office", "subcontracting"],
              "service_domains": ["elderly_care", "child_welfare", "social_assistance", "community_governance"],
              "valid_from": date(year, 1, 1), "valid_to": date(year, 12, 31)}
    top = app.appropriate_fund(officer, holder_region=province, document_no=f"{prefix}财社〔{year}〕1号",
                               amount=amount, effective_on=date(year, 2, 1), **common)
    city_fund = app.allocate_funds(officer, top["fund_id"], target_kind="fund", child_region=city,
                                   document_no=f"{prefix}市财社〔{year}〕2号", amount=amount,
                                   effective_on=date(year, 2, 20))
    county_fund = app.allocate_funds(officer, city_fund["target_id"], target_kind="fund", child_region=county,
                                     document_no=f"{prefix}区财社〔{year}〕3号", amount=amount,
                                     effective_on=date(year, 3, 10))
    return str(county_fund["target_id"])


def _month(year: int, index: int) -> tuple[int, int]:
    """The index-th month of a station year starting in April: (year, month)."""
    number = 4 + index
    return (year + (number - 1) // 12, (number - 1) % 12 + 1)


def _station_year(app: LedgerApplication, officer: Actor, rng: random.Random, fund_id: str, township: Any,
                  county: str, year: int, faults: list[str], lag: str | None) -> None:
    name, uscc = PROVIDERS[county]
    start, end = date(year, 4, 1), date(year + 1, 3, 31)
    months = [_month(year, i) for i in range(MONTHS)]
    plan = [{"month": f"{y}-{m:02d}", "cumulative_amount": f"{20000 * (i + 1)}.00"} for i, (y, m) in enumerate(months)]
    targets = [{"indicator": "cases", "month": f"{y}-{m:02d}", "cumulative_target": 4 * (i + 1)}
               for i, (y, m) in enumerate(months)]
    project = app.register_project(
        officer, code=f"SGZ-{township.code}-{year}", name=f"{township.name}社工站{year}年度运营项目",
        township_code=township.code, station_name=f"{township.name}社会工作服务站",
        service_domains=["elderly_care", "child_welfare"], period_start=start, period_end=end,
        budget_lines=dict(LINES), effective_on=date(year, 3, 15), monthly_plan=plan, output_targets=targets)
    pid = project["project_id"]
    app.allocate_funds(officer, fund_id, target_kind="project", project_id=pid, amount="260000.00",
                       effective_on=date(year, 3, 20))
    procurement = app.open_procurement(officer, pid, method="competitive_consultation", subject="社工站运营服务",
                                       category="staff", effective_on=date(year, 3, 1))
    app.record_procurement_step(officer, procurement["procurement_id"], step="plan_approved",
                                details={"document_no": f"采购计划-{township.code}"}, effective_on=date(year, 3, 1))
    app.record_procurement_step(
        officer, procurement["procurement_id"], step="contract_signed", effective_on=date(year, 3, 28),
        details={"contract_no": f"HT-{township.code}-{year}", "supplier_name": name, "supplier_uscc": uscc,
                 "amount": "240000.00", "term_start": start, "term_end": end,
                 "installments": [{"no": 1, "amount": "160000.00", "condition": "signing"},
                                  {"no": 2, "amount": "80000.00", "condition": "midterm_passed"}]})

    def pay(number: int, amount: str, when: date) -> None:
        app.disburse(officer, pid, fund_id=fund_id, amount=amount, payee_name=name, payee_uscc=uscc,
                     installment=number, procurement_id=procurement["procurement_id"], effective_on=when)

    pay(1, "160000.00", date(year, 4, 2))
    held_back = sum((FAULT_AMOUNTS.get(f, Decimal(0)) for f in faults), Decimal(0))  # the faults' spending
    for index, (y, m) in enumerate(months):
        if lag == "idle" and (y, m) > (year, 7):
            break
        for n, (line, amount, day) in enumerate(MONTHLY):
            if index == MONTHS - 1 and n == 2 and held_back:
                amount -= held_back  # the faults' spending comes out of the last month, so the totals still agree
                if amount <= 0:
                    continue
            app.record_expenditure(officer, pid, line=line, amount=f"{amount:.2f}", payee_name=name, payee_uscc=uscc,
                                   payee_kind="provider", invoice_no=f"FP{township.code}{index:02d}{n}",
                                   effective_on=date(y, m, day))
        late = lag == "late_report" and (y, m) == (year, 6)
        app.report_outputs(officer, pid, month=f"{y}-{m:02d}", values={"cases": 4, "home_visits": rng.randint(5, 20)},
                           effective_on=date(year, 7, 15) if late else date(y, m, 28))
    midterm_on = date(year, 11, 15) if lag == "late_midterm" else date(year, 10, 8)
    app.record_evaluation(officer, pid, kind="midterm", evaluator="第三方评估机构", effective_on=midterm_on,
                          weights={"decision": "15", "process": "25", "output": "30", "effect": "30"},
                          scores={"decision": "13", "process": "21", "output": "26",
                                  "effect": str(rng.randint(20, 29))})
    if lag != "idle":  # the idle station's second installment is never asked for
        pay(2, "80000.00", date(year, 11, 20) if lag in ("late_payment", "late_midterm") else date(year, 10, 20))
    for fault in faults:
        _violate(app, officer, pid, fault, name, uscc, year, township.code)
    if lag == "idle":
        return  # the idle station neither closes its year nor returns its money: LAG-07 follows in time
    app.record_evaluation(officer, pid, kind="final", evaluator="第三方评估机构", effective_on=date(year + 1, 4, 20),
                          weights={"decision": "15", "process": "25", "output": "30", "effect": "30"},
                          scores={"decision": "13", "process": "22", "output": "26", "effect": "25"})
    app.recover_funds(officer, fund_id, source_id=pid, amount="20000.00", reason="项目结余上缴",
                      effective_on=date(year + 1, 4, 25))


# The findings each injected fault must raise, and nothing else in the demo may raise any.
INJECTED = {
    "reception": {"EAR-01", "EAR-02"},  # 公务接待费: prohibited, and no such budget line
    "duplicate_invoice": {"EAR-09"},  # an invoice number already listed in April
    "government_payee": {"EAR-06"},  # paid to the street office
    "over_line": {"EAR-03"},  # training beyond its approved line
    "after_period": {"EAR-08"},  # spent after the period and its grace
}
VIOLATIONS = [["reception"], ["duplicate_invoice"], ["government_payee"], ["over_line"], ["after_period"], []]
FAULT_AMOUNTS = {"reception": Decimal("3600.00"), "duplicate_invoice": Decimal("5200.00"),
                 "government_payee": Decimal("2000.00"), "over_line": Decimal("6000.00"),
                 "after_period": Decimal("2000.00")}
# The lags injected per station (by index), and the day each must first be seen: nothing before it.
LAGS = ["late_report", "late_payment", "late_midterm", None, None, "idle"]


def _violate(app: LedgerApplication, officer: Actor, pid: Any, kind: str, name: str, uscc: str, year: int,
             code: str) -> None:
    when = date(year, 12, 15)
    spend = {"payee_name": name, "payee_uscc": uscc, "payee_kind": "provider", "effective_on": when}
    if kind == "reception":
        app.record_expenditure(officer, pid, line="official_reception", amount="3600.00", invoice_no=f"JD{code}",
                               **spend)
    elif kind == "duplicate_invoice":
        app.record_expenditure(officer, pid, line="activities", amount="5200.00", invoice_no=f"FP{code}012", **spend)
    elif kind == "government_payee":
        app.record_expenditure(officer, pid, line="staff", amount="2000.00", payee_name="街道办事处",
                               payee_kind="government_unit", effective_on=when)
    elif kind == "over_line":
        app.record_expenditure(officer, pid, line="training", amount="6000.00", invoice_no=f"PX{code}", **spend)
    elif kind == "after_period":
        app.record_expenditure(officer, pid, line="activities", amount="2000.00", invoice_no=f"YQ{code}",
                               **{**spend, "effective_on": date(year + 1, 6, 1)})


def load_demo(app: LedgerApplication, *, year: int = 2024, stations: int = 6,
              progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Loads the demo once: returns counts; does nothing if the ledger already holds it."""
    officer = Actor("演示数据 财务人员", "")
    rng = random.Random(year)
    plan = [("130000", "130100", "130102", "冀"), ("620000", "620100", "620102", "甘")]
    total, done = stations * len(plan), 0
    for province, city, county, prefix in plan:
        fund = _region_chain(app, officer, province, city, county, year, prefix, f"{260000 * stations}.00")
        for index, township in enumerate(townships_under(county)[:stations]):
            _station_year(app, officer, rng, fund, township, county, year, VIOLATIONS[index % len(VIOLATIONS)],
                          LAGS[index % len(LAGS)])
            done += 1
            if progress is not None:
                progress(done, total)
    return {"stations": total, "events": app.recorder.max_notification_id() or 0}


def expected_lags(stations: int = 6, year: int = 2024) -> list[tuple[str, str | None, str, date]]:
    """(rule, key, project code, first day) of every injected lag: absent the day before, present from that day."""
    first: dict[str, tuple[str, str | None, date]] = {
        "late_report": ("LAG-08", f"{year}-06", date(year, 7, 11)),  # June's report due 10 July, filed 15 July
        "late_payment": ("LAG-09", None, date(year, 11, 8)),  # mid-term passed 8 October, paid 20 November
        "late_midterm": ("LAG-06", "midterm", date(year, 10, 31)),  # midpoint 30 September + 30 days
        "idle": ("LAG-04", "project", date(year, 10, 17)),  # nothing paid or spent after 19 July
    }
    expected = []
    for county in ("130102", "620102"):
        for index, township in enumerate(townships_under(county)[:stations]):
            lag = LAGS[index % len(LAGS)]
            if lag is not None:
                rule, key, day = first[lag]
                expected.append((rule, key, f"SGZ-{township.code}-{year}", day))
    return expected


def expected_findings(stations: int = 6, year: int = 2024) -> set[tuple[str, str]]:
    """(rule, project code) of every finding the demo must show, and no other."""
    expected = set()
    for county in ("130102", "620102"):
        for index, township in enumerate(townships_under(county)[:stations]):
            for fault in VIOLATIONS[index % len(VIOLATIONS)]:
                expected |= {(rule, f"SGZ-{township.code}-{year}") for rule in INJECTED[fault]}
    return expected
