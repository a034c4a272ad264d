"""Posts a demo plan through the ledger's own use cases, so every integrity check runs on the demo data too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from api.demo.plan import YEAR, FundPlan, Plan, ProjectPlan
from ledger.actors import Actor
from ledger.application import LedgerApplication

OFFICERS = {"13": "演示 河北省民政厅财务", "62": "演示 甘肃省民政厅财务", "54": "演示 西藏自治区民政厅财务"}
PURPOSE = "乡镇(街道)社工站建设运营及社区社会工作服务（福彩公益金）"
ALLOWED = ["staff", "activities", "training", "supervision", "equipment", "travel", "office"]


def _officer(region: str) -> Actor:
    return Actor(OFFICERS[region[:2]], region[:2])


def _funds(app: LedgerApplication, root: FundPlan, ids: dict[int, Any]) -> None:
    officer = _officer(root.region.code)
    created = app.appropriate_fund(
        officer, holder_region=root.region.code, fiscal_year=YEAR, document_no=root.document_no,
        source_level="province", purpose=PURPOSE, allowed_categories=ALLOWED,
        service_domains=["social_assistance", "elderly_care", "child_welfare", "community_governance",
                         "marriage_funeral", "disability_services"],
        valid_from=date(YEAR, 1, 1), valid_to=date(YEAR + 1, 12, 31), amount=root.amount,
        effective_on=root.arrives)
    ids[id(root)] = created["fund_id"]
    pending = [root]
    while pending:
        parent = pending.pop(0)
        for child in parent.children:
            allocated = app.allocate_funds(officer, ids[id(parent)], target_kind="fund",
                                           child_region=child.region.code, document_no=child.document_no,
                                           amount=child.amount, effective_on=child.arrives)
            ids[id(child)] = allocated["target_id"]
            pending.append(child)


def _project(app: LedgerApplication, p: ProjectPlan, fund_id: Any) -> None:
    officer = _officer(p.township.code)
    pid = app.register_project(
        officer, code=p.code, name=p.name, township_code=p.township.code, station_name=p.station_name,
        service_domains=p.domains, period_start=p.period_start, period_end=p.period_end,
        budget_lines=p.budget_lines, monthly_plan=p.monthly_plan, output_targets=p.output_targets,
        effective_on=p.registered_on)["project_id"]
    app.allocate_funds(officer, fund_id, target_kind="project", project_id=pid, amount=p.budget,
                       effective_on=p.allocated_on)
    procurement = app.open_procurement(
        officer, pid, method=p.method, subject=f"{p.station_name}运营服务", category="staff",
        estimated_amount=p.budget, single_source_justification=p.justification,
        effective_on=p.opened_on)["procurement_id"]
    for step in p.steps:
        app.record_procurement_step(officer, procurement, step=step.step, details=step.details, effective_on=step.on)
    for posting in p.postings:
        fields = dict(posting.fields)
        if posting.kind == "disbursement":
            payee = fields.pop("payee", p.provider)
            app.disburse(officer, pid, fund_id=fund_id, payee_name=payee.name, payee_uscc=payee.uscc or None,
                         procurement_id=procurement, voucher_no=f"PZ-{p.code}-{posting.on:%m%d}",
                         effective_on=posting.on, **fields)
        elif posting.kind == "expenditure":
            app.record_expenditure(officer, pid, **fields)
        elif posting.kind == "outputs":
            app.report_outputs(officer, pid, **fields)
        elif posting.kind == "evaluation":
            app.record_evaluation(officer, pid, **fields)
        elif posting.kind == "revision":
            app.revise_budget(officer, pid, **fields)
        elif posting.kind == "amendment":
            app.record_procurement_step(officer, procurement, step="contract_amended", details=fields,
                                        effective_on=posting.on)
        else:  # pragma: no cover - the plan makes no other kind
            raise ValueError(posting.kind)
    if p.surplus and p.surplus_on is not None:
        app.recover_funds(officer, fund_id, source_id=pid, amount=p.surplus, reason="项目结余资金收回",
                          effective_on=p.surplus_on)
    if p.closed_on is not None:
        app.close_project(officer, pid, reason="项目期满，结项评估完成", effective_on=p.closed_on)


def load_plan(app: LedgerApplication, plan: Plan, progress: Callable[[int, int], None] | None = None) -> None:
    ids: dict[int, Any] = {}
    for root in plan.roots:
        _funds(app, root, ids)
    projects = [(p, ids[id(f)]) for f in plan.funds for p in f.projects]
    for done, (project, fund_id) in enumerate(projects, start=1):
        _project(app, project, fund_id)
        if progress is not None:
            progress(done, len(projects))
