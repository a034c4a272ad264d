"""The audit projection: folds a batch of the ledger's events into view rows and findings, in one transaction."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Mapper, Notification

from ledger.money import ZERO
from projections.decoding import EventDecoder
from projections.engine import RuleEngine, funds_of
from projections.lag_memo import LagMemos
from projections.procurement_state import ProcurementModel, ProcurementState
from projections.procurement_state import group_key as contract_group
from projections.procurement_state import to_record as procurement_record
from projections.rules import Finding
from projections.rules.earmarking import invoice_key
from projections.state import FundState, ProjectState, ReadModel, to_record
from projections.store import SPLIT, Counts, Cursor, ViewStore, as_json, cents, id_lists, iso, write_rows

DECISION_TOPIC_PREFIX = "ledger:FindingCase."
# The states a batch's events are folded into, by the aggregate that recorded them (``Notification.originator_id``):
# read in one query per kind before the fold instead of one or two per state as the fold first asks for it.
STATE_OF_TOPIC = {"ledger:Fund.": "fund", "ledger:Project.": "project", "ledger:Procurement.": "procurement"}
# The events the projection reads at all: those of funds, projects, procurements and finding cases. Others (natural
# key reservations) are not even decoded: no handler takes them, and the business date of an event counts only for
# the aggregate that recorded it (``changed_on``), which is none of the above.
READ_TOPICS = (*STATE_OF_TOPIC, DECISION_TOPIC_PREFIX)
PRC = "PRC-%"  # a LIKE pattern, always passed as a parameter (a literal % would clash with psycopg's placeholders)


def group_key(entry: dict[str, Any]) -> str | None:
    key = invoice_key(entry)
    return None if key is None else f"{key[0]}|{key[1]}"


def fund_row(fund: FundState) -> dict[str, Any]:
    return {
        "fund_id": fund.id, "region_code": fund.holder_region, "parent_fund_id": fund.parent_fund_id,
        "fiscal_year": fund.fiscal_year, "document_no": fund.document_no, "appropriated": cents(fund.amount),
        "allocated_to_funds": cents(fund.allocated_to_funds),
        "allocated_to_projects": cents(fund.allocated_to_projects),
        "recovered": cents(fund.recovered), "returned": cents(fund.returned), "available": cents(fund.available),
        "closed_as": fund.closed_as, "position": fund.last_position,
    }


def _total(items: Any) -> Decimal:
    return sum((i["amount"] for i in items), ZERO)


def project_row(p: ProjectState) -> dict[str, Any]:
    committed = sum((c["amount"] + _total_delta(c) for c in p.contracts.values()), ZERO)
    return {
        "project_id": p.id, "code": p.code, "name": p.name, "township_code": p.township_code,
        "period_start": iso(p.period_start), "period_end": iso(p.period_end), "status": p.status,
        "budget": cents(sum(p.budget_lines.values(), ZERO)), "received": cents(_total(p.receipts)),
        "returned": cents(_total(p.returns)), "committed": cents(committed),
        "disbursed": cents(_total(p.live_entries("disbursement"))),
        "spent": cents(_total(p.live_entries("expenditure"))),
        "reversed": cents(p.reversed_total()), "position": p.last_position,
    }


def _total_delta(contract: dict[str, Any]) -> Decimal:
    return sum((a["amount_delta"] for a in contract["amendments"]), ZERO)


def line_rows(p: ProjectState) -> list[dict[str, Any]]:
    revised: dict[str, Decimal] = dict(p.budget_lines)
    approved: dict[str, Decimal] = dict(p.budget_lines)
    for revision in p.revisions:
        for move in revision["moves"]:
            targets = [revised, approved] if revision["approval_document"] else [revised]
            for lines in targets:
                lines[move["from_line"]] = lines.get(move["from_line"], ZERO) - move["amount"]
                lines[move["to_line"]] = lines.get(move["to_line"], ZERO) + move["amount"]
    spent: dict[str, Decimal] = {}
    reversed_: dict[str, Decimal] = {}
    for e in p.entries:
        if e["kind"] == "expenditure":
            bucket = reversed_ if e["reversed_by"] else spent
            bucket[e["line"]] = bucket.get(e["line"], ZERO) + e["amount"]
    names = sorted(set(revised) | set(spent) | set(reversed_))
    return [
        {"project_id": p.id, "line": line, "budget": cents(p.budget_lines.get(line, ZERO)),
         "revised": cents(revised.get(line, ZERO)), "approved": cents(approved.get(line, ZERO)),
         "spent": cents(spent.get(line, ZERO)), "reversed": cents(reversed_.get(line, ZERO))}
        for line in names
    ]


def finding_row(f: Finding, first_position: int, position: int, group: str | None = None) -> dict[str, Any]:
    return {
        "finding_id": f.finding_id, "rule": f.rule, "rule_version": f.version, "severity": f.severity,
        "subject_kind": f.subject_kind, "subject_id": f.subject_id, "project_id": f.project_id,
        "region_code": f.region_code, "finding_key": f.key,
        "group_key": group, "title": f.title, "detail": f.detail,
        "effective_on": iso(f.effective_on), "params": as_json(f.params), "evidence": as_json(f.evidence),
        "first_position": first_position, "updated_position": position, "retracted_position": None,
        "retracted_on": None,
    }


class StateCache:
    """The states the last batches of this process read or wrote, decoded, so that the next batch need not read
    them again: a batch touching a project otherwise decodes all its entries and writes its state row again.

    Valid only while this process is the views' only writer: each batch starts by comparing the tracking position
    it reads with the one this process committed last (``mark``); any other position (another process applied a
    batch, or this process's last transaction did not commit) empties the cache. Bounded by ``max_items`` list
    items (a project's entries, a fund's allocations), least recently used first out.
    """

    def __init__(self, max_items: int = 50_000) -> None:
        self.max_items = max_items
        self.mark: tuple[int, int] | None = None
        self._states: OrderedDict[tuple[str, str], tuple[dict[str, Any], Counts]] = OrderedDict()
        self._items = 0
        self.hits = self.misses = 0

    def check(self, mark: tuple[int, int]) -> None:
        """Called as a batch starts: empties the cache unless ``mark`` is where this process's last batch ended.
        Until this batch ends well (``_BatchStates.keep``), the cache is marked as belonging to no position: the
        batch changes cached states in place, and if it fails half-way they are not what is stored."""
        if mark != self.mark:
            self.clear()
        self.mark = None

    def clear(self) -> None:
        self._states.clear()
        self._items = 0
        self.mark = None

    def get(self, key: tuple[str, str]) -> tuple[dict[str, Any], Counts] | None:
        found = self._states.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._states.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], record: dict[str, Any], counts: Counts) -> None:
        old = self._states.pop(key, None)
        if old is not None:
            self._items -= self._size(key[0], old[0])
        self._states[key] = (record, counts)
        self._items += self._size(key[0], record)
        while self._items > self.max_items and self._states:
            evicted, (gone, _) = self._states.popitem(last=False)
            self._items -= self._size(evicted[0], gone)

    @staticmethod
    def _size(kind: str, record: dict[str, Any]) -> int:
        return 1 + sum(len(record.get(name) or ()) for name in SPLIT.get(kind, ()))

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, key: tuple[str, str]) -> bool:  # without counting a hit or a miss, nor reordering
        return key in self._states


class _BatchStates:
    """What one batch read: through the cache when there is one, with the stored list lengths of each state."""

    def __init__(self, store: ViewStore, cursor: Cursor, generation: int, cache: StateCache | None) -> None:
        self.store, self.cursor, self.generation, self.cache = store, cursor, generation, cache
        self.stored: dict[tuple[str, str], Counts] = {}
        self.read: dict[tuple[str, str], dict[str, Any]] = {}
        # Read ahead (``prefetch``), not yet asked for: a state as stored when this batch began, None for one not
        # stored. Taken out when asked for, and dropped when the batch writes the state (a later ask reads it
        # again, as it would without the read-ahead).
        self.ahead: dict[tuple[str, str], tuple[dict[str, Any], Counts] | None] = {}

    def prefetch(self, kind: str, ids: Iterable[str]) -> None:
        """Reads the states of ``kind`` with these ids in one query (two with their lists), except those already
        read, read ahead or cached."""
        wanted = sorted({i for i in ids if (kind, i) not in self.read and (kind, i) not in self.ahead
                         and (self.cache is None or (kind, i) not in self.cache)})
        if not wanted:
            return
        records, counts = self.store.load_counted_states(self.cursor, self.generation, kind, wanted)
        for ident in wanted:
            record = records.get(ident)
            self.ahead[(kind, ident)] = None if record is None else (record, counts.get(ident, {}))

    def load(self, kind: str, ident: str) -> dict[str, Any] | None:
        key = (kind, ident)
        found = self.cache.get(key) if self.cache is not None else None
        if found is None:
            if key in self.ahead:
                found = self.ahead[key]
                if found is not None:  # asked for again, it is read again (a state not stored stays so until saved)
                    del self.ahead[key]
            else:
                found = self.store.load_counted(self.cursor, self.generation, kind, ident)
                if found is None:
                    self.ahead[key] = None
            if found is None:
                return None
        self.read[key], self.stored[key] = found
        return found[0]

    def saved(self, rows: list[tuple[str, str, dict[str, Any]]], counts: dict[tuple[str, str], Counts]) -> None:
        for kind, ident, record in rows:
            self.ahead.pop((kind, ident), None)
            self.read[(kind, ident)] = record
            self.stored[(kind, ident)] = counts.get((kind, ident), {})

    def keep(self, position: int) -> None:
        """After the batch: the cache holds what it read and wrote, as of ``position``."""
        if self.cache is None:
            return
        for key, record in self.read.items():
            self.cache.put(key, record, self.stored[key])
        self.cache.mark = (self.generation, position)


COMPARED = ("rule_version", "severity", "detail", "effective_on", "params", "evidence", "retracted_position")


class AuditProjection:
    """Applies notifications to one generation of the view tables; the caller owns the transaction."""

    def __init__(self, store: ViewStore, mapper: Mapper[Any], engine: RuleEngine | None = None,
                 cache: StateCache | None = None) -> None:
        self.store = store
        self.mapper = mapper
        self.decode = EventDecoder(mapper)
        self.engine = engine or RuleEngine()
        self.memos = LagMemos(store, self.engine)
        self.cache = cache if cache is not None else StateCache()

    def process(self, cursor: Cursor, generation: int, notifications: Sequence[Notification],
                cached: bool = True) -> int:
        """Applies ``notifications``. ``cached``: states may come from, and go to, this process's cache (live
        batches); a rebuild's batches, which read each state once, pass False."""
        store = self.store
        cache = self.cache if cached else None
        if cache is not None:
            cache.check((generation, store.position(cursor, generation)))
        states = _BatchStates(store, cursor, generation, cache)
        model = ReadModel(load=states.load)
        procurements = ProcurementModel(load=lambda ident: states.load("procurement", ident),
                                        owner_of=lambda project_id, entry_id: _paid_by(model, project_id, entry_id))
        decisions = []
        # Per aggregate, the latest business date among this batch's events: the date a retraction takes effect
        # (exactly the retracting event's date when the worker keeps up one event at a time).
        changed_on: dict[str, date] = {}
        folded: dict[str, set[str]] = {}
        for notification in notifications:
            for prefix, kind in STATE_OF_TOPIC.items():
                if notification.topic.startswith(prefix):
                    folded.setdefault(kind, set()).add(model.texts[notification.originator_id])
        for kind, ids in sorted(folded.items()):
            states.prefetch(kind, ids)
        decode = self.decode
        for notification in notifications:
            if not notification.topic.startswith(READ_TOPICS):
                continue
            event = decode(notification)
            if notification.topic.startswith(DECISION_TOPIC_PREFIX):
                if hasattr(event, "decision"):
                    decisions.append((notification.id, event))
            else:
                model.apply(notification.topic, event, notification.id)
                procurements.apply(notification.topic, event, notification.id)
                on = getattr(event, "effective_on", None)
                if on is not None:
                    key = model.texts[event.originator_id]
                    changed_on[key] = max(on, changed_on.get(key, on))
        last = notifications[-1].id
        funds = [model.funds[i] for i in sorted(model.touched_funds)]
        projects = [model.projects[i] for i in sorted(model.touched_projects)]
        states.prefetch("fund", {i for p in projects for i in _fund_ids(p)} - set(model.funds))  # for ``funds_of``
        rows = [("fund", f.id, to_record(f)) for f in funds] + [("project", p.id, to_record(p)) for p in projects]
        states.saved(rows, store.save_states(cursor, generation, rows, states.stored, model.changed_items))
        store.upsert(cursor, generation, "funds", [fund_row(f) for f in funds], ("fund_id",))
        store.upsert(cursor, generation, "projects", [project_row(p) for p in projects], ("project_id",))
        store.upsert(cursor, generation, "lines", [r for p in projects for r in line_rows(p)], ("project_id", "line"))
        existing: dict[str, list[dict[str, Any]]] = {project.id: [] for project in projects}
        for marks, ids in id_lists(cursor, list(existing)):
            cursor.execute(f"SELECT * FROM {store.table('findings', generation)} WHERE project_id {marks} "
                           "AND rule <> 'EAR-09' AND rule NOT LIKE ?", [*ids, PRC])
            for row in cursor.fetchall():
                existing[row["project_id"]].append(row)
        jobs = []
        for project in projects:
            found = self.engine.project_findings(project, funds_of(project, model.fund))
            jobs.append(_Job(existing[project.id], found, changed_on.get(project.id),
                             lambda f, p=project.id: f.project_id == p and f.rule != "EAR-09"
                             and not f.rule.upper().startswith("PRC-"),
                             f"SELECT * FROM {store.table('findings', generation)} WHERE project_id = ? "
                             "AND rule <> 'EAR-09' AND rule NOT LIKE ?", (project.id, PRC)))
        self._reconcile_all(cursor, generation, jobs, last)
        self._refresh_invoices(cursor, generation, model, projects, notifications[0].id, last, changed_on, states)
        self._refresh_procurements(cursor, generation, procurements, last, states)
        self._record_decisions(cursor, generation, decisions)
        self._forget_memos(cursor, generation, model, procurements, last)
        store.set_position(cursor, generation, last)
        states.keep(last)
        return len(notifications)

    def _forget_memos(self, cursor: Cursor, generation: int, model: ReadModel, procurements: ProcurementModel,
                      position: int) -> None:
        """The date-judged memos of what this batch changed are stale: a project's own events, its procurements'
        steps and allocations from its funds (the LAG rules get the project's funds)."""
        projects = set(model.touched_projects)
        projects |= {procurements.procurements[i].project_id for i in procurements.touched}
        projects |= {a["target_id"] for i in model.touched_funds for a in model.funds[i].allocations
                     if a["target_kind"] == "project"}
        self.memos.forget(cursor, generation, "project", projects, position)
        self.memos.forget(cursor, generation, "fund", model.touched_funds, position)

    def _reconcile(self, cursor: Cursor, generation: int, existing_rows: list[dict[str, Any]],
                   found: list[Finding], position: int, retracted_on: date | None, group: str | None = None) -> None:
        """Adds new findings, updates changed ones, retracts those no longer true (never deletes)."""
        rows, gone = _changes(existing_rows, found, position, retracted_on, group)
        self._write_findings(cursor, generation, rows, gone)

    def _write_findings(self, cursor: Cursor, generation: int, rows: list[dict[str, Any]],
                        gone: list[tuple[int, str | None, str]]) -> None:
        self.store.upsert(cursor, generation, "findings", rows, ("finding_id",))
        if gone:
            cursor.executemany(f"UPDATE {self.store.table('findings', generation)} SET retracted_position = ?, "
                               "retracted_on = ? WHERE finding_id = ?", gone)

    def _reconcile_all(self, cursor: Cursor, generation: int, jobs: list[_Job], position: int) -> None:
        """``_reconcile`` of many subjects, each against its stored findings read before any was written, and
        all written at once. That is what reconciling them one after another (reading each subject's findings
        just before) would do only if no subject's writes reach another's findings: every finding a job makes is
        in its own subject's scope (``job.owns``), none is made by two jobs and none is among another job's stored
        findings. Otherwise they are reconciled one after another, each read again."""
        made: dict[str, int] = {}
        for index, job in enumerate(jobs):
            for finding in job.found:
                if not job.owns(finding) or made.setdefault(finding.finding_id, index) != index:
                    return self._reconcile_each(cursor, generation, jobs, position)
        for index, job in enumerate(jobs):
            if any(made.get(row["finding_id"], index) != index for row in job.existing):
                return self._reconcile_each(cursor, generation, jobs, position)
        rows: list[dict[str, Any]] = []
        gone: list[tuple[int, str | None, str]] = []
        for job in jobs:
            job_rows, job_gone = _changes(job.existing, job.found, position, job.retracted_on, job.group)
            rows += job_rows
            gone += job_gone
        self._write_findings(cursor, generation, rows, gone)

    def _reconcile_each(self, cursor: Cursor, generation: int, jobs: list[_Job], position: int) -> None:
        for job in jobs:
            cursor.execute(job.sql, job.params)
            self._reconcile(cursor, generation, cursor.fetchall(), job.found, position, job.retracted_on, job.group)

    def _refresh_invoices(self, cursor: Cursor, generation: int, model: ReadModel, projects: list[ProjectState],
                          first: int, last: int, changed_on: dict[str, date], states: _BatchStates) -> None:
        """EAR-09 looks across projects: re-judge the invoice groups that this batch's entries or reversals touch."""
        table = self.store.table("invoices", generation)
        changed: dict[str, tuple[str, str, str]] = {}
        old: set[str] = set()  # entries of earlier batches, reversed in this one
        for project in projects:
            reversed_now = {e["reversed_entry_id"] for e in project.entries
                            if e["kind"] == "reversal" and first <= e["ref"]["position"] <= last}
            for entry in project.entries:
                key = group_key(entry) if entry["kind"] == "expenditure" else None
                if key is None:
                    continue
                if first <= entry["ref"]["position"] <= last:
                    changed[entry["entry_id"]] = (entry["entry_id"], project.id, key)
                    old.discard(entry["entry_id"])
                elif entry["entry_id"] in reversed_now:
                    changed[entry["entry_id"]] = (entry["entry_id"], project.id, key)
                    old.add(entry["entry_id"])
        # An entry's row is new in the batch of its event (rewritten in the batch that reverses it).
        columns = ["entry_id", "project_id", "group_key"]
        write_rows(cursor, table, columns, ("entry_id",), [row for row in changed.values() if row[0] not in old],
                   unique=True, fresh=True)
        write_rows(cursor, table, columns, ("entry_id",), [row for row in changed.values() if row[0] in old],
                   unique=True)
        keys = sorted({row[2] for row in changed.values()})
        findings = self.store.table("findings", generation)
        # The groups to judge: those of two entries or more, and those with an EAR-09 finding (to retract it).
        judged: set[str] = set()
        for marks, chunk in id_lists(cursor, keys):
            cursor.execute(f"SELECT group_key FROM {table} WHERE group_key {marks} GROUP BY group_key "
                           "HAVING COUNT(*) >= 2", chunk)
            judged.update(row["group_key"] for row in cursor.fetchall())
            cursor.execute(f"SELECT DISTINCT group_key FROM {findings} WHERE rule = 'EAR-09' AND group_key {marks}",
                           chunk)
            judged.update(row["group_key"] for row in cursor.fetchall())
        if not judged:
            return
        wanted = sorted(judged)
        members: dict[str, set[str]] = {key: set() for key in wanted}
        existing: dict[str, list[dict[str, Any]]] = {key: [] for key in wanted}
        for marks, chunk in id_lists(cursor, wanted):
            cursor.execute(f"SELECT group_key, project_id FROM {table} WHERE group_key {marks}", chunk)
            for row in cursor.fetchall():
                members[row["group_key"]].add(row["project_id"])
            cursor.execute(f"SELECT * FROM {findings} WHERE rule = 'EAR-09' AND group_key {marks}", chunk)
            for row in cursor.fetchall():
                existing[row["group_key"]].append(row)
        states.prefetch("project", {i for ids in members.values() for i in ids} - set(model.projects))
        jobs = []
        for key in wanted:
            project_ids = sorted(members[key])
            items = [(p, e) for p in (model.project(i) for i in project_ids) if p is not None for e in p.entries
                     if e["kind"] == "expenditure" and group_key(e) == key]
            found = self.engine.invoice_findings(items)
            retracted_on = max((changed_on[i] for i in project_ids if i in changed_on), default=None)
            jobs.append(_Job(existing[key], found, retracted_on, lambda f: f.rule == "EAR-09",
                             f"SELECT * FROM {findings} WHERE rule = 'EAR-09' AND group_key = ?", (key,), key))
        self._reconcile_all(cursor, generation, jobs, last)

    def _refresh_procurements(self, cursor: Cursor, generation: int, model: ProcurementModel, position: int,
                              states: _BatchStates) -> None:
        """Saves the procurements this batch touched and re-judges them, with every process of the same buyer,
        category and provider (PRC-13 compares them). Two index rows live beside the states: the processes of each
        project (``project_procurements``, for the dated reads) and each PRC-13 group (``procurement_group``)."""
        if not model.touched:
            return
        store = self.store
        touched = [model.procurements[i] for i in sorted(model.touched)]
        indexes: list[tuple[str, str, dict[str, Any]]] = []
        by_project: dict[str, list[str]] = {}
        for pid in model.opened:
            by_project.setdefault(model.procurements[pid].project_id, []).append(pid)
        states.prefetch("project_procurements", by_project)
        states.prefetch("procurement_group", {key for key in map(contract_group, touched) if key is not None})
        for project_id, opened in sorted(by_project.items()):
            index = states.load("project_procurements", project_id) or {"ids": []}
            indexes.append(("project_procurements", project_id,
                            {"ids": [*index["ids"], *(i for i in opened if i not in index["ids"])]}))
        groups: dict[str, list[str]] = {}
        for state in touched:
            key = contract_group(state)
            if key is None:
                continue
            if key not in groups:
                groups[key] = list((states.load("procurement_group", key) or {"ids": []})["ids"])
            if state.id not in groups[key]:  # kept sorted, so the row does not depend on how batches were cut
                groups[key] = sorted([*groups[key], state.id])
                indexes.append(("procurement_group", key, {"ids": list(groups[key])}))
        rows = ([("procurement", s.id, procurement_record(s)) for s in touched]
                + list({(kind, ident): (kind, ident, body) for kind, ident, body in indexes}.values()))
        states.prefetch("procurement", {i for key in map(contract_group, touched) if key is not None
                                        for i in groups[key]} - set(model.procurements))
        states.saved(rows, store.save_states(cursor, generation, rows, states.stored))
        judge: dict[str, tuple[ProcurementState, list[ProcurementState]]] = {}
        for state in touched:
            key = contract_group(state)
            members = [m for m in (model.procurement(i) for i in groups.get(key or "", [])) if m is not None]
            for subject in [state, *members]:
                judge[subject.id] = (subject, members)
        table = store.table("findings", generation)
        existing: dict[tuple[str, str], list[dict[str, Any]]] = {(s.project_id, s.id): [] for s, _ in judge.values()}
        for marks, ids in id_lists(cursor, sorted({project_id for project_id, _ in existing})):
            cursor.execute(f"SELECT * FROM {table} WHERE project_id {marks} AND rule LIKE ?", [*ids, PRC])
            for row in cursor.fetchall():
                if (row["project_id"], row["subject_id"]) in existing:
                    existing[(row["project_id"], row["subject_id"])].append(row)
        jobs = []
        for pid in sorted(judge):
            state, members = judge[pid]
            found = self.engine.procurement_findings(state, members)
            dates = [model.changed_on[m.id] for m in [state, *members] if m.id in model.changed_on]
            jobs.append(_Job(existing[(state.project_id, state.id)], found, max(dates, default=None),
                             lambda f, s=state: f.project_id == s.project_id and f.subject_id == s.id
                             and f.rule.startswith("PRC-"),
                             f"SELECT * FROM {table} WHERE project_id = ? AND subject_id = ? AND rule LIKE ?",
                             (state.project_id, state.id, PRC)))
        self._reconcile_all(cursor, generation, jobs, position)

    def _record_decisions(self, cursor: Cursor, generation: int, decisions: list[tuple[int, Any]]) -> None:
        self.store.upsert(cursor, generation, "decisions", [
            {"finding_id": str(e.finding_id), "position": position, "decision": e.decision, "note": e.note,
             "actor": e.actor, "effective_on": iso(e.effective_on), "recorded_at": e.timestamp.isoformat()}
            for position, e in decisions
        ], ("finding_id", "position"))


@dataclass
class _Job:
    """One subject's findings to reconcile: its stored ones (``existing``, read by ``sql`` with ``params``) and
    those the rules ``found`` now; ``owns`` tells whether a finding is one that ``sql`` reads."""

    existing: list[dict[str, Any]]
    found: list[Finding]
    retracted_on: date | None
    owns: Callable[[Finding], bool]
    sql: str
    params: tuple[Any, ...]
    group: str | None = None


def _changes(existing_rows: list[dict[str, Any]], found: list[Finding], position: int, retracted_on: date | None,
             group: str | None) -> tuple[list[dict[str, Any]], list[tuple[int, str | None, str]]]:
    """The finding rows to write (new or changed) and those to retract (stored, live, no longer found)."""
    existing = {row["finding_id"]: row for row in existing_rows}
    rows = []
    for finding in found:
        old = existing.get(finding.finding_id)
        row = finding_row(finding, old["first_position"] if old else position, position, group)
        if old is not None and all(str(old[c]) == str(row[c]) for c in COMPARED):
            continue
        rows.append(row)
    live = {f.finding_id for f in found}
    gone = [(position, iso(retracted_on), fid) for fid, row in existing.items()
            if fid not in live and row["retracted_position"] is None]
    return rows, gone


def _fund_ids(project: ProjectState) -> set[str]:
    """The funds ``funds_of`` looks up for a project."""
    return {r["fund_id"] for r in project.receipts} | {e["fund_id"] for e in project.entries if e.get("fund_id")}


def _paid_by(model: ReadModel, project_id: str, entry_id: str) -> str | None:
    """The procurement a project's disbursement paid under, if it named one."""
    project = model.project(project_id)
    for entry in [] if project is None else project.entries:
        if entry["entry_id"] == entry_id and entry["kind"] == "disbursement":
            return entry.get("procurement_id")
    return None
