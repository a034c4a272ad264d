"""The ledger's use cases: one method per write of the API, each saving every aggregate it touches at once.

Every write is one ``save(...)``, so one database transaction: the postings, any natural-key reservation and the
idempotency record are committed together or not at all. A concurrent change to any of them makes the library
refuse the save; the use case then reloads and tries again, a bounded number of times.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, JSONTranscoder
from eventsourcing.utils import EnvType

from ledger import ids
from ledger import validate as v
from ledger.actors import Actor
from ledger.bulk import Staging
from ledger.errors import (
    DuplicateKeyError,
    IdempotencyKeyReusedError,
    InvalidRegionError,
    LedgerError,
    NotFoundError,
    UnknownEntryError,
    UnknownFundError,
    UnknownProcurementError,
    UnknownProjectError,
    ValidationError,
    VersionConflictError,
)
from ledger.evaluation import DIMENSIONS, KINDS, rating_for, total_of
from ledger.finding_case import DECISIONS, FindingCase
from ledger.fund import CLOSURE_KINDS, SOURCE_LEVELS, TARGET_KINDS, Fund
from ledger.group_commit import GroupCommitter, StaleRequestError
from ledger.identity import validate_uscc
from ledger.integrity.recorders import chained_recorder
from ledger.keys import IdempotencyRecord, NaturalKey
from ledger.money import parse_money, posting_amount
from ledger.positions import positions_of
from ledger.procurement import METHODS, Procurement
from ledger.project import Project
from ledger.regions import get_division, is_within
from ledger.repository import cache_safe_repository
from ledger.steps import parse_step
from ledger.transcodings import register_ledger_transcodings
from ledger.views import event_view, fund_view, procurement_view, project_view
from ledger.vocabulary import CATEGORIES, OUTPUT_INDICATORS, PAYEE_KINDS, SERVICE_DOMAINS

logger = logging.getLogger(__name__)
A = TypeVar("A", bound=Aggregate)
Result = dict[str, Any]
Operation = Callable[[], tuple[Result, Iterable[Aggregate]]]

MAX_ATTEMPTS = 8  # saves refused by the database because another writer changed an aggregate first
MAX_OVERTAKEN = 64  # requests overtaken by another of this process on the same aggregate (ledger/group_commit.py)
# "on" saves the postings of concurrent requests of one process in shared transactions (ledger/group_commit.py);
# the default depends on the store (see ``_group_commit_on``).
GROUP_COMMIT = "LEDGER_GROUP_COMMIT"
GROUP_COMMIT_DEFAULTS = {"eventsourcing.postgres": True, "eventsourcing.sqlite": True}
GROUP_COMMIT_LEADERS = {"eventsourcing.postgres": 2}  # batches saved at once (see ledger/group_commit.py)


@dataclass(frozen=True)
class Idempotency:
    """A client's idempotency key and a stable hash of its request (method, path and body)."""

    key: str
    request_hash: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.key) <= 200 or not self.key.isprintable():
            raise ValidationError("Idempotency-Key must be 1 to 200 printable characters", field="Idempotency-Key")


class LedgerApplication(Application[UUID]):
    """The write side of the ledger and the entity reads (current, as of a recorded instant, or at a version)."""

    name = "ledger"
    # Recently used aggregates stay in memory and are fast-forwarded from the store on each use, so a cached copy
    # is never stale; each use works on a deep copy, so a refused command cannot leave half-applied state behind.
    env = {"AGGREGATE_CACHE_MAXSIZE": "500"}
    # A project missing from the cache is its latest snapshot and the events after it: about 300 events a station
    # year, so every 100 (50 to replay on average); a snapshot holds the whole state, so not more often.
    snapshotting_intervals = {Fund: 200, Project: 100, Procurement: 100}

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        self._thread = threading.local()  # a bulk batch being staged on this thread (ledger/bulk.py)
        store = type(self.factory).__module__
        self.group_commit: GroupCommitter | None = (
            GroupCommitter(self.save, leaders=GROUP_COMMIT_LEADERS.get(store, 1))
            if _group_commit_on(self.env.get(GROUP_COMMIT), self.factory) else None
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_ledger_transcodings(transcoder)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots are a cache, taken after the postings are committed: failing to take one must not report the
        committed postings as failed (a client would send them again; a shared transaction would be saved again)."""
        try:
            super()._take_snapshots(processing_event)
        except Exception:
            logger.warning("could not take a snapshot after a save; the aggregate is rebuilt from its events",
                           exc_info=True)

    def construct_recorder(self) -> ApplicationRecorder:
        return chained_recorder(self.factory)  # every event is hash-chained as it is written (ledger/integrity/)

    def construct_repository(self) -> Repository[UUID]:
        return cache_safe_repository(self)  # threads share the aggregate cache safely (see ledger/repository.py)

    # -- the transaction: idempotency, retries, positions ---------------------------------------------------------

    def _execute(self, actor: Actor, idempotency: Idempotency | None, operation: Operation) -> Result:
        """Runs ``operation`` and saves what it touched in one transaction, retrying on concurrent changes. While a
        bulk import stages a batch on this thread, the batch takes what it touched instead (ledger/bulk.py)."""
        staging: Staging | None = getattr(self._thread, "staging", None)
        if staging is not None:
            return staging.stage(lambda: self._decide(actor, idempotency, operation))
        conflicts = overtaken = 0
        while conflicts < MAX_ATTEMPTS and overtaken < MAX_OVERTAKEN:
            result, pending = self._decide(actor, idempotency, operation)
            if pending is None:
                return result
            try:
                recordings = self.save(*pending) if self.group_commit is None else self.group_commit.save(*pending)
            except StaleRequestError:
                # Overtaken by a request of this process on the same aggregate: that one made progress, and this
                # one learnt it without asking the database, so it may try again more often.
                overtaken += 1
                time.sleep(random.uniform(0, 0.001 * min(overtaken, 10)))
                continue
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * 2**conflicts))
                conflicts += 1
                continue
            return {**result, "position": max(r.notification.id for r in recordings), "replayed": False}
        replayed = self._replay(actor, idempotency) if idempotency is not None else None
        if replayed is not None:  # the last conflict was that same request being posted by another attempt
            return replayed
        raise VersionConflictError(f"gave up after {conflicts + overtaken} concurrent changes; try again")

    def _decide(self, actor: Actor, idempotency: Idempotency | None, operation: Operation
                ) -> tuple[Result, list[Aggregate] | None]:
        """The use case's decision: its result and the aggregates to save (with the idempotency record), or the
        original result of a request sent before under the same key, and None."""
        if idempotency is not None:
            replayed = self._replay(actor, idempotency)
            if replayed is not None:
                return replayed, None
        try:
            result, aggregates = operation()
        except LedgerError:
            # The same request, sent again while its first attempt was in flight, may have been posted by that
            # attempt just now, and been refused here because of it: the sender gets that posting instead.
            replayed = self._replay(actor, idempotency) if idempotency is not None else None
            if replayed is not None:
                return replayed, None
            raise
        pending: list[Aggregate] = list(aggregates)
        if idempotency is not None:
            pending.append(
                IdempotencyRecord(
                    id=ids.idempotency_id(actor.name, idempotency.key),
                    key=idempotency.key,
                    actor=actor.name,
                    request_hash=idempotency.request_hash,
                    result=result,
                )
            )
        return result, pending

    def staged(self) -> Staging:
        """A bulk batch on this thread: until it is closed, use cases decide against it and it keeps what they
        would have saved, to save many at once (``flush()``) or none (ledger/bulk.py)."""
        return Staging(self, self._thread)

    def _aggregate(self, aggregate_id: UUID) -> Any:
        """The aggregate as a use case on this thread sees it: from the staged batch, if any, or from the store."""
        staging: Staging | None = getattr(self._thread, "staging", None)
        if staging is not None:
            return staging.get(aggregate_id)
        return self.repository.get(aggregate_id)

    def _replay(self, actor: Actor, idempotency: Idempotency) -> Result | None:
        record_id = ids.idempotency_id(actor.name, idempotency.key)
        staging: Staging | None = getattr(self._thread, "staging", None)
        position: int | None = None
        if staging is not None and staging.known_absent(record_id):
            return None
        if staging is not None and staging.holds(record_id):
            record = staging.get(record_id)
        else:
            # A record is one event and never snapshotted: one query, not the repository's two, and not cached.
            recorded = next(self.events.get(record_id, limit=1), None)
            if recorded is None:
                return None
            record = recorded.mutate(None)
        assert isinstance(record, IdempotencyRecord)
        if record.request_hash != idempotency.request_hash:
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {idempotency.key!r} was used before with a different request"
            )
        if staging is None or not staging.unsaved(record_id):
            position = positions_of(self.recorder, record_id)[record.version]
        return {**record.result, "position": position, "replayed": True}

    def _load(self, cls: type[A], aggregate_id: UUID, error: type[NotFoundError], expected_version: int | None = None
              ) -> A:
        aggregate_id = v.a_uuid(aggregate_id, "id")  # a str id would silently miss on some stores
        try:
            aggregate = self._aggregate(aggregate_id)
        except AggregateNotFoundError:
            raise error(f"no {cls.__name__.lower()} with id {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise error(f"no {cls.__name__.lower()} with id {aggregate_id}")
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionConflictError(
                f"{cls.__name__.lower()} {aggregate_id} is at version {aggregate.version}, not {expected_version}",
                current_version=aggregate.version,
            )
        return aggregate

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self._aggregate(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def _reserve(self, kind: str, value: str, owner_id: UUID) -> NaturalKey:
        key_id = ids.natural_key_id(kind, value)
        if self._exists(key_id):
            raise DuplicateKeyError(f"{kind.replace('_', ' ')} {value!r} is already registered", key=value)
        return NaturalKey(id=key_id, kind=kind, value=value, owner_id=owner_id)

    # -- funds ---------------------------------------------------------------------------------------------------

    def appropriate_fund(
        self,
        actor: Actor,
        *,
        holder_region: str,
        fiscal_year: int,
        document_no: str,
        source_level: str,
        purpose: str,
        allowed_categories: list[str],
        service_domains: list[str],
        valid_from: date,
        valid_to: date,
        amount: Any,
        effective_on: date,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Records money made available to a region by an upstream document (资金下达)."""
        region = get_division(holder_region)
        if region.level == "township":
            raise InvalidRegionError("a fund is held at county level or above", field="holder_region")
        actor.check_scope(region.code)
        fields = {
            "holder_region": region.code,
            "fiscal_year": v.whole_number(fiscal_year, "fiscal_year", minimum=2000, maximum=2100),
            "document_no": v.required_text(document_no, "document_no", max_length=100),
            "source_level": v.choice(source_level, "source_level", SOURCE_LEVELS),
            "purpose": v.required_text(purpose, "purpose", max_length=1000),
            "allowed_categories": v.choices(allowed_categories, "allowed_categories", CATEGORIES),
            "service_domains": v.choices(service_domains, "service_domains", SERVICE_DOMAINS),
            "amount": posting_amount(amount),
            "effective_on": v.a_date(effective_on, "effective_on"),
        }
        fields["valid_from"], fields["valid_to"] = v.period(valid_from, valid_to, "valid_from", "valid_to")
        fund_id = ids.fund_id(region.code, fields["document_no"])

        def operation() -> tuple[Result, list[Aggregate]]:
            if self._exists(fund_id):
                raise DuplicateKeyError(
                    f"document {fields['document_no']} is already appropriated to {region.code}", key=fund_id.hex
                )
            fund = Fund(id=fund_id, parent_fund_id=None, parent_allocation_id=None, actor=actor.name, **fields)
            return {"fund_id": fund.id, "version": fund.version}, [fund]

        return self._execute(actor, idempotency, operation)

    def allocate_funds(
        self,
        actor: Actor,
        fund_id: UUID,
        *,
        target_kind: str,
        amount: Any,
        effective_on: date,
        document_no: str | None = None,
        child_region: str | None = None,
        project_id: UUID | None = None,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Passes money down a level to a new child fund (转下达), or to a project (the project receives it)."""
        v.choice(target_kind, "target_kind", TARGET_KINDS)
        amount = posting_amount(amount)
        effective_on = v.a_date(effective_on, "effective_on")
        document_no = v.text(document_no, "document_no", max_length=100, required=target_kind == "fund")
        if target_kind == "fund":
            child = get_division(v.required_text(child_region, "child_region"))
        else:
            project_id = v.a_uuid(project_id, "project_id")

        def operation() -> tuple[Result, list[Aggregate]]:
            fund = self._load(Fund, fund_id, UnknownFundError, expected_version)
            actor.check_scope(fund.holder_region)
            allocation_id = uuid4()
            if target_kind == "fund":
                if child.code == fund.holder_region or not is_within(child.code, fund.holder_region):
                    raise InvalidRegionError(
                        f"{child.code} is not below {fund.holder_region}; funds pass down the division hierarchy",
                        field="child_region",
                    )
                if child.level == "township":
                    raise InvalidRegionError("a fund is held at county level or above", field="child_region")
                assert document_no is not None
                target_id = ids.fund_id(child.code, document_no)
                if self._exists(target_id):
                    raise DuplicateKeyError(f"document {document_no} is already appropriated to {child.code}")
                fund.allocate(allocation_id=allocation_id, target_kind="fund", target_id=target_id, amount=amount,
                              document_no=document_no, effective_on=effective_on, actor=actor.name)
                target: Aggregate = Fund(
                    id=target_id,
                    holder_region=child.code,
                    fiscal_year=fund.fiscal_year,
                    document_no=document_no,
                    source_level=_level_of(fund.holder_region),
                    purpose=fund.purpose,
                    allowed_categories=list(fund.allowed_categories),
                    service_domains=list(fund.service_domains),
                    valid_from=fund.valid_from,
                    valid_to=fund.valid_to,
                    amount=amount,
                    parent_fund_id=fund.id,
                    parent_allocation_id=allocation_id,
                    effective_on=effective_on,
                    actor=actor.name,
                )
            else:
                assert project_id is not None
                project = self._load(Project, project_id, UnknownProjectError)
                if not is_within(project.township_code, fund.holder_region):
                    raise InvalidRegionError(
                        f"project {project.code} in {project.township_code} is outside fund region "
                        f"{fund.holder_region}",
                        field="project_id",
                    )
                fund.allocate(allocation_id=allocation_id, target_kind="project", target_id=project.id,
                              amount=amount, document_no=document_no, effective_on=effective_on, actor=actor.name)
                project.receive_funds(fund_id=fund.id, allocation_id=allocation_id, amount=amount,
                                      effective_on=effective_on, actor=actor.name)
                target = project
            result = {"allocation_id": allocation_id, "fund_id": fund.id, "version": fund.version,
                      "target_id": target.id}
            return result, [fund, target]

        return self._execute(actor, idempotency, operation)

    def recover_funds(
        self,
        actor: Actor,
        fund_id: UUID,
        *,
        source_id: UUID,
        amount: Any,
        reason: str,
        effective_on: date,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Takes unspent money back from a child fund or a project into this fund (收回 / 结余上缴)."""
        source_id = v.a_uuid(source_id, "source_id")
        amount = posting_amount(amount)
        reason_text = v.required_text(reason, "reason", max_length=1000)
        effective_on = v.a_date(effective_on, "effective_on")

        def operation() -> tuple[Result, list[Aggregate]]:
            fund = self._load(Fund, fund_id, UnknownFundError, expected_version)
            actor.check_scope(fund.holder_region)
            try:
                source = self._aggregate(source_id)
            except AggregateNotFoundError:
                raise UnknownEntryError(f"no fund or project with id {source_id}") from None
            recovery_id = uuid4()
            if isinstance(source, Fund) and source.parent_fund_id == fund.id:
                source.return_to_parent(recovery_id=recovery_id, amount=amount, reason=reason_text,
                                        effective_on=effective_on, actor=actor.name)
            elif isinstance(source, Project):
                source.return_surplus(entry_id=recovery_id, fund_id=fund.id, amount=amount, reason=reason_text,
                                      effective_on=effective_on, actor=actor.name)
            else:
                raise UnknownEntryError(f"{source_id} did not receive money from fund {fund.document_no}")
            fund.recover(recovery_id=recovery_id, source_id=source.id, amount=amount, reason=reason_text,
                         effective_on=effective_on, actor=actor.name)
            return {"recovery_id": recovery_id, "fund_id": fund.id, "version": fund.version}, [fund, source]

        return self._execute(actor, idempotency, operation)

    def close_fund(
        self,
        actor: Actor,
        fund_id: UUID,
        *,
        disposition: str,
        note: str,
        effective_on: date,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        disposition = v.choice(disposition, "disposition", CLOSURE_KINDS)
        note_text = v.text(note, "note", max_length=1000, required=False) or ""
        effective_on = v.a_date(effective_on, "effective_on")

        def operation() -> tuple[Result, list[Aggregate]]:
            fund = self._load(Fund, fund_id, UnknownFundError, expected_version)
            actor.check_scope(fund.holder_region)
            fund.close(disposition=disposition, note=note_text, effective_on=effective_on, actor=actor.name)
            return {"fund_id": fund.id, "version": fund.version}, [fund]

        return self._execute(actor, idempotency, operation)

    # -- projects ------------------------------------------------------------------------------------------------

    def register_project(
        self,
        actor: Actor,
        *,
        code: str,
        name: str,
        township_code: str,
        station_name: str,
        service_domains: list[str],
        period_start: date,
        period_end: date,
        budget_lines: dict[str, Any],
        effective_on: date,
        provider_name: str | None = None,
        provider_uscc: str | None = None,
        monthly_plan: list[dict[str, Any]] | None = None,
        output_targets: list[dict[str, Any]] | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Registers a funded project: station, provider, period, budget lines, monthly plan, output targets."""
        township = get_division(township_code)
        if township.level != "township":
            raise InvalidRegionError("township_code must be a 9-digit township code", field="township_code")
        actor.check_scope(township.code)
        start, end = v.period(period_start, period_end, "period_start", "period_end")
        code = v.required_text(code, "code", max_length=64)
        if not isinstance(budget_lines, dict) or not budget_lines:
            raise ValidationError("budget_lines must map at least one category to an amount", field="budget_lines")
        lines = {v.choice(k, "budget_lines", CATEGORIES): posting_amount(a, f"budget_lines.{k}")
                 for k, a in budget_lines.items()}
        fields = {
            "code": code,
            "name": v.required_text(name, "name"),
            "township_code": township.code,
            "station_name": v.required_text(station_name, "station_name"),
            "service_domains": v.choices(service_domains, "service_domains", SERVICE_DOMAINS),
            "provider_name": v.text(provider_name, "provider_name", required=provider_uscc is not None),
            "provider_uscc": None if provider_uscc is None else validate_uscc(provider_uscc),
            "period_start": start,
            "period_end": end,
            "budget_lines": lines,
            "monthly_plan": _monthly_plan(monthly_plan or [], start, end),
            "output_targets": _output_targets(output_targets or [], start, end),
            "effective_on": v.a_date(effective_on, "effective_on"),
        }
        project_id = ids.project_id(code)

        def operation() -> tuple[Result, list[Aggregate]]:
            if self._exists(project_id):
                raise DuplicateKeyError(f"project code {code!r} is already registered", key=code)
            project = Project(id=project_id, actor=actor.name, **fields)
            return {"project_id": project.id, "version": project.version}, [project]

        return self._execute(actor, idempotency, operation)

    def _project_command(
        self,
        actor: Actor,
        project_id: UUID,
        expected_version: int | None,
        idempotency: Idempotency | None,
        command: Callable[[Project], Result],
        *,
        also: Callable[[Project], Iterable[Aggregate]] | None = None,
    ) -> Result:
        """Loads the project, checks scope, runs one command on it and saves it (with anything ``also`` adds)."""

        def operation() -> tuple[Result, list[Aggregate]]:
            project = self._load(Project, project_id, UnknownProjectError, expected_version)
            actor.check_scope(project.township_code)
            extra = list(also(project)) if also is not None else []
            result = command(project)
            return {**result, "project_id": project.id, "version": project.version}, [project, *extra]

        return self._execute(actor, idempotency, operation)

    def revise_budget(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        moves: list[dict[str, Any]],
        reason: str,
        effective_on: date,
        approval_document: str | None = None,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Moves money between budget lines; without an approval document the EAR-04 rule watches the total."""
        if not isinstance(moves, list) or not moves:
            raise ValidationError("moves must list at least one move", field="moves")
        parsed = [
            {
                "from_line": v.choice(m.get("from_line"), "moves.from_line", CATEGORIES),
                "to_line": v.choice(m.get("to_line"), "moves.to_line", CATEGORIES),
                "amount": posting_amount(m.get("amount"), "moves.amount"),
            }
            for m in moves
            if isinstance(m, dict) or _refuse("each move needs from_line, to_line and amount", "moves")
        ]
        kwargs = {
            "moves": parsed,
            "approval_document": v.text(approval_document, "approval_document", max_length=100, required=False),
            "reason": v.required_text(reason, "reason", max_length=1000),
            "effective_on": v.a_date(effective_on, "effective_on"),
        }

        def command(project: Project) -> Result:
            revision_id = uuid4()
            project.revise_budget(revision_id=revision_id, actor=actor.name, **kwargs)
            return {"revision_id": revision_id}

        return self._project_command(actor, project_id, expected_version, idempotency, command)

    def disburse(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        fund_id: UUID,
        amount: Any,
        payee_name: str,
        effective_on: date,
        payee_uscc: str | None = None,
        installment: int | None = None,
        procurement_id: UUID | None = None,
        voucher_no: str | None = None,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Pays an installment to the provider from money the project received from the named fund (拨付)."""
        kwargs = {
            "fund_id": v.a_uuid(fund_id, "fund_id"),
            "amount": posting_amount(amount),
            "installment": None if installment is None else v.whole_number(installment, "installment", minimum=1,
                                                                             maximum=120),
            "procurement_id": None if procurement_id is None else v.a_uuid(procurement_id, "procurement_id"),
            "payee_name": v.required_text(payee_name, "payee_name"),
            "payee_uscc": None if payee_uscc is None else validate_uscc(payee_uscc),
            "voucher_no": v.text(voucher_no, "voucher_no", max_length=100, required=False),
            "effective_on": v.a_date(effective_on, "effective_on"),
        }

        def referenced(project: Project) -> list[Aggregate]:
            self._load(Fund, kwargs["fund_id"], UnknownFundError)
            if kwargs["procurement_id"] is not None:
                procurement = self._load(Procurement, kwargs["procurement_id"], UnknownProcurementError)
                if procurement.project_id != project.id:
                    raise UnknownProcurementError(f"procurement {procurement.id} is not for project {project.code}")
            return []

        def command(project: Project) -> Result:
            entry_id = uuid4()
            project.disburse(entry_id=entry_id, actor=actor.name, **kwargs)
            return {"entry_id": entry_id}

        return self._project_command(actor, project_id, expected_version, idempotency, command, also=referenced)

    def record_expenditure(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        line: str,
        amount: Any,
        payee_name: str,
        payee_kind: str,
        effective_on: date,
        payee_uscc: str | None = None,
        invoice_no: str | None = None,
        fund_id: UUID | None = None,
        description: str | None = None,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Records spending on a budget line (列支). Compliance is judged by the audit rules, not refused here."""
        kwargs = {
            "line": v.choice(line, "line", CATEGORIES),
            "amount": posting_amount(amount),
            "payee_name": v.required_text(payee_name, "payee_name"),
            "payee_kind": v.choice(payee_kind, "payee_kind", PAYEE_KINDS),
            "payee_uscc": None if payee_uscc is None else validate_uscc(payee_uscc),
            "invoice_no": v.text(invoice_no, "invoice_no", max_length=100, required=False),
            "fund_id": None if fund_id is None else v.a_uuid(fund_id, "fund_id"),
            "description": v.text(description, "description", max_length=1000, required=False) or "",
            "effective_on": v.a_date(effective_on, "effective_on"),
        }

        def referenced(project: Project) -> list[Aggregate]:
            if kwargs["fund_id"] is not None:
                self._load(Fund, kwargs["fund_id"], UnknownFundError)
            return []

        def command(project: Project) -> Result:
            entry_id = uuid4()
            project.record_expenditure(entry_id=entry_id, actor=actor.name, **kwargs)
            return {"entry_id": entry_id}

        return self._project_command(actor, project_id, expected_version, idempotency, command, also=referenced)

    def reverse_entry(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        entry_id: UUID,
        reason: str,
        effective_on: date,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Cancels a disbursement or expenditure with a new entry (冲销)."""
        reversed_id = v.a_uuid(entry_id, "entry_id")
        reason_text = v.required_text(reason, "reason", max_length=1000)
        effective_on = v.a_date(effective_on, "effective_on")

        def command(project: Project) -> Result:
            new_id = uuid4()
            project.reverse_entry(entry_id=new_id, reversed_entry_id=reversed_id, reason=reason_text,
                                  effective_on=effective_on, actor=actor.name)
            return {"entry_id": new_id, "reversed_entry_id": reversed_id}

        return self._project_command(actor, project_id, expected_version, idempotency, command)

    def report_outputs(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        month: str,
        values: dict[str, int],
        effective_on: date,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Reports a month's output indicators (产出指标)."""
        month = v.month(month, "month")
        if not isinstance(values, dict) or not values:
            raise ValidationError("values must map at least one indicator to a count", field="values")
        counts = {v.choice(k, "values", OUTPUT_INDICATORS): v.whole_number(n, f"values.{k}")
                  for k, n in values.items()}
        effective_on = v.a_date(effective_on, "effective_on")

        def command(project: Project) -> Result:
            report_id = uuid4()
            project.report_outputs(report_id=report_id, month=month, values=counts, effective_on=effective_on,
                                   actor=actor.name)
            return {"report_id": report_id}

        return self._project_command(actor, project_id, expected_version, idempotency, command)

    def record_evaluation(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        kind: str,
        evaluator: str,
        weights: dict[str, Any],
        scores: dict[str, Any],
        effective_on: date,
        note: str | None = None,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Records a self, mid-term or final evaluation: dimension weights, scores, total and rating."""
        kind = v.choice(kind, "kind", KINDS)
        parsed_weights = _dimension_values(weights, "weights")
        parsed_scores = _dimension_values(scores, "scores")
        for dimension, score in parsed_scores.items():
            if score > parsed_weights[dimension]:
                raise ValidationError(f"score for {dimension} exceeds its weight", field="scores")
        total = total_of(parsed_scores)
        if total > 100:
            raise ValidationError("the total score cannot exceed 100", field="scores")
        kwargs = {
            "kind": kind,
            "evaluator": v.required_text(evaluator, "evaluator"),
            "weights": parsed_weights,
            "scores": parsed_scores,
            "total": total,
            "rating": rating_for(total),
            "note": v.text(note, "note", max_length=2000, required=False) or "",
            "effective_on": v.a_date(effective_on, "effective_on"),
        }

        def command(project: Project) -> Result:
            evaluation_id = uuid4()
            project.evaluate(evaluation_id=evaluation_id, actor=actor.name, **kwargs)
            return {"evaluation_id": evaluation_id, "total": total, "rating": kwargs["rating"]}

        return self._project_command(actor, project_id, expected_version, idempotency, command)

    def change_project_status(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        action: str,
        reason: str,
        effective_on: date,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Suspends, resumes or closes a project; a closed project takes no further postings."""
        action = v.choice(action, "action", ("suspend", "resume", "close"))
        reason_text = v.required_text(reason, "reason", max_length=1000)
        effective_on = v.a_date(effective_on, "effective_on")

        def command(project: Project) -> Result:
            getattr(project, action)(reason=reason_text, effective_on=effective_on, actor=actor.name)
            return {"status": project.status}

        return self._project_command(actor, project_id, expected_version, idempotency, command)

    def close_project(self, actor: Actor, project_id: UUID, *, reason: str, effective_on: date,
                      expected_version: int | None = None, idempotency: Idempotency | None = None) -> Result:
        return self.change_project_status(actor, project_id, action="close", reason=reason,
                                          effective_on=effective_on, expected_version=expected_version,
                                          idempotency=idempotency)

    # -- procurement ---------------------------------------------------------------------------------------------

    def open_procurement(
        self,
        actor: Actor,
        project_id: UUID,
        *,
        method: str,
        subject: str,
        category: str,
        effective_on: date,
        estimated_amount: Any = None,
        single_source_justification: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Opens a contracting process for a project (a failed one may be followed by another)."""
        fields = {
            "method": v.choice(method, "method", METHODS),
            "subject": v.required_text(subject, "subject", max_length=500),
            "category": v.choice(category, "category", CATEGORIES),
            "estimated_amount": None if estimated_amount is None else posting_amount(estimated_amount,
                                                                                     "estimated_amount"),
            "single_source_justification": v.text(single_source_justification, "single_source_justification",
                                                  max_length=1000, required=False),
            "effective_on": v.a_date(effective_on, "effective_on"),
        }

        def operation() -> tuple[Result, list[Aggregate]]:
            project = self._load(Project, project_id, UnknownProjectError)
            actor.check_scope(project.township_code)
            procurement = Procurement(project_id=project.id, region=project.township_code, actor=actor.name,
                                      **fields)
            return {"procurement_id": procurement.id, "version": procurement.version}, [procurement]

        return self._execute(actor, idempotency, operation)

    def record_procurement_step(
        self,
        actor: Actor,
        procurement_id: UUID,
        *,
        step: str,
        details: dict[str, Any],
        effective_on: date,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Records one step of the procedure; signing a contract also commits the project's budget."""
        parsed = parse_step(step, details)
        effective_on = v.a_date(effective_on, "effective_on")

        def operation() -> tuple[Result, list[Aggregate]]:
            procurement = self._load(Procurement, procurement_id, UnknownProcurementError, expected_version)
            actor.check_scope(procurement.region)
            procurement.record_step(step, parsed, effective_on, actor.name)
            touched: list[Aggregate] = [procurement]
            if step in ("contract_signed", "contract_amended"):
                project = self._load(Project, procurement.project_id, UnknownProjectError)
                if step == "contract_signed":
                    touched.append(self._reserve("contract_no", parsed["contract_no"], procurement.id))
                    project.commit_contract(
                        procurement_id=procurement.id,
                        contract_no=parsed["contract_no"],
                        amount=parsed["amount"],
                        provider_name=parsed["supplier_name"],
                        provider_uscc=parsed["supplier_uscc"],
                        installments=parsed["installments"],
                        effective_on=effective_on,
                        actor=actor.name,
                    )
                else:
                    project.amend_commitment(procurement_id=procurement.id, amount_delta=parsed["amount_delta"],
                                             effective_on=effective_on, actor=actor.name)
                touched.append(project)
            result = {"procurement_id": procurement.id, "version": procurement.version, "step": step}
            return result, touched

        return self._execute(actor, idempotency, operation)

    # -- auditors' decisions on findings --------------------------------------------------------------------------

    def decide_finding(
        self,
        actor: Actor,
        finding_id: str,
        *,
        region_code: str,
        decision: str,
        effective_on: date,
        note: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result:
        """Records an auditor's decision on a finding; ``region_code`` is the finding's, for the scope check."""
        finding_id = v.required_text(finding_id, "finding_id", max_length=64)
        decision = v.choice(decision, "decision", DECISIONS)
        note_text = v.text(note, "note", max_length=2000, required=decision == "dismiss") or ""
        effective_on = v.a_date(effective_on, "effective_on")
        actor.check_scope(region_code)
        case_id = ids.natural_key_id("finding_case", finding_id)

        def operation() -> tuple[Result, list[Aggregate]]:
            try:
                case = self._aggregate(case_id)
            except AggregateNotFoundError:
                case = FindingCase(id=case_id, finding_id=finding_id)
            assert isinstance(case, FindingCase)
            case.decide(decision=decision, note=note_text, effective_on=effective_on, actor=actor.name)
            return {"finding_id": finding_id, "status": case.status, "version": case.version}, [case]

        return self._execute(actor, idempotency, operation)

    # -- queries -------------------------------------------------------------------------------------------------

    def _get(self, cls: type[A], aggregate_id: UUID, error: type[NotFoundError], as_of: datetime | None,
             version: int | None) -> A:
        aggregate_id = v.a_uuid(aggregate_id, "id")
        if as_of is None:
            if version is not None:
                v.whole_number(version, "version", minimum=1)
            try:
                aggregate = self.repository.get(aggregate_id, version=version)
            except AggregateNotFoundError:
                raise error(f"no {cls.__name__.lower()} with id {aggregate_id}") from None
        else:
            as_of = v.aware_datetime(as_of, "as_of")
            state, after = self._snapshot_by(aggregate_id, as_of, version)
            for domain_event in self.events.get(aggregate_id, gt=after, lte=version):
                if domain_event.timestamp > as_of:
                    break
                state = domain_event.mutate(state)
            if state is None:
                raise error(f"no {cls.__name__.lower()} with id {aggregate_id} as of {as_of.isoformat()}")
            aggregate = state
        if not isinstance(aggregate, cls):
            raise error(f"no {cls.__name__.lower()} with id {aggregate_id}")
        if version is not None and aggregate.version != version:
            raise error(f"{cls.__name__.lower()} {aggregate_id} has no version {version}")
        return aggregate

    def _snapshot_by(self, aggregate_id: UUID, as_of: datetime, version: int | None) -> tuple[Any, int | None]:
        """The aggregate from its latest snapshot taken by ``as_of`` (and at or below ``version``), and the version
        to replay on from; (None, None) without one. A snapshot is taken after its events were saved, by the process
        that saved them, so each event it holds was recorded by then: replaying from it gives what replaying from
        the first event gives, without the events before it."""
        if self.snapshots is None:
            return None, None
        # Most instants asked about come after the latest snapshot: read that one alone first (each holds the
        # whole state), and the older ones only when it is too late.
        for limit in (1, None):
            for snapshot in self.snapshots.get(aggregate_id, desc=True, lte=version, limit=limit):
                if snapshot.timestamp <= as_of:
                    return snapshot.mutate(None), snapshot.originator_version
        return None, None

    def get_fund(self, fund_id: UUID, *, as_of: datetime | None = None, version: int | None = None) -> Result:
        """A fund as it stands, as recorded at an instant, or at a version."""
        return fund_view(self._get(Fund, fund_id, UnknownFundError, as_of, version))

    def get_project(self, project_id: UUID, *, as_of: datetime | None = None, version: int | None = None) -> Result:
        return project_view(self._get(Project, project_id, UnknownProjectError, as_of, version))

    def get_procurement(self, procurement_id: UUID, *, as_of: datetime | None = None,
                        version: int | None = None) -> Result:
        return procurement_view(self._get(Procurement, procurement_id, UnknownProcurementError, as_of, version))

    def find_project_id(self, code: str) -> UUID:
        project_id = ids.project_id(code)
        self._get(Project, project_id, UnknownProjectError, None, None)
        return project_id

    def get_history(self, aggregate_id: UUID) -> list[Result]:
        """An aggregate's events in order, each with actor, effective date, recorded time and log position."""
        positions = positions_of(self.recorder, aggregate_id)
        history = [event_view(e, positions.get(e.originator_version)) for e in self.events.get(aggregate_id)]
        if not history:
            raise NotFoundError(f"nothing recorded under id {aggregate_id}")
        return history

    def region_of(self, aggregate_id: UUID) -> str:
        """The division code an aggregate belongs to, for scope checks on reads."""
        aggregate = self.repository.get(aggregate_id)
        for attribute in ("holder_region", "township_code", "region"):
            if hasattr(aggregate, attribute):
                return str(getattr(aggregate, attribute))
        raise NotFoundError(f"nothing with a region under id {aggregate_id}")


def _group_commit_on(setting: str | None, factory: Any) -> bool:
    if setting is None or not setting.strip():
        return GROUP_COMMIT_DEFAULTS.get(type(factory).__module__, False)
    value = setting.strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{GROUP_COMMIT} must be on or off, not {setting!r}")
    return value == "on"


def _refuse(message: str, field: str) -> bool:
    raise ValidationError(message, field=field)


def _level_of(region_code: str) -> str:
    level = get_division(region_code).level
    return level if level in SOURCE_LEVELS else "county"


def _months_of(start: date, end: date) -> set[str]:
    months, year, month = set(), start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.add(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _monthly_plan(plan: list[dict[str, Any]], start: date, end: date) -> list[dict[str, Any]]:
    """Planned cumulative spending per month of the period (目标任务月度分解): months in order, never falling."""
    if not isinstance(plan, list):
        raise ValidationError("monthly_plan must be a list", field="monthly_plan")
    allowed, result, previous = _months_of(start, end), [], None
    for item in plan:
        if not isinstance(item, dict):
            raise ValidationError("each monthly plan item needs month and cumulative_amount", field="monthly_plan")
        month = v.month(item.get("month"), "monthly_plan.month")
        if month not in allowed:
            raise ValidationError(f"plan month {month} is outside the project period", field="monthly_plan")
        amount = parse_money(item.get("cumulative_amount"), "monthly_plan.cumulative_amount")
        if amount < 0 or (previous is not None and (month <= previous[0] or amount < previous[1])):
            raise ValidationError("the monthly plan must run in month order and never fall", field="monthly_plan")
        result.append({"month": month, "cumulative_amount": amount})
        previous = (month, amount)
    return result


def _output_targets(targets: list[dict[str, Any]], start: date, end: date) -> list[dict[str, Any]]:
    if not isinstance(targets, list):
        raise ValidationError("output_targets must be a list", field="output_targets")
    allowed, result, seen = _months_of(start, end), [], set()
    for item in targets:
        if not isinstance(item, dict):
            raise ValidationError("each output target needs indicator, month and cumulative_target",
                                  field="output_targets")
        indicator = v.choice(item.get("indicator"), "output_targets.indicator", OUTPUT_INDICATORS)
        month = v.month(item.get("month"), "output_targets.month")
        if month not in allowed or (indicator, month) in seen:
            raise ValidationError(f"target {indicator} {month} is outside the period or repeated",
                                  field="output_targets")
        seen.add((indicator, month))
        target = v.whole_number(item.get("cumulative_target"), "output_targets.cumulative_target")
        result.append({"indicator": indicator, "month": month, "cumulative_target": target})
    return sorted(result, key=lambda t: (t["indicator"], t["month"]))


def _dimension_values(values: Any, field: str) -> dict[str, Decimal]:
    if not isinstance(values, dict) or set(values) != set(DIMENSIONS):
        raise ValidationError(f"{field} must give exactly {', '.join(DIMENSIONS)}", field=field)
    result = {}
    for dimension in DIMENSIONS:
        value = parse_money(values[dimension], f"{field}.{dimension}")
        if not Decimal(0) <= value <= Decimal(100):
            raise ValidationError(f"{field}.{dimension} must be between 0 and 100", field=field)
        result[dimension] = value
    return result


__all__ = ["Idempotency", "LedgerApplication", "LedgerError"]
