"""Builders for the read-side tests: an officer posting real ledger events, and readers of what the rules make of them.

Imported as ``projection_builders`` (pytest puts ``tests/projections`` on ``sys.path``). Findings are computed the way
the projection computes them, from the ledger's own notification log folded by ``ReadModel``, so a rule test
exercises the same events, transcodings and state the live views see.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.actors import Actor
from ledger.application import LedgerApplication
from projections.audit import finding_row
from projections.database import Database
from projections.engine import RuleEngine, funds_of
from projections.procurement_state import fold_procurements, group_key
from projections.rules import Finding
from projections.rules.params import RuleParameters
from projections.state import ReadModel
from projections.store import CACHES, TABLES, ViewStore

# Divisions (NBS 2023 codes shipped in ledger/data/divisions).
HEBEI = "130000"  # 河北省
SHIJIAZHUANG = "130100"  # 石家庄市
CHANGAN = "130102"  # 石家庄市 长安区
JIANBEI = "130102001"  # 长安区 建北街道
QINGYUAN = "130102002"  # 长安区 青园街道
TANGSHAN = "130200"  # 唐山市
XUEYUANNANLU = "130202001"  # 唐山市 路南区 学院南路街道
GANSU = "620000"  # 甘肃省
LANZHOU = "620100"  # 兰州市
JIUQUANLU = "620102001"  # 兰州市 城关区 酒泉路街道

# Unified social credit codes with a valid GB 32100-2015 check character.
PROVIDER = "兰州市城关区社会工作服务中心"
PROVIDER_USCC = "91620105MA71T4YW8Q"
SUPPLIER = "石家庄某文具有限公司"
SUPPLIER_USCC = "91110000600037341L"
OTHER_ORG = "长安区某社会工作事务所"  # another social work organisation (转包 target)
OTHER_ORG_USCC = "52130102MJ0000001G"

OFFICER = Actor("ministry-officer")  # nationwide, so one officer can post in Hebei and Gansu
AUDITOR = Actor("ministry-auditor")

DAY = date(2023, 3, 1)  # project start and registration
SIGNED = date(2023, 4, 1)  # contract signing
LATER = date(2023, 6, 1)
PERIOD_END = date(2024, 2, 29)
FUND_CATEGORIES = ("staff", "activities", "training", "supervision", "management")
BUDGET = {"staff": "120000.00", "activities": "50000.00", "training": "10000.00"}  # total 180,000.00


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass
class Officer:
    """Posts through one application with valid defaults; each method takes only what a test is about."""

    app: LedgerApplication
    actor: Actor = OFFICER
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    last_position: int = 0

    def _n(self) -> int:
        return next(self._numbers)

    def _posted(self, result: dict[str, Any]) -> dict[str, Any]:
        self.last_position = int(result["position"])
        return result

    def fund(self, amount: Any = "1000000.00", *, region: str = HEBEI, fiscal_year: int = 2023,
             categories: Iterable[str] = FUND_CATEGORIES, on: date = date(2023, 2, 1)) -> UUID:
        document_no = f"财社〔{fiscal_year}〕{self._n()}号"
        result = self._posted(self.app.appropriate_fund(
            self.actor, holder_region=region, fiscal_year=fiscal_year, document_no=document_no,
            source_level="central", purpose="乡镇（街道）社工站建设", allowed_categories=list(categories),
            service_domains=["social_assistance", "elderly_care"], valid_from=date(fiscal_year, 1, 1),
            valid_to=date(fiscal_year, 12, 31), amount=amount, effective_on=on))
        return UUID(str(result["fund_id"]))

    def child_fund(self, parent: UUID, amount: Any, *, region: str = SHIJIAZHUANG, on: date = DAY) -> UUID:
        result = self._posted(self.app.allocate_funds(
            self.actor, parent, target_kind="fund", child_region=region, document_no=f"冀财社〔2023〕{self._n()}号",
            amount=amount, effective_on=on))
        return UUID(str(result["target_id"]))

    def project(self, *, township: str = JIANBEI, lines: dict[str, str] | None = None, start: date = DAY,
                end: date = PERIOD_END, code: str | None = None, monthly_plan: dict[str, str] | None = None,
                output_targets: dict[tuple[str, str], int] | None = None) -> UUID:
        """``monthly_plan`` maps a month to its planned cumulative spending, ``output_targets`` an (indicator,
        month) pair to its cumulative target."""
        result = self._posted(self.app.register_project(
            self.actor, code=code or f"P-{township}-{self._n():03d}", name="社工站运营", township_code=township,
            station_name="社会工作服务站", service_domains=["elderly_care"], period_start=start, period_end=end,
            budget_lines=dict(lines or BUDGET), effective_on=start, provider_name=PROVIDER,
            provider_uscc=PROVIDER_USCC,
            monthly_plan=[{"month": m, "cumulative_amount": a} for m, a in (monthly_plan or {}).items()],
            output_targets=[{"indicator": i, "month": m, "cumulative_target": n}
                            for (i, m), n in (output_targets or {}).items()]))
        return UUID(str(result["project_id"]))

    def allocate(self, fund: UUID, project: UUID, amount: Any, *, on: date = DAY) -> dict[str, Any]:
        return self._posted(self.app.allocate_funds(self.actor, fund, target_kind="project", project_id=project,
                                                    amount=amount, effective_on=on))

    def funded_project(self, received: Any = "300000.00", **project: Any) -> tuple[UUID, UUID]:
        """A Hebei fund and a project that received ``received`` from it: (fund, project)."""
        township = project.get("township", JIANBEI)
        fund = self.fund(region=LANZHOU if township.startswith("6201") else HEBEI)
        project_id = self.project(**project)
        self.allocate(fund, project_id, received)
        return fund, project_id

    def contract(self, project: UUID, *, amount: Any = "180000.00", on: date = SIGNED,
                 installments: list[dict[str, Any]] | None = None, provider: str = PROVIDER,
                 provider_uscc: str = PROVIDER_USCC, procedure: bool = False) -> UUID:
        """Opens a procurement for the project and signs its contract (by default two halves: signing, mid-term).
        With ``procedure``, the whole 竞争性磋商 procedure is recorded first, in time and in order (so no PRC rule
        fires), the contract is published on the day it is signed; without it, the contract is signed straight away
        (PRC-02 then holds: no award decision)."""
        procurement = UUID(str(self._posted(self.app.open_procurement(
            self.actor, project, method="competitive_consultation", subject="社工站运营服务", category="staff",
            effective_on=date(2023, 3, 5)))["procurement_id"]))
        if procedure:
            self._procedure(procurement, amount, provider, provider_uscc)
        half = money(Decimal(str(amount)) / 2)
        plan = installments or [{"no": 1, "amount": str(half), "condition": "signing"},
                                {"no": 2, "amount": str(money(amount) - half), "condition": "midterm_passed"}]
        self._posted(self.app.record_procurement_step(
            self.actor, procurement, step="contract_signed", effective_on=on,
            details={"contract_no": f"HT-{self._n():04d}", "supplier_name": provider, "supplier_uscc": provider_uscc,
                     "amount": str(amount), "term_start": on, "term_end": PERIOD_END, "installments": plan}))
        if procedure:
            self._step(procurement, "contract_published", on, notice_no=f"合同公告-{self._n()}")
        return procurement

    def _step(self, procurement: UUID, step: str, on: date, **details: Any) -> None:
        self._posted(self.app.record_procurement_step(self.actor, procurement, step=step, effective_on=on,
                                                      details=details))

    def _procedure(self, procurement: UUID, amount: Any, provider: str, provider_uscc: str) -> None:
        """Plan, a 11-day announcement, two bids, a committee of 5 with 4 experts, the award and its notice."""
        def at(day: int) -> datetime:
            return datetime(2023, 3, day, 9, tzinfo=timezone(timedelta(hours=8)))

        self._step(procurement, "plan_approved", date(2023, 3, 6), document_no=f"采购计划-{self._n()}")
        self._step(procurement, "announced", date(2023, 3, 6), announced_at=at(6), submission_deadline=at(17))
        bids = ((provider, provider_uscc, str(amount)), (OTHER_ORG, OTHER_ORG_USCC, str(money(amount) + 1000)))
        for day, (name, uscc, price) in zip((15, 16), bids, strict=True):
            self._step(procurement, "bid_received", date(2023, 3, day), bidder_name=name, bidder_uscc=uscc,
                       price=price, received_at=at(day))
        self._step(procurement, "bids_evaluated", date(2023, 3, 17), scores={provider_uscc: "90", OTHER_ORG_USCC: "80"},
                   qualified=[provider_uscc, OTHER_ORG_USCC], committee_size=5, expert_count=4)
        self._step(procurement, "awarded", date(2023, 3, 20), supplier_name=provider, supplier_uscc=provider_uscc,
                   amount=str(amount))
        self._step(procurement, "award_published", date(2023, 3, 21), notice_no=f"成交公告-{self._n()}")

    def amend(self, procurement: UUID, delta: Any, *, on: date = LATER) -> dict[str, Any]:
        return self._posted(self.app.record_procurement_step(
            self.actor, procurement, step="contract_amended", effective_on=on,
            details={"amendment_no": f"BC-{self._n()}", "amount_delta": str(delta), "reason": "服务量增加"}))

    def disburse(self, project: UUID, fund: UUID, amount: Any, *, on: date = LATER, installment: int | None = None,
                 procurement: UUID | None = None, payee: str = PROVIDER,
                 payee_uscc: str | None = PROVIDER_USCC) -> UUID:
        result = self._posted(self.app.disburse(
            self.actor, project, fund_id=fund, amount=amount, payee_name=payee, payee_uscc=payee_uscc,
            installment=installment, procurement_id=procurement, effective_on=on))
        return UUID(str(result["entry_id"]))

    def spend(self, project: UUID, amount: Any, line: str = "staff", *, on: date = LATER,
              payee: str = PROVIDER, payee_kind: str = "provider", payee_uscc: str | None = None,
              invoice_no: str | None = None, fund: UUID | None = None) -> UUID:
        result = self._posted(self.app.record_expenditure(
            self.actor, project, line=line, amount=amount, payee_name=payee, payee_kind=payee_kind,
            payee_uscc=payee_uscc, invoice_no=invoice_no, fund_id=fund, effective_on=on))
        return UUID(str(result["entry_id"]))

    def reverse(self, project: UUID, entry: UUID, *, on: date = LATER) -> UUID:
        result = self._posted(self.app.reverse_entry(self.actor, project, entry_id=entry, reason="录入错误",
                                                     effective_on=on))
        return UUID(str(result["entry_id"]))

    def revise(self, project: UUID, *moves: tuple[str, str, str], approval: str | None = None,
               on: date = LATER) -> dict[str, Any]:
        return self._posted(self.app.revise_budget(
            self.actor, project, moves=[{"from_line": a, "to_line": b, "amount": x} for a, b, x in moves],
            approval_document=approval, reason="调整预算", effective_on=on))

    def evaluate(self, project: UUID, total: str, *, kind: str = "midterm", on: date = date(2023, 9, 1),
                 weights: dict[str, str] | None = None) -> dict[str, Any]:
        """An evaluation on weights 决策 15, 过程 15, 产出 35, 效益 35 (or ``weights``) whose scores add up to
        ``total``."""
        weights = {k: Decimal(w) for k, w in (weights or {"decision": "15", "process": "15", "output": "35",
                                                           "effect": "35"}).items()}
        remaining, scores = Decimal(total), {}
        for dimension, weight in weights.items():
            scores[dimension] = str(min(remaining, weight))
            remaining -= min(remaining, weight)
        return self._posted(self.app.record_evaluation(self.actor, project, kind=kind, evaluator="第三方评估机构",
                                                       weights={k: str(w) for k, w in weights.items()}, scores=scores,
                                                       effective_on=on))

    def report(self, project: UUID, month: str, *, on: date, **values: int) -> dict[str, Any]:
        """A monthly output report (产出指标), e.g. ``report(p, "2023-03", on=date(2023, 4, 5), cases=8)``."""
        return self._posted(self.app.report_outputs(self.actor, project, month=month, values=values, effective_on=on))

    def recover(self, fund: UUID, project: UUID, amount: Any, *, on: date = LATER) -> dict[str, Any]:
        return self._posted(self.app.recover_funds(self.actor, fund, source_id=project, amount=amount,
                                                   reason="结余收回", effective_on=on))

    def decide(self, finding: dict[str, Any], decision: str, *, note: str | None = None,
               on: date = date(2023, 10, 1)) -> dict[str, Any]:
        return self._posted(self.app.decide_finding(AUDITOR, finding["finding_id"], region_code=finding["region_code"],
                                                    decision=decision, note=note, effective_on=on))


# -- reading what the rules make of the log ----------------------------------------------------------------------------


def spent_and_caught_up(app: LedgerApplication, views: Database, posting: Officer, invoice_no: str | None = None
                        ) -> tuple[Any, UUID]:
    """A funded project with one expenditure of 100.00 on activities, and a projection worker caught up with it."""
    from projections.worker import ProjectionWorker

    _, project = posting.funded_project()
    posting.spend(project, "100.00", line="activities", **({"invoice_no": invoice_no} if invoice_no else {}))
    worker = ProjectionWorker(app, views)
    worker.catch_up()
    return worker, project


def fold(app: LedgerApplication) -> ReadModel:
    """The read model of the application's whole log, folded in log order."""
    model = ReadModel()
    for notification in app.recorder.select_notifications(start=None, limit=10**9):
        model.apply(notification.topic, app.mapper.to_domain_event(notification), notification.id)
    return model


def findings(app: LedgerApplication, *, on: date | None = None, parameters: RuleParameters | None = None
             ) -> list[Finding]:
    """Every stored finding over the whole log: each project's rules, duplicate invoices across projects, and each
    procurement's rules (with the processes PRC-13 compares it with)."""
    model, engine = fold(app), RuleEngine(parameters)
    found = [f for p in model.projects.values() for f in engine.project_findings(p, funds_of(p, model.fund), on=on)]
    found += engine.invoice_findings((p, e) for p in model.projects.values() for e in p.entries)
    log = app.recorder.select_notifications(start=None, limit=10**9)
    states = fold_procurements(((n.topic, app.mapper.to_domain_event(n), n.id) for n in log), on=on)
    groups: dict[str, list[Any]] = {}
    for state in states.values():
        groups.setdefault(group_key(state) or state.id, []).append(state)
    return found + [f for s in states.values() for f in engine.procurement_findings(s, groups[group_key(s) or s.id])]


def lag_findings(app: LedgerApplication, on: date, *, parameters: RuleParameters | None = None) -> list[Finding]:
    """Every project's time-based progress findings (LAG) on the evaluation date ``on``."""
    model, engine = fold(app), RuleEngine(parameters)
    return [f for p in model.projects.values() for f in engine.lag_findings(p, funds_of(p, model.fund), on)]


def fund_lag_findings(app: LedgerApplication, on: date, *, parameters: RuleParameters | None = None
                      ) -> list[Finding]:
    """Every fund's progress findings (LAG-01, LAG-04, LAG-05) on the evaluation date ``on``."""
    model, engine = fold(app), RuleEngine(parameters)
    return [f for fund in model.funds.values() for f in engine.fund_lag_findings(fund, on)]


def of_rule(found: Iterable[Finding], rule: str) -> list[Finding]:
    return [f for f in found if f.rule == rule]


def rules_of(found: Iterable[Finding]) -> set[str]:
    return {f.rule for f in found}


# -- reading the view tables -------------------------------------------------------------------------------------------

KEYS = {"tracking": ("view",), "state": ("kind", "id"), "state_items": ("kind", "id", "list", "seq"),
        "funds": ("fund_id",), "projects": ("project_id",),
        "lines": ("project_id", "line"), "findings": ("finding_id",), "invoices": ("entry_id",),
        "decisions": ("finding_id", "position")}
assert set(KEYS) == set(TABLES) - set(CACHES)


def view_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every view table of the live generation, as plain dicts in primary-key order."""
    store = ViewStore(db)
    with db.transaction(write=False) as cursor:
        generation = store.generation(cursor)
        rows = {}
        for name, key in KEYS.items():
            cursor.execute(f"SELECT * FROM {store.table(name, generation)}")
            # Sorted here, not by ORDER BY: PostgreSQL's collation and SQLite's byte order can disagree on text.
            rows[name] = sorted((dict(row) for row in cursor.fetchall()), key=lambda r: [str(r[k]) for k in key])
    return rows


def rows_by_key(rows: list[dict[str, Any]], key: str = "finding_id") -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def entry_positions(app: LedgerApplication) -> dict[str, int]:
    """Each random id the ledger gave an entry, evaluation, revision or procurement, with the log position that
    recorded it."""
    positions = {}
    for notification in app.recorder.select_notifications(start=None, limit=10**9):
        event = app.mapper.to_domain_event(notification)
        if notification.topic == "ledger:Procurement.Opened":
            positions[str(event.originator_id)] = notification.id
        for name in ("entry_id", "evaluation_id", "revision_id", "report_id"):
            if getattr(event, name, None) is not None:
                positions[str(getattr(event, name))] = notification.id
    return positions


def normalised(found: Iterable[dict[str, Any] | Finding], positions: dict[str, int]) -> list[tuple[Any, ...]]:
    """Findings without their random parts: random ids (uuid4) become the log position of their event."""

    def stable(text: str | None) -> str | None:
        if text is None:
            return None
        return UUID_TEXT.sub(lambda m: f"entry@{positions[m[0]]}" if m[0] in positions else m[0], text)

    result = []
    for f in found:
        if isinstance(f, Finding):
            row = f.as_record()
        else:  # a view row, whose params and evidence are JSON text
            row = {**f, "key": f["finding_key"], "version": f["rule_version"], "params": _json(f["params"]),
                   "evidence": _json(f["evidence"])}
        evidence = row["evidence"]
        result.append((row["rule"], row["version"], row["severity"], stable(row["subject_id"]),
                       row["region_code"], stable(row["key"]), stable(row["detail"]), str(row["effective_on"]),
                       tuple(sorted((k, str(v)) for k, v in row["params"].items())),
                       tuple((stable(e["event_id"]), e["position"], e["type"], str(e["effective_on"]))
                             for e in evidence)))
    return sorted(result)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# -- a scenario touching every EAR rule, with reversals, revisions and decisions ---------------------------------------


def post_scenario(officer: Officer, after_each: Callable[[], object] | None = None) -> None:
    """Posts a small province's year: three projects, two regions, violations of every EAR rule, some reversed.

    ``after_each`` runs after every posting (an incremental worker catching up, say). Decisions are taken on the
    findings the rules make of the log so far, so the script needs no views and runs the same on every store.
    """
    step = after_each or (lambda: None)

    def decide(rule: str, decision: str, note: str | None = None) -> None:
        finding = next(f for f in findings(officer.app) if f.rule == rule)
        officer.decide({"finding_id": finding.finding_id, "region_code": finding.region_code}, decision, note=note)
        step()

    hebei = officer.fund()
    step()
    city = officer.child_fund(hebei, "400000.00")
    step()
    a = officer.project(township=JIANBEI, lines={**BUDGET, "management": "10000.00"})
    step()
    officer.allocate(hebei, a, "300000.00")
    step()
    b = officer.project(township=QINGYUAN)
    step()
    officer.allocate(city, b, "100000.00")
    step()
    gansu = officer.fund(region=LANZHOU)
    step()
    c = officer.project(township=JIUQUANLU)
    step()
    officer.allocate(gansu, c, "50000.00")
    step()
    contract_a = officer.contract(a)
    step()
    officer.disburse(a, hebei, "90000.00", on=SIGNED, installment=1, procurement=contract_a)
    step()
    officer.spend(a, "30000.00", on=date(2023, 5, 1))
    step()
    over_line = officer.spend(a, "10000.01", line="training", on=date(2023, 6, 1))  # EAR-03
    step()
    officer.spend(a, "300.00", line="official_reception", payee="某宾馆", payee_kind="supplier")  # EAR-01, EAR-02
    step()
    officer.spend(a, "2000.00", line="activities", payee="某街道办事处", payee_kind="government_unit")  # EAR-06
    step()
    officer.spend(a, "500.00", line="activities", payee=SUPPLIER, payee_kind="supplier", payee_uscc=SUPPLIER_USCC,
                  invoice_no="13000231234567", on=date(2023, 6, 1))
    step()
    officer.disburse(b, city, "20000.00", on=date(2023, 3, 20))  # EAR-07 (B signs later)
    step()
    officer.contract(b)
    step()
    duplicate = officer.spend(b, "500.00", line="activities", payee=SUPPLIER, payee_kind="supplier",
                              payee_uscc=SUPPLIER_USCC, invoice_no="13000231234567", on=date(2023, 6, 5))  # EAR-09
    step()
    officer.spend(b, "100.00", on=date(2024, 4, 15))  # EAR-08
    step()
    officer.disburse(b, city, "100.00", on=LATER, payee=OTHER_ORG, payee_uscc=OTHER_ORG_USCC)  # EAR-05
    step()
    officer.disburse(a, hebei, "90000.00", on=date(2023, 8, 1), installment=2, procurement=contract_a)  # EAR-11
    step()
    officer.evaluate(a, "70.0", on=date(2023, 9, 1))  # PRF-01 (中)
    step()
    officer.revise(c, ("staff", "activities", "20000.00"))  # EAR-04
    step()
    officer.spend(c, "800.00", line="equipment", on=date(2023, 4, 1))  # EAR-01, EAR-07, EAR-12
    step()
    decide("EAR-03", "acknowledge")
    decide("EAR-06", "dismiss", note="经核实为购买服务合同约定的场地费")
    officer.reverse(b, duplicate, on=date(2023, 7, 1))  # retracts EAR-09
    step()
    officer.reverse(a, over_line, on=date(2023, 7, 1))  # retracts EAR-03
    step()
    officer.amend(contract_a, "10000.00")
    step()
    officer.disburse(a, hebei, "10000.01", on=date(2023, 10, 1))  # EAR-10
    step()
    officer.spend(a, "60000.00", payee=OTHER_ORG, payee_kind="service_organisation", on=date(2023, 10, 2))  # EAR-13
    step()
    officer.spend(a, "2000.00", line="management", on=date(2023, 10, 3))
    step()
    decide("EAR-13", "start_rectification")


# -- comparing views ---------------------------------------------------------------------------------------------------

BOOKKEEPING = ("first_position", "updated_position", "retracted_position", "retracted_on")
"""Finding columns that record when the worker saw a change: the end of the batch it was in, not a ledger fact."""


def live_findings(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The unretracted findings of a view, without their processing bookkeeping."""
    return {r["finding_id"]: {k: v for k, v in r.items() if k not in BOOKKEEPING}
            for r in rows["findings"] if r["retracted_position"] is None}


def rebuildable(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What a rebuild must reproduce exactly: every row of every view table but findings, and the live findings
    without their bookkeeping columns. Retracted findings are left out: one that appeared and vanished inside a
    single batch never gets a row, so which retracted rows exist depends on how the log was cut into batches."""
    return {**{name: table for name, table in rows.items() if name != "findings"}, "findings": live_findings(rows)}


def judged(app: LedgerApplication, parameters: RuleParameters | None = None) -> dict[str, dict[str, Any]]:
    """The findings the rules make of the whole log, rendered as the views render them (bookkeeping aside)."""
    return {f.finding_id: _content(finding_row(f, 0, 0)) for f in findings(app, parameters=parameters)}


def live_content(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The unretracted findings of a view as ``judged`` renders them."""
    return {finding_id: _content(row) for finding_id, row in live_findings(rows).items()}


def _content(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in (*BOOKKEEPING, "group_key")}
