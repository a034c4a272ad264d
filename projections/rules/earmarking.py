"""专款专用: the thirteen earmarking rules (EAR) of the rules catalogue, over one project's state.

Reversed entries never count. Running comparisons are made at each entry's business date against what had taken
effect by then, so the order in which entries were posted does not change the result.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.money import ZERO
from ledger.vocabulary import CATEGORIES, PROHIBITED_CATEGORIES
from projections.rules import REGISTRY, Finding, Rule, rule
from projections.state import FundState, ProjectState

GOVERNMENT_PAYEES = ("government_unit", "government_staff")
SUBCONTRACT_PAYEES = ("service_organisation",)


@dataclass
class ProjectContext:
    project: ProjectState
    funds: dict[str, FundState]
    params: Callable[[str], dict[str, Any]]

    def finding(self, code: str, version: int, severity: str, key: str, title: str, detail: str,
                effective_on: date, evidence: Iterable[dict[str, Any]]) -> Finding:
        return Finding(rule=code, version=version, severity=severity, subject_kind="project",
                       subject_id=self.project.id, project_id=self.project.id,
                       region_code=self.project.township_code, key=key, title=title, detail=detail,
                       effective_on=effective_on, params=self.params(code), evidence=list(evidence))


def _expenditures(p: ProjectState) -> list[dict[str, Any]]:
    return p.live_entries("expenditure")


def _disbursements(p: ProjectState) -> list[dict[str, Any]]:
    return p.live_entries("disbursement")


def _approved_lines(p: ProjectState, on: date | None = None) -> dict[str, Decimal]:
    """Line amounts after approved revisions (those with an approval document) effective by ``on``."""
    lines = dict(p.budget_lines)
    for revision in p.revisions:
        if revision["approval_document"] and (on is None or revision["effective_on"] <= on):
            for move in revision["moves"]:
                lines[move["from_line"]] = lines.get(move["from_line"], ZERO) - move["amount"]
                lines[move["to_line"]] = lines.get(move["to_line"], ZERO) + move["amount"]
    return lines


def _approved_lines_by_day(p: ProjectState) -> Callable[[date], dict[str, Decimal]]:
    """``_approved_lines`` asked for many days (one per expenditure): the lines change only where an approved
    revision takes effect, so each set of revisions in force is worked out once. The answers are shared: read only."""
    days = sorted(r["effective_on"] for r in p.revisions if r["approval_document"])
    known: dict[int, dict[str, Decimal]] = {}

    def on(day: date) -> dict[str, Decimal]:
        in_force = bisect_right(days, day)
        if in_force not in known:
            known[in_force] = _approved_lines(p, day)
        return known[in_force]

    return on


def _label(category: str) -> str:
    return f"{CATEGORIES.get(category, category)}({category})"


@rule("EAR-01", 1, "超范围支出")
def out_of_scope_spending(ctx: ProjectContext) -> Iterator[Finding]:
    """A category that is not an approved budget line, or that the fund being spent does not allow."""
    p = ctx.project
    received_funds = {r["fund_id"] for r in p.receipts}
    approved_on = _approved_lines_by_day(p)
    for e in _expenditures(p):
        if approved_on(e["effective_on"]).get(e["line"], ZERO) <= 0:
            yield ctx.finding("EAR-01", 1, "S1", e["entry_id"], "超范围支出",
                              f"支出类别 {_label(e['line'])} 不在项目批准的预算科目内", e["effective_on"],
                              [e["ref"], p.registration["ref"]])
            continue
        fund_ids = [e["fund_id"]] if e.get("fund_id") else sorted(received_funds)
        funds = [ctx.funds[f] for f in fund_ids if f in ctx.funds]
        restricted = [f for f in funds if f.allowed_categories]
        if restricted and all(e["line"] not in f.allowed_categories for f in restricted):
            yield ctx.finding("EAR-01", 1, "S1", e["entry_id"], "超范围支出",
                              f"支出类别 {_label(e['line'])} 不在资金 {restricted[0].document_no} 的使用范围内",
                              e["effective_on"], [e["ref"]])


@rule("EAR-02", 1, "禁止性支出")
def prohibited_use(ctx: ProjectContext) -> Iterator[Finding]:
    """三公经费, basic expenditure of government units, buildings, investment: never from lottery funds."""
    for e in _expenditures(ctx.project):
        if e["line"] in PROHIBITED_CATEGORIES:
            yield ctx.finding("EAR-02", 1, "S1", e["entry_id"], "禁止性支出",
                              f"彩票公益金不得用于 {_label(e['line'])}", e["effective_on"], [e["ref"]])


@rule("EAR-03", 1, "超预算支出")
def over_budget_line(ctx: ProjectContext) -> Iterator[Finding]:
    """Cumulative spending on a line above the line's approved amount, judged at every expenditure and at every
    approved revision (a revision can take money away from a line that has already spent it)."""
    p = ctx.project
    tolerance = ctx.params("EAR-03")["tolerance"]
    expenditures = _expenditures(p)
    checkpoints = sorted(
        [(e["effective_on"], e["ref"]["position"], e) for e in expenditures]
        + [(r["effective_on"], r["ref"]["position"], r) for r in p.revisions if r["approval_document"]],
        key=lambda c: (c[0], c[1]))
    flagged: set[str] = set()
    running: dict[str, Decimal] = {}
    approved_on = _approved_lines_by_day(p)
    for day, _, item in checkpoints:
        if "line" in item:
            running[item["line"]] = running.get(item["line"], ZERO) + item["amount"]
        approved = approved_on(day)
        lines = [item["line"]] if "line" in item else [m["from_line"] for m in item["moves"]]
        for line in lines:
            spent = running.get(line, ZERO)
            limit = approved.get(line, ZERO)
            if line not in flagged and limit > 0 and spent > limit + tolerance:
                flagged.add(line)
                yield ctx.finding("EAR-03", 1, "S2", f"line:{line}", "超预算支出",
                                  f"{_label(line)} 累计支出 {spent} 元，超过批准预算 {limit} 元", day,
                                  [item["ref"], p.registration["ref"]])


@rule("EAR-04", 1, "未经批准调整预算")
def unapproved_budget_shift(ctx: ProjectContext) -> Iterator[Finding]:
    """Money moved between lines without an approval document, cumulatively above a share of the budget."""
    p = ctx.project
    share = ctx.params("EAR-04")["share"]
    limit = sum(p.budget_lines.values(), ZERO) * share
    moved, evidence = ZERO, []
    for revision in sorted(p.revisions, key=lambda r: (r["effective_on"], r["ref"]["position"])):
        if revision["approval_document"]:
            continue
        moved += sum((m["amount"] for m in revision["moves"]), ZERO)
        evidence.append(revision["ref"])
        if moved > limit:
            yield ctx.finding("EAR-04", 1, "S2", "budget", "未经批准调整预算",
                              f"未经批准调整预算累计 {moved} 元，超过预算总额的 {share:.0%}（{limit:.2f} 元）",
                              revision["effective_on"], evidence)
            return


@rule("EAR-05", 1, "挪用")
def diversion(ctx: ProjectContext) -> Iterator[Finding]:
    """Spending from a fund never allocated to the project, or beyond what it had allocated by that date; or
    paying someone who is not the contracted provider."""
    p = ctx.project
    ever = {r["fund_id"] for r in p.receipts}
    spent: dict[str, Decimal] = {}
    over: set[str] = set()
    for e in _expenditures(p):
        fund_id = e.get("fund_id")
        if not fund_id:
            continue
        name = ctx.funds[fund_id].document_no if fund_id in ctx.funds else fund_id
        if fund_id not in ever:
            yield ctx.finding("EAR-05", 1, "S1", e["entry_id"], "挪用",
                              f"支出记在从未拨给本项目的资金 {name} 名下", e["effective_on"], [e["ref"]])
            continue
        spent[fund_id] = spent.get(fund_id, ZERO) + e["amount"]
        received = (sum((r["amount"] for r in p.receipts if r["fund_id"] == fund_id
                         and r["effective_on"] <= e["effective_on"]), ZERO)
                    - sum((r["amount"] for r in p.returns if r["fund_id"] == fund_id
                           and r["effective_on"] <= e["effective_on"]), ZERO))
        if spent[fund_id] > received and fund_id not in over:
            over.add(fund_id)
            yield ctx.finding("EAR-05", 1, "S1", f"fund:{fund_id}", "挪用",
                              f"截至 {e['effective_on']} 从资金 {name} 累计支出 {spent[fund_id]} 元，"
                              f"超过其已拨给本项目的 {received} 元", e["effective_on"], [e["ref"]])
    if not p.contracts:
        return
    for d in _disbursements(p):
        contract = p.contracts.get(d.get("procurement_id") or "")
        contracts = [contract] if contract else list(p.contracts.values())
        if d.get("payee_uscc"):
            contracted = d["payee_uscc"] in {c["provider_uscc"] for c in contracts}
        else:
            contracted = d["payee_name"] in {c["provider_name"] for c in contracts}
        if not contracted:
            yield ctx.finding("EAR-05", 1, "S1", d["entry_id"], "挪用",
                              f"拨付对象 {d['payee_name']} 不是合同承接机构", d["effective_on"], [d["ref"]])


@rule("EAR-06", 1, "挤占")
def crowding_out(ctx: ProjectContext) -> Iterator[Finding]:
    """Paying government units or their staff from project money; or management fees above a share."""
    p = ctx.project
    expenditures = _expenditures(p)
    for e in expenditures:
        if e["payee_kind"] in GOVERNMENT_PAYEES:
            yield ctx.finding("EAR-06", 1, "S1", e["entry_id"], "挤占",
                              f"项目资金支付给政府机关单位或其工作人员：{e['payee_name']}", e["effective_on"],
                              [e["ref"]])
    share = ctx.params("EAR-06")["management_share"]
    total = sum((e["amount"] for e in expenditures), ZERO)
    management = [e for e in expenditures if e["line"] == "management"]
    managed = sum((e["amount"] for e in management), ZERO)
    if management and managed > total * share:
        yield ctx.finding("EAR-06", 1, "S2", "management", "挤占",
                          f"管理费 {managed} 元，占项目支出 {total} 元的比例超过 {share:.0%}",
                          management[-1]["effective_on"], [e["ref"] for e in management])


@rule("EAR-07", 1, "先支出后签约")
def spending_before_contract(ctx: ProjectContext) -> Iterator[Finding]:
    p = ctx.project
    signed = min((c["signed_on"] for c in p.contracts.values()), default=None)
    for e in [*_disbursements(p), *_expenditures(p)]:
        if signed is None or e["effective_on"] < signed:
            when = "尚未签订合同" if signed is None else f"合同签订日 {signed} 之前"
            yield ctx.finding("EAR-07", 1, "S1", e["entry_id"], "先支出后签约",
                              f"{'拨付' if e['kind'] == 'disbursement' else '支出'} {e['amount']} 元发生在{when}",
                              e["effective_on"], [e["ref"]])


@rule("EAR-08", 1, "超期支出")
def spending_outside_period(ctx: ProjectContext) -> Iterator[Finding]:
    p = ctx.project
    grace = ctx.params("EAR-08")["grace_days"]
    last_day = p.period_end + timedelta(days=grace)
    for e in _expenditures(p):
        if e["effective_on"] < p.period_start or e["effective_on"] > last_day:
            yield ctx.finding("EAR-08", 1, "S2", e["entry_id"], "超期支出",
                              f"支出日期 {e['effective_on']} 不在项目期间 {p.period_start}—{p.period_end}"
                              f"（含 {grace} 天结算期）内", e["effective_on"], [e["ref"]])


def invoice_key(e: dict[str, Any]) -> tuple[str, str] | None:
    """Invoices are the same when the same payee issued the same number."""
    if not e.get("invoice_no"):
        return None
    return (e.get("payee_uscc") or e["payee_name"], e["invoice_no"])


def duplicate_invoices(expenditures: Iterable[tuple[ProjectState, dict[str, Any]]],
                       params: Callable[[ProjectState, str], dict[str, Any]]) -> Iterator[Finding]:
    """EAR-09 across projects: every unreversed expenditure after the first with the same payee and invoice no."""
    groups: dict[tuple[str, str], list[tuple[ProjectState, dict[str, Any]]]] = {}
    for project, e in expenditures:
        key = invoice_key(e)
        if key is not None and e["reversed_by"] is None and e["kind"] == "expenditure":
            groups.setdefault(key, []).append((project, e))
    for (payee, number), items in groups.items():
        items.sort(key=lambda item: (item[1]["effective_on"], item[1]["ref"]["position"]))
        first_project, first = items[0]
        for project, e in items[1:]:
            yield Finding(rule="EAR-09", version=1, severity="S1", subject_kind="project", subject_id=project.id,
                          project_id=project.id, region_code=project.township_code, key=e["entry_id"],
                          title="重复列支",
                          detail=f"发票 {number}（{payee}）已在项目 {first_project.code} 列支",
                          effective_on=e["effective_on"], params=params(project, "EAR-09"),
                          evidence=[first["ref"], e["ref"]])


REGISTRY["EAR-09"] = Rule("EAR-09", 1, "重复列支", duplicate_invoices)  # judged across projects, by invoice group


@rule("EAR-10", 1, "超合同拨付")
def over_disbursement(ctx: ProjectContext) -> Iterator[Finding]:
    p = ctx.project
    total = ZERO
    for d in _disbursements(p):
        total += d["amount"]
        contracted = ZERO
        for c in p.contracts.values():
            if c["signed_on"] <= d["effective_on"]:
                contracted += c["amount"] + sum(
                    (a["amount_delta"] for a in c["amendments"] if a["effective_on"] <= d["effective_on"]), ZERO)
        if contracted > 0 and total > contracted:
            yield ctx.finding("EAR-10", 1, "S1", "contracts", "超合同拨付",
                              f"累计拨付 {total} 元，超过合同金额 {contracted} 元", d["effective_on"],
                              [d["ref"], *(c["ref"] for c in p.contracts.values())])
            return


def condition_met_on(p: ProjectState, contract: dict[str, Any], condition: str) -> date | None:
    if condition == "signing":
        return contract["signed_on"]
    kind = "midterm" if condition == "midterm_passed" else "final"
    passed = [e["effective_on"] for e in p.evaluations if e["kind"] == kind and e["total"] >= 60]
    return min(passed, default=None)


@rule("EAR-11", 1, "提前拨付")
def installment_paid_early(ctx: ProjectContext) -> Iterator[Finding]:
    p = ctx.project
    for d in _disbursements(p):
        if d.get("installment") is None:
            continue
        contract = p.contracts.get(d.get("procurement_id") or "")
        if contract is None and len(p.contracts) == 1:
            contract = next(iter(p.contracts.values()))
        if contract is None:
            continue
        installment = next((i for i in contract["installments"] if i["no"] == d["installment"]), None)
        if installment is None:
            continue
        met_on = condition_met_on(p, contract, installment["condition"])
        if met_on is None or d["effective_on"] < met_on:
            yield ctx.finding("EAR-11", 1, "S2", d["entry_id"], "提前拨付",
                              f"第 {d['installment']} 期款的拨付条件（{installment['condition']}）"
                              f"{'尚未满足' if met_on is None else f'于 {met_on} 才满足'}",
                              d["effective_on"], [d["ref"], contract["ref"]])


@rule("EAR-12", 1, "超拨付支出")
def spending_beyond_disbursed(ctx: ProjectContext) -> Iterator[Finding]:
    p = ctx.project
    tolerance = ctx.params("EAR-12")["tolerance"]
    disbursements = _disbursements(p)  # in date order, as the expenditures: what was paid by each is a running sum
    spent = paid = ZERO
    counted = 0
    for e in _expenditures(p):
        spent += e["amount"]
        while counted < len(disbursements) and disbursements[counted]["effective_on"] <= e["effective_on"]:
            paid += disbursements[counted]["amount"]
            counted += 1
        if spent > paid + tolerance:
            yield ctx.finding("EAR-12", 1, "S3", "project", "超拨付支出",
                              f"截至 {e['effective_on']} 累计支出 {spent} 元，超过累计拨付 {paid} 元（未单独核算）",
                              e["effective_on"], [e["ref"]])
            return


@rule("EAR-13", 1, "转包")
def subcontracting(ctx: ProjectContext) -> Iterator[Finding]:
    p = ctx.project
    share = ctx.params("EAR-13")["share"]
    contracted = sum((c["amount"] + sum((a["amount_delta"] for a in c["amendments"]), ZERO)
                      for c in p.contracts.values()), ZERO)
    payments = [e for e in _expenditures(p)
                if e["payee_kind"] in SUBCONTRACT_PAYEES or e["line"] == "subcontracting"]
    paid = sum((e["amount"] for e in payments), ZERO)
    if contracted > 0 and paid > contracted * share:
        yield ctx.finding("EAR-13", 1, "S2", "subcontracting", "转包",
                          f"支付给其他社会服务机构 {paid} 元，超过合同金额的 {share:.0%}",
                          payments[-1]["effective_on"], [e["ref"] for e in payments])


PROJECT_RULES = ("EAR-01", "EAR-02", "EAR-03", "EAR-04", "EAR-05", "EAR-06", "EAR-07", "EAR-08", "EAR-10",
                 "EAR-11", "EAR-12", "EAR-13")
