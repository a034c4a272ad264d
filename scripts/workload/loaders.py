"""Loading a plan into a ledger: through the use cases (every check, one transaction per posting), or directly
through the domain aggregates, many of them per ``save(...)`` (fast: for benchmark logs of a million events).

The direct loader calls the same command methods on the same aggregates as the use cases (so every integrity guard
of the domain runs and the events are the same), but decides locally what the use case would load from the store,
and saves every ``batch_events`` events' worth of aggregates in one ``save(...)``: one transaction. Entry ids are
derived from the seed and the posting, so two loads of one plan write the same events (procurement ids excepted:
the library gives those).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger import ids
from ledger.actors import Actor
from ledger.application import LedgerApplication
from ledger.evaluation import DIMENSIONS, rating_for, total_of
from ledger.fund import SOURCE_LEVELS, Fund
from ledger.keys import NaturalKey
from ledger.money import parse_money
from ledger.procurement import Procurement
from ledger.project import Project
from ledger.regions import get_division
from ledger.steps import parse_step
from scripts.workload.plan import Posting, ProcurementOf, Workload

ACTOR = "负载生成 财务人员"
Progress = Callable[[int, int], None]


def load_use_cases(app: LedgerApplication, workload: Workload, *, actor: str = ACTOR,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Posts every posting through its use case, as the API would (one transaction each)."""
    officer = Actor(actor, "")
    procurements: dict[str, UUID] = {}
    started, postings, before = time.perf_counter(), 0, app.recorder.max_notification_id() or 0
    chunks = list(workload.chunks())
    for done, chunk in enumerate(chunks, 1):
        for posting in chunk:
            target = posting.target
            if isinstance(target, ProcurementOf):
                target = procurements[target.project_code]
            args = {k: (procurements[v.project_code] if isinstance(v, ProcurementOf) else v)
                    for k, v in posting.args.items()}
            call = getattr(app, posting.op)
            result = call(officer, **args) if target is None else call(officer, target, **args)
            if posting.op == "open_procurement":
                procurements[str(posting.project)] = result["procurement_id"]
            postings += 1
        if progress is not None:
            progress(done, len(chunks))
    return _summary(app, postings, time.perf_counter() - started, before)


class DirectLoader:
    """Builds the aggregates with their own command methods and saves many of them per transaction."""

    def __init__(self, app: LedgerApplication, *, seed: int = 0, actor: str = ACTOR, batch_events: int = 5000) -> None:
        self.app = app
        self.actor = actor
        self.batch_events = batch_events
        self.namespace = uuid5(NAMESPACE_URL, f"urn:welfare-fund-ledger:workload:{seed}")
        self.funds: dict[UUID, Fund] = {}
        self.projects: dict[UUID, Project] = {}
        self.procurements: dict[str, Procurement] = {}
        self._dirty: dict[UUID, Aggregate] = {}
        self.saves = 0

    def load(self, workload: Workload, progress: Progress | None = None) -> dict[str, Any]:
        return self.load_chunks(workload.chunks(), progress, total=1 + -(-len(workload.townships) // 100))

    def load_chunks(self, chunks: Iterable[list[Posting]], progress: Progress | None = None,
                    total: int = 0) -> dict[str, Any]:
        """Loads chunks of a plan (``Workload.chunks``); may be called again with the chunks that follow."""
        started, postings, before = time.perf_counter(), 0, self.app.recorder.max_notification_id() or 0
        for done, chunk in enumerate(chunks, 1):
            for posting in chunk:
                self.apply(posting)
                postings += 1
                if postings % self.batch_events == 0:  # about one event per posting
                    self.flush()
            self.flush()
            self.projects.clear()  # a chunk's stations are complete: only the funds live on
            self.procurements.clear()
            if progress is not None:
                progress(done, total)
        return {**_summary(self.app, postings, time.perf_counter() - started, before), "saves": self.saves}

    def flush(self) -> None:
        if self._dirty:
            self.app.save(*self._dirty.values())
            self.saves += 1
            self._dirty.clear()

    def _touch(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self._dirty[aggregate.id] = aggregate

    def _id(self, posting: Posting, name: str = "") -> UUID:
        return uuid5(self.namespace, f"{posting.key}:{name}")

    def _procurement_id(self, value: Any) -> Any:
        return self.procurements[value.project_code].id if isinstance(value, ProcurementOf) else value

    def apply(self, posting: Posting) -> None:
        getattr(self, f"_{posting.op}")(posting, posting.args)

    # -- one method per use case, each calling the aggregates' commands as the use case does ---------------------

    def _appropriate_fund(self, posting: Posting, a: dict[str, Any]) -> None:
        fund = Fund(id=ids.fund_id(a["holder_region"], a["document_no"]), parent_fund_id=None,
                    parent_allocation_id=None, actor=self.actor, **a)
        self.funds[fund.id] = fund
        self._touch(fund)

    def _allocate_funds(self, posting: Posting, a: dict[str, Any]) -> None:
        assert isinstance(posting.target, UUID)
        fund = self.funds[posting.target]
        allocation_id = self._id(posting)
        if a["target_kind"] == "fund":
            child_id = ids.fund_id(a["child_region"], a["document_no"])
            fund.allocate(allocation_id=allocation_id, target_kind="fund", target_id=child_id, amount=a["amount"],
                          document_no=a["document_no"], effective_on=a["effective_on"], actor=self.actor)
            level = get_division(fund.holder_region).level
            child = Fund(id=child_id, holder_region=a["child_region"], fiscal_year=fund.fiscal_year,
                         document_no=a["document_no"], source_level=level if level in SOURCE_LEVELS else "county",
                         purpose=fund.purpose, allowed_categories=list(fund.allowed_categories),
                         service_domains=list(fund.service_domains), valid_from=fund.valid_from,
                         valid_to=fund.valid_to, amount=a["amount"], parent_fund_id=fund.id,
                         parent_allocation_id=allocation_id, effective_on=a["effective_on"], actor=self.actor)
            self.funds[child.id] = child
            self._touch(fund, child)
            return
        project = self.projects[a["project_id"]]
        fund.allocate(allocation_id=allocation_id, target_kind="project", target_id=project.id, amount=a["amount"],
                      document_no=a.get("document_no"), effective_on=a["effective_on"], actor=self.actor)
        project.receive_funds(fund_id=fund.id, allocation_id=allocation_id, amount=a["amount"],
                              effective_on=a["effective_on"], actor=self.actor)
        self._touch(fund, project)

    def _recover_funds(self, posting: Posting, a: dict[str, Any]) -> None:
        assert isinstance(posting.target, UUID)
        fund, project = self.funds[posting.target], self.projects[a["source_id"]]
        recovery_id = self._id(posting)
        project.return_surplus(entry_id=recovery_id, fund_id=fund.id, amount=a["amount"], reason=a["reason"],
                               effective_on=a["effective_on"], actor=self.actor)
        fund.recover(recovery_id=recovery_id, source_id=project.id, amount=a["amount"], reason=a["reason"],
                     effective_on=a["effective_on"], actor=self.actor)
        self._touch(fund, project)

    def _register_project(self, posting: Posting, a: dict[str, Any]) -> None:
        fields = {"provider_name": None, "provider_uscc": None, **a}
        project = Project(id=ids.project_id(a["code"]), actor=self.actor, **fields)
        self.projects[project.id] = project
        self._touch(project)

    def _project(self, posting: Posting) -> Project:
        assert isinstance(posting.target, UUID)
        return self.projects[posting.target]

    def _open_procurement(self, posting: Posting, a: dict[str, Any]) -> None:
        project = self._project(posting)
        procurement = Procurement(project_id=project.id, region=project.township_code, actor=self.actor,
                                  single_source_justification=None, **a)
        self.procurements[project.code] = procurement
        self._touch(procurement)

    def _record_procurement_step(self, posting: Posting, a: dict[str, Any]) -> None:
        assert isinstance(posting.target, ProcurementOf)
        procurement = self.procurements[posting.target.project_code]
        parsed = parse_step(a["step"], a["details"])
        procurement.record_step(a["step"], parsed, a["effective_on"], self.actor)
        self._touch(procurement)
        if a["step"] == "contract_signed":
            project = self.projects[procurement.project_id]
            key = NaturalKey(id=ids.natural_key_id("contract_no", parsed["contract_no"]), kind="contract_no",
                             value=parsed["contract_no"], owner_id=procurement.id)
            project.commit_contract(procurement_id=procurement.id, contract_no=parsed["contract_no"],
                                    amount=parsed["amount"], provider_name=parsed["supplier_name"],
                                    provider_uscc=parsed["supplier_uscc"], installments=parsed["installments"],
                                    effective_on=a["effective_on"], actor=self.actor)
            self._touch(key, project)

    def _disburse(self, posting: Posting, a: dict[str, Any]) -> None:
        project = self._project(posting)
        project.disburse(entry_id=self._id(posting), fund_id=a["fund_id"], amount=a["amount"],
                         installment=a.get("installment"), procurement_id=self._procurement_id(a.get("procurement_id")),
                         payee_name=a["payee_name"], payee_uscc=a.get("payee_uscc"), voucher_no=a.get("voucher_no"),
                         effective_on=a["effective_on"], actor=self.actor)
        self._touch(project)

    def _record_expenditure(self, posting: Posting, a: dict[str, Any]) -> None:
        project = self._project(posting)
        project.record_expenditure(entry_id=self._id(posting), line=a["line"], amount=a["amount"],
                                   payee_name=a["payee_name"], payee_kind=a["payee_kind"],
                                   payee_uscc=a.get("payee_uscc"), invoice_no=a.get("invoice_no"),
                                   fund_id=a.get("fund_id"), description=a.get("description") or "",
                                   effective_on=a["effective_on"], actor=self.actor)
        self._touch(project)

    def _report_outputs(self, posting: Posting, a: dict[str, Any]) -> None:
        project = self._project(posting)
        project.report_outputs(report_id=self._id(posting), actor=self.actor, **a)
        self._touch(project)

    def _record_evaluation(self, posting: Posting, a: dict[str, Any]) -> None:
        project = self._project(posting)
        weights = {d: parse_money(a["weights"][d]) for d in DIMENSIONS}
        scores = {d: parse_money(a["scores"][d]) for d in DIMENSIONS}
        total = total_of(scores)
        project.evaluate(evaluation_id=self._id(posting), kind=a["kind"], evaluator=a["evaluator"],
                         weights=weights, scores=scores, total=total, rating=rating_for(total),
                         note=a.get("note") or "", effective_on=a["effective_on"], actor=self.actor)
        self._touch(project)

    def _revise_budget(self, posting: Posting, a: dict[str, Any]) -> None:
        project = self._project(posting)
        project.revise_budget(revision_id=self._id(posting), moves=a["moves"],
                              approval_document=a.get("approval_document"), reason=a["reason"],
                              effective_on=a["effective_on"], actor=self.actor)
        self._touch(project)


def load_direct(app: LedgerApplication, workload: Workload, *, batch_events: int = 5000,
                progress: Progress | None = None) -> dict[str, Any]:
    return DirectLoader(app, seed=workload.seed, batch_events=batch_events).load(workload, progress)


def _summary(app: LedgerApplication, postings: int, seconds: float, before: int) -> dict[str, Any]:
    events = (app.recorder.max_notification_id() or 0) - before
    return {"postings": postings, "events": events, "seconds": round(seconds, 3),
            "events_per_second": round(events / seconds) if seconds else 0}


def events_of(app: LedgerApplication, *, batch: int = 1000) -> Iterable[Any]:
    """Every event of the log, decoded, in log order."""
    position = 0
    while notifications := app.recorder.select_notifications(start=position, limit=batch, inclusive_of_start=False):
        for notification in notifications:
            yield app.mapper.to_domain_event(notification)
        position = notifications[-1].id
