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
LINES = {"staff": "150000.00", "activities": "60000.00", "training": "20000.00", "supervision": "15000.00",
         "management": "15000.00"}
SPENDING = ["staff"] * 12 + ["activities"] * 5 + ["training"] * 2 + ["supervision"]


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


def _station_year(app: LedgerApplication, officer: Actor, rng: random.Random, fund_id: str, township: Any,
                  county: str, year: int, violations: list[str]) -> None:
    name, uscc = PROVIDERS[county]
    start, end = date(year, 4, 1), date(year + 1, 3, 31)
    plan = [{"month": f"{year}-{m:02d}", "cumulative_amount": f"{24000 * (m - 3)}.00"} for m in range(4, 13)]
    targets = [{"indicator": "cases", "month": f"{year}-{m:02d}", "cumulative_target": 4 * (m - 3)}
               for m in range(4, 13)]
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
    steps = [("plan_approved", {"document_no": f"采购计划-{township.code}"}, date(year, 3, 1))]
    for step, details, when in steps:
        app.record_procurement_step(officer, procurement["procurement_id"], step=step, details=details,
                                    effective_on=when)
    app.record_procurement_step(
        officer, procurement["procurement_id"], step="contract_signed", effective_on=date(year, 3, 28),
        details={"contract_no": f"HT-{township.code}-{year}", "supplier_name": name, "supplier_uscc": uscc,
                 "amount": "240000.00", "term_start": start, "term_end": end,
                 "installments": [{"no": 1, "amount": "120000.00", "condition": "signing"},
                                  {"no": 2, "amount": "120000.00", "condition": "midterm_passed"}]})
    app.disburse(officer, pid, fund_id=fund_id, amount="120000.00", payee_name=name, payee_uscc=uscc,
                 installment=1, procurement_id=procurement["procurement_id"], effective_on=date(year, 4, 2))
    room = {line: Decimal(amount) for line, amount in LINES.items()}  # what each line can still take
    paid_out = Decimal("120000.00")  # spending stays within what was disbursed: only the injected faults break rules
    for month in range(4, 13):
        for n in range(3):
            line = rng.choice(SPENDING)
            amount = min(Decimal(rng.randint(2000, 6000)), room[line], paid_out)
            if amount <= 0:
                continue
            room[line] -= amount
            paid_out -= amount
            app.record_expenditure(
                officer, pid, line=line, amount=f"{amount:.2f}", payee_name=name, payee_uscc=uscc,
                payee_kind="provider", invoice_no=f"FP{township.code}{month:02d}{n}",
                effective_on=date(year, month, 5 + 7 * n))
        app.report_outputs(officer, pid, month=f"{year}-{month:02d}", values={"cases": rng.randint(2, 6),
                                                                               "home_visits": rng.randint(5, 20)},
                           effective_on=date(year, month, 28))
    app.record_evaluation(officer, pid, kind="midterm", evaluator="第三方评估机构", effective_on=date(year, 10, 8),
                          weights={"decision": "15", "process": "25", "output": "30", "effect": "30"},
                          scores={"decision": "13", "process": "21", "output": "26",
                                  "effect": str(rng.randint(20, 29))})
    app.disburse(officer, pid, fund_id=fund_id, amount="120000.00", payee_name=name, payee_uscc=uscc,
                 installment=2, procurement_id=procurement["procurement_id"], effective_on=date(year, 10, 20))
    for violation in violations:
        _violate(app, officer, pid, violation, name, uscc, year, township.code)


# The findings each injected fault must raise, and nothing else in the demo may raise any.
INJECTED = {
    "reception": {"EAR-01", "EAR-02"},  # 公务接待费: prohibited, and no such budget line
    "duplicate_invoice": {"EAR-09"},  # an invoice number already listed in April
    "government_payee": {"EAR-06"},  # paid to the street office
    "over_line": {"EAR-03"},  # training beyond its approved line
    "after_period": {"EAR-08"},  # spent after the period and its grace
}
VIOLATIONS = [["reception"], ["duplicate_invoice"], ["government_payee"], ["over_line"], ["after_period"], []]


def _violate(app: LedgerApplication, officer: Actor, pid: Any, kind: str, name: str, uscc: str, year: int,
             code: str) -> None:
    when = date(year, 11, 15)
    spend = {"payee_name": name, "payee_uscc": uscc, "payee_kind": "provider", "effective_on": when}
    if kind == "reception":
        app.record_expenditure(officer, pid, line="official_reception", amount="3600.00", invoice_no=f"JD{code}",
                               **spend)
    elif kind == "duplicate_invoice":
        app.record_expenditure(officer, pid, line="activities", amount="5200.00", invoice_no=f"FP{code}041", **spend)
    elif kind == "government_payee":
        app.record_expenditure(officer, pid, line="staff", amount="8000.00", payee_name="街道办事处",
                               payee_kind="government_unit", effective_on=when)
    elif kind == "over_line":
        app.record_expenditure(officer, pid, line="training", amount="30000.00", invoice_no=f"PX{code}", **spend)
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
            _station_year(app, officer, rng, fund, township, county, year, VIOLATIONS[index % len(VIOLATIONS)])
            done += 1
            if progress is not None:
                progress(done, total)
    return {"stations": total, "events": app.recorder.max_notification_id() or 0}


def expected_findings(stations: int = 6, year: int = 2024) -> set[tuple[str, str]]:
    """(rule, project code) of every finding the demo must show, and no other."""
    expected = set()
    for county in ("130102", "620102"):
        for index, township in enumerate(townships_under(county)[:stations]):
            for fault in VIOLATIONS[index % len(VIOLATIONS)]:
                expected |= {(rule, f"SGZ-{township.code}-{year}") for rule in INJECTED[fault]}
    return expected
