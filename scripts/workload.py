"""A deterministic synthetic ledger: townships of a province each running a station project for a year.

Used by benchmarks and by tests that need volume. Entries go through the real use cases, so every integrity check
runs; a few percent are violations of the earmarking rules, so the audit views have something to find.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from ledger.actors import Actor
from ledger.application import LedgerApplication
from ledger.regions import get_division, townships_under

PROVIDERS = ["91110000600037341L", "91620105MA71T4YW8Q"]
CATEGORIES = ["staff", "activities", "training", "supervision", "equipment", "management"]
VIOLATIONS = ["official_reception", "buildings", "government_staff_pay"]


def build_province_year(app: LedgerApplication, *, province: str = "130000", townships: int | None = None,
                        expenditures_per_month: int = 20, seed: int = 2023,
                        progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Loads one fiscal year for up to ``townships`` townships of ``province``; returns counts."""
    rng = random.Random(seed)
    officer = Actor("bench-officer", province)
    units = townships_under(province)[:townships] if townships else townships_under(province)
    per_project = Decimal("300000.00")
    top = app.appropriate_fund(
        officer, holder_region=get_division(province).code, fiscal_year=2023, document_no=f"BENCH-{seed}",
        source_level="central", purpose="乡镇(街道)社工站建设", allowed_categories=[*CATEGORIES, "subcontracting"],
        service_domains=["social_assistance", "elderly_care"], valid_from=date(2023, 1, 1),
        valid_to=date(2023, 12, 31), amount=per_project * len(units), effective_on=date(2023, 2, 1))
    counts = {"projects": 0, "expenditures": 0, "disbursements": 0}
    for index, unit in enumerate(units):
        budget = {c: Decimal("50000.00") for c in CATEGORIES}
        project = app.register_project(
            officer, code=f"B{seed}-{unit.code}", name=f"{unit.name}社工站项目", township_code=unit.code,
            station_name=f"{unit.name}社会工作服务站", service_domains=["social_assistance"],
            period_start=date(2023, 3, 1), period_end=date(2024, 2, 29), budget_lines=budget,
            effective_on=date(2023, 3, 1))
        pid = project["project_id"]
        app.allocate_funds(officer, top["fund_id"], target_kind="project", project_id=pid, amount=per_project,
                           effective_on=date(2023, 3, 5))
        procurement = app.open_procurement(officer, pid, method="competitive_consultation", subject="社工服务",
                                           category="staff", effective_on=date(2023, 3, 6))
        uscc = PROVIDERS[index % len(PROVIDERS)]
        app.record_procurement_step(
            officer, procurement["procurement_id"], step="contract_signed", effective_on=date(2023, 3, 20),
            details={"contract_no": f"HT-{seed}-{unit.code}", "supplier_name": "社工服务中心", "supplier_uscc": uscc,
                     "amount": "300000.00", "term_start": date(2023, 3, 1), "term_end": date(2024, 2, 29),
                     "installments": [{"no": n, "amount": "75000.00", "condition": "signing"} for n in (1, 2, 3, 4)]})
        for n in range(4):
            app.disburse(officer, pid, fund_id=top["fund_id"], amount="75000.00", payee_name="社工服务中心",
                         payee_uscc=uscc, installment=n + 1, procurement_id=procurement["procurement_id"],
                         effective_on=date(2023, 3, 25) + timedelta(days=90 * n))
            counts["disbursements"] += 1
        for month in range(10):
            for _ in range(expenditures_per_month):
                violating = rng.random() < 0.01
                line = rng.choice(VIOLATIONS) if violating else rng.choice(CATEGORIES)
                app.record_expenditure(
                    officer, pid, line=line, amount=f"{rng.randint(100, 900)}.00", payee_name="社工服务中心",
                    payee_kind="provider", invoice_no=f"INV-{unit.code}-{month}-{rng.randint(0, 10**6)}",
                    effective_on=date(2023, 4, 1) + timedelta(days=30 * month + rng.randint(0, 27)))
                counts["expenditures"] += 1
        counts["projects"] += 1
        if progress is not None:
            progress(index + 1, len(units))
    counts["events"] = app.recorder.max_notification_id() or 0
    return counts
