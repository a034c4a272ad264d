"""Reads of the audit views, for the API, the console and exports. Every query runs on the live generation."""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import uuid4

from ledger.finding_case import STATUS_AFTER
from ledger.regions import children, get_division, normalise_scope
from projections.audit import fund_row, group_key, line_rows, project_row
from projections.coverage import (
    CountingRule,
    coverage,
    coverage_finding,
    reported_service_points,
    service_point_targets_from,
    service_points,
    targets_from,
)
from projections.database import SQLiteDatabase
from projections.engine import RuleEngine, funds_of
from projections.lag_memo import LagMemos, Memo, Only, findings_of
from projections.progress import project_progress, wanted
from projections.rules import Finding
from projections.rules.procurement import DATED_RULES
from projections.state import FundState, ProjectState, from_record, fund_on, project_on, to_record
from projections.store import Cursor, ViewStore, decode, yuan

MONEY_COLUMNS = ("appropriated", "allocated_to_funds", "allocated_to_projects", "recovered", "returned", "available",
                 "budget", "received", "committed", "disbursed", "spent", "reversed", "revised", "approved")
FINDING_STATUSES = ("open", *STATUS_AFTER.values(), "retracted")
FAMILY = re.compile(r"[A-Z]{3}")
log = logging.getLogger(__name__)


def is_family(rule: str) -> bool:
    """A rule family (EAR, PRC, LAG, PRF) rather than one rule's code."""
    return FAMILY.fullmatch(rule) is not None


def _money(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (yuan(v) if k in MONEY_COLUMNS else v) for k, v in row.items()}


def _prefix(code: str) -> str:
    return normalise_scope(code)


class AuditQueries:
    def __init__(self, store: ViewStore, engine: RuleEngine | None = None) -> None:
        self.store = store
        self.engine = engine or RuleEngine()

    def _t(self, cursor: Cursor, name: str) -> str:
        return self.store.table(name, self.store.seen_generation(cursor))

    # -- findings ------------------------------------------------------------------------------------------------

    def list_findings(
        self,
        *,
        scope: str = "",
        region: str | None = None,
        rule: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        project: str | None = None,
        on: date | None = None,
        after: str | None = None,
        after_order: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Findings inside ``scope`` (and ``region``) by business date then id (stable across rebuilds), after
        the finding ``after`` or after the place ``after_order`` (business date as ``YYYY-MM-DD``, finding id) in
        that order. ``rule`` is a code (``PRC-04``) or a family (``PRC``). The database orders and limits: a page
        reads about ``limit`` rows, however many findings there are (more only when ``status`` filters out many,
        as a finding's status comes from its decisions)."""
        with self.store.db.transaction(write=False) as cursor:
            findings, decisions = self._t(cursor, "findings"), self._t(cursor, "decisions")
            where, params = ["f.region_code LIKE ?"], [_prefix(scope) + "%"]
            if region:
                where.append("f.region_code LIKE ?")
                params.append(_prefix(region) + "%")
            if rule and is_family(rule):
                where.append("f.rule LIKE ?")
                params.append(f"{rule}-%")
            elif rule:
                where.append("f.rule = ?")
                params.append(rule)
            for column, value in (("f.severity", severity), ("f.project_id", project)):
                if value:
                    where.append(f"{column} = ?")
                    params.append(value)
            if on is not None:
                where.append("f.effective_on <= ? AND (f.retracted_on IS NULL OR f.retracted_on > ?)")
                params += [on.isoformat(), on.isoformat()]
            if status != "retracted" and on is None:
                where.append("f.retracted_position IS NULL")
            if after:
                where.append("(f.effective_on, f.finding_id) > (SELECT effective_on, finding_id FROM "
                             f"{findings} WHERE finding_id = ?)")
                params.append(after)
            select = (f"SELECT f.*, (SELECT d.decision FROM {decisions} d WHERE d.finding_id = f.finding_id "
                      "ORDER BY d.position DESC LIMIT 1) AS last_decision "
                      f"FROM {findings} f WHERE {' AND '.join(where)}")
            rows: list[dict[str, Any]] = []
            place, chunk = after_order, max(1, min(limit, 10_000))
            while len(rows) < limit:
                if place is None:
                    cursor.execute(f"{select} ORDER BY f.effective_on, f.finding_id LIMIT ?", [*params, chunk])
                else:
                    cursor.execute(f"{select} AND (f.effective_on, f.finding_id) > (?, ?) "
                                   "ORDER BY f.effective_on, f.finding_id LIMIT ?", [*params, *place, chunk])
                fetched = cursor.fetchall()
                rows += [r for r in map(self._finding, fetched) if not status or r["status"] == status]
                if len(fetched) < chunk:
                    break
                place = (str(fetched[-1]["effective_on"]), str(fetched[-1]["finding_id"]))
        return rows[:limit]

    @staticmethod
    def _finding(row: Mapping[str, Any]) -> dict[str, Any]:
        result = dict(row)
        decision = result.pop("last_decision", None)
        if result.get("retracted_position") is not None:
            result["status"] = "retracted"
        else:
            result["status"] = STATUS_AFTER.get(decision, "open") if decision else "open"
        result["params"] = json.loads(result["params"] or "{}")
        result["evidence"] = json.loads(result["evidence"] or "[]")
        return result

    def get_finding(self, finding_id: str) -> dict[str, Any] | None:
        with self.store.db.transaction(write=False) as cursor:
            findings, decisions = self._t(cursor, "findings"), self._t(cursor, "decisions")
            cursor.execute(
                f"SELECT f.*, (SELECT d.decision FROM {decisions} d WHERE d.finding_id = f.finding_id "
                f"ORDER BY d.position DESC LIMIT 1) AS last_decision FROM {findings} f WHERE f.finding_id = ?",
                (finding_id,),
            )
            row = cursor.fetchone()
            if row is None:
                return None
            cursor.execute(f"SELECT * FROM {decisions} WHERE finding_id = ? ORDER BY position", (finding_id,))
            history = cursor.fetchall()
        finding = self._finding(row)
        finding["decisions"] = history
        return finding

    # -- roll-ups and project ledgers ------------------------------------------------------------------------------

    def region_rollup(self, code: str, *, scope: str = "") -> dict[str, Any]:
        """Money and findings for a province, city, county or township, and each of its children."""
        division = get_division(code)
        kids = children(division.code)
        with self.store.db.transaction(write=False) as cursor:
            totals = self._region_totals(cursor, [_prefix(division.code)])[_prefix(division.code)]
            by_prefix: dict[str, dict[str, Any]] = {}
            for length in sorted({len(_prefix(c.code)) for c in kids}):  # one set of queries per prefix length
                by_prefix.update(self._region_totals(cursor, [_prefix(c.code) for c in kids
                                                              if len(_prefix(c.code)) == length]))
            parts = [{"code": c.code, "name": c.name, "level": c.level, **by_prefix[_prefix(c.code)]} for c in kids]
            findings = self._t(cursor, "findings")
            cursor.execute(
                f"SELECT rule, severity, COUNT(*) AS n FROM {findings} WHERE region_code LIKE ? "
                "AND retracted_position IS NULL GROUP BY rule, severity ORDER BY rule, severity",
                (_prefix(division.code) + "%",),
            )
            by_rule = cursor.fetchall()
        return {"code": division.code, "name": division.name, "level": division.level, **totals,
                "findings": [{"rule": r["rule"], "severity": r["severity"], "count": int(r["n"])} for r in by_rule],
                "children": [p for p in parts if p["projects"] or p["funds"] or p["open_findings"]]}

    def _region_totals(self, cursor: Cursor, prefixes: list[str]) -> dict[str, dict[str, Any]]:
        """The totals of each region given by its code prefix (all of one length), in three grouped queries.
        Money that came into a region is what its funds were appropriated from outside it: from above, or with no
        parent."""
        length = len(prefixes[0])
        assert all(len(p) == length for p in prefixes)
        funds, projects, findings = (self._t(cursor, name) for name in ("funds", "projects", "findings"))
        wanted = sorted(set(prefixes))
        marks = ", ".join("?" for _ in wanted)

        def grouped(sql: str, column: str) -> dict[str, dict[str, Any]]:
            cursor.execute(sql.format(part=f"substr({column}, 1, {length})", marks=marks), wanted)
            return {row["part"]: row for row in cursor.fetchall()}

        fund_rows = grouped(
            "SELECT {part} AS part, COUNT(*) AS funds, COALESCE(SUM(CASE WHEN p.fund_id IS NULL OR "
            f"substr(p.region_code, 1, {length}) <> substr(f.region_code, 1, {length}) THEN f.appropriated ELSE 0 "
            "END), 0) AS funds_in, COALESCE(SUM(f.available), 0) AS held, COALESCE(SUM(f.returned), 0) AS returned_up "
            f"FROM {funds} f LEFT JOIN {funds} p ON p.fund_id = f.parent_fund_id "
            "WHERE {part} IN ({marks}) GROUP BY {part}", "f.region_code")
        project_rows = grouped(
            "SELECT {part} AS part, COUNT(*) AS projects, COALESCE(SUM(budget), 0) AS budget, "
            "COALESCE(SUM(received), 0) AS received, COALESCE(SUM(returned), 0) AS returned, "
            "COALESCE(SUM(committed), 0) AS committed, COALESCE(SUM(disbursed), 0) AS disbursed, "
            "COALESCE(SUM(spent), 0) AS spent, COALESCE(SUM(reversed), 0) AS reversed "
            f"FROM {projects} WHERE {{part}} IN ({{marks}}) GROUP BY {{part}}", "township_code")
        finding_rows = grouped(
            f"SELECT {{part}} AS part, COUNT(*) AS n FROM {findings} WHERE {{part}} IN ({{marks}}) "
            "AND retracted_position IS NULL GROUP BY {part}", "region_code")
        totals = {}
        for prefix in wanted:
            fund, project = fund_rows.get(prefix, {}), project_rows.get(prefix, {})
            totals[prefix] = {
                "funds": int(fund.get("funds") or 0), "funds_in": yuan(fund.get("funds_in")),
                "held": yuan(fund.get("held")), "returned_up": yuan(fund.get("returned_up")),
                "projects": int(project.get("projects") or 0), "budget": yuan(project.get("budget")),
                "received": yuan((project.get("received") or 0) - (project.get("returned") or 0)),
                "committed": yuan(project.get("committed")), "disbursed": yuan(project.get("disbursed")),
                "spent": yuan(project.get("spent")), "reversed": yuan(project.get("reversed")),
                "open_findings": int(finding_rows.get(prefix, {}).get("n") or 0),
            }
        return totals

    def on_date(self, on: date) -> AuditQueries:
        """The same queries over views of what had taken effect by a business date: built in memory from the
        projection's state with the projection's own row builders, findings as they stood on that date."""
        dated = ViewStore(SQLiteDatabase(""))
        with self.store.db.transaction(write=False) as cursor:
            generation = self.store.seen_generation(cursor)
            states: dict[str, dict[str, dict[str, Any]]] = {}
            for kind in ("fund", "project"):
                cursor.execute(f"SELECT id, body FROM {self.store.table('state', generation)} WHERE kind = ?",
                               (kind,))
                states[kind] = self.store.states_of_rows(cursor, generation, kind, cursor.fetchall())
            cursor.execute(f"SELECT * FROM {self.store.table('findings', generation)} WHERE effective_on <= ? "
                           "AND (retracted_on IS NULL OR retracted_on > ?)", (on.isoformat(), on.isoformat()))
            findings = [{**row, "retracted_position": None, "retracted_on": None} for row in cursor.fetchall()]
            cursor.execute(f"SELECT * FROM {self.store.table('decisions', generation)} WHERE effective_on <= ?",
                           (on.isoformat(),))
            decisions = cursor.fetchall()
        funds, projects = [], []
        for record in states["fund"].values():
            fund = fund_on(from_record(FundState, record), on)
            if fund is not None:
                funds.append(fund)
        for record in states["project"].values():
            project: ProjectState = from_record(ProjectState, record)
            if project.registered_on <= on:
                projects.append(project_on(project, on))
        with dated.db.transaction() as cursor:
            generation = dated.generation(cursor)
            dated.save_states(cursor, generation, [("fund", f.id, to_record(f)) for f in funds]
                              + [("project", p.id, to_record(p)) for p in projects])
            dated.upsert(cursor, generation, "funds", [fund_row(f) for f in funds], ("fund_id",))
            dated.upsert(cursor, generation, "projects", [project_row(p) for p in projects], ("project_id",))
            dated.upsert(cursor, generation, "lines", [r for p in projects for r in line_rows(p)],
                         ("project_id", "line"))
            dated.upsert(cursor, generation, "findings", findings, ("finding_id",))
            dated.upsert(cursor, generation, "decisions", decisions, ("finding_id", "position"))
        return AuditQueries(dated, self.engine)

    def project_ledger(self, project_id: str) -> dict[str, Any] | None:
        with self.store.db.transaction(write=False) as cursor:
            cursor.execute(f"SELECT * FROM {self._t(cursor, 'projects')} WHERE project_id = ?", (project_id,))
            project = cursor.fetchone()
            if project is None:
                return None
            cursor.execute(f"SELECT * FROM {self._t(cursor, 'lines')} WHERE project_id = ? ORDER BY line",
                           (project_id,))
            lines = [_money(r) for r in cursor.fetchall()]
        return {**_money(project), "lines": lines}

    def fund_balances(self, *, scope: str = "", region: str | None = None) -> list[dict[str, Any]]:
        with self.store.db.transaction(write=False) as cursor:
            params = [_prefix(scope) + "%", _prefix(region or scope) + "%"]
            cursor.execute(f"SELECT * FROM {self._t(cursor, 'funds')} WHERE region_code LIKE ? AND region_code "
                           "LIKE ? ORDER BY region_code, document_no", params)
            return [_money(r) for r in cursor.fetchall()]

    # -- dry run ---------------------------------------------------------------------------------------------------

    def load_project(self, project_id: str) -> tuple[ProjectState, dict[str, FundState]] | None:
        with self.store.db.transaction(write=False) as cursor:
            generation = self.store.seen_generation(cursor)
            record = self.store.load_state(cursor, generation, "project", project_id)
            if record is None:
                return None
            project: ProjectState = from_record(ProjectState, record)

            def fund(fund_id: str) -> FundState | None:
                fund_record = self.store.load_state(cursor, generation, "fund", fund_id)
                return None if fund_record is None else from_record(FundState, fund_record)

            return project, funds_of(project, fund)

    def check_expenditure(self, project_id: str, expenditure: dict[str, Any]) -> list[Finding] | None:
        """The findings an expenditure would add, without posting it (EAR-09 in every project listing the invoice)."""
        loaded = self.load_project(project_id)
        if loaded is None:
            return None
        project, funds = loaded
        before = {f.finding_id for f in self.engine.project_findings(project, funds)}
        entry = {"entry_id": f"dry-run-{uuid4()}", "kind": "expenditure", "reversed_by": None,
                 "ref": {"event_id": "dry-run", "position": 10**18, "type": "ExpenditureRecorded",
                         "effective_on": expenditure["effective_on"]},
                 **{k: expenditure.get(k) for k in ("line", "amount", "payee_name", "payee_kind", "payee_uscc",
                                                    "invoice_no", "fund_id", "effective_on")}}
        if entry["fund_id"] is not None:
            entry["fund_id"] = str(entry["fund_id"])
        project.entries.append(entry)
        after = self.engine.project_findings(project, funds)
        group = self._invoice_group(project, entry)
        listed = {f.finding_id for f in self.engine.invoice_findings(i for i in group if i[1] is not entry)}
        duplicates = [f for f in self.engine.invoice_findings(group) if f.finding_id not in listed]
        return [f for f in after if f.finding_id not in before] + duplicates

    def _invoice_group(self, project: ProjectState, entry: dict[str, Any]) -> list[tuple[ProjectState, dict[str, Any]]]:
        """Every expenditure with the entry's payee and invoice number: in its project, and in any other."""
        key = group_key(entry)
        if key is None:
            return []
        members = [project]
        with self.store.db.transaction(write=False) as cursor:
            generation = self.store.seen_generation(cursor)
            cursor.execute(f"SELECT DISTINCT project_id FROM {self.store.table('invoices', generation)} "
                           "WHERE group_key = ? AND project_id <> ?", (key, project.id))
            for row in cursor.fetchall():
                record = self.store.load_state(cursor, generation, "project", row["project_id"])
                if record is not None:
                    members.append(from_record(ProjectState, record))
        return [(p, e) for p in members for e in p.entries if e["kind"] == "expenditure" and group_key(e) == key]


class _MemoAnswers:
    """The memo reads of the last few (views position, question) pairs of each view store, in this process: memos
    are a pure function of the object versions (which move only with the position), the date and the rule
    parameters, all in the key. Read-only for their readers: a reader copies what it changes."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._answers: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[Any, ...], list[Memo]]] = (
            weakref.WeakKeyDictionary())

    def get(self, store: Any, key: tuple[Any, ...]) -> list[Memo] | None:
        with self._lock:
            answers = self._answers.get(store)
            if answers is None or key not in answers:
                return None
            answers.move_to_end(key)
            return answers[key]

    def put(self, store: Any, key: tuple[Any, ...], answer: list[Memo]) -> None:
        with self._lock:
            answers = self._answers.setdefault(store, OrderedDict())
            answers[key] = answer
            while len(answers) > self._size:
                answers.popitem(last=False)


MEMO_ANSWERS = _MemoAnswers()


class ProgressQueries:
    """Progress, time-based findings and coverage on an evaluation date, computed from the projection's state."""

    def __init__(self, audit: AuditQueries, *, one_answer: bool = False) -> None:
        """``one_answer``: the calls on this object make up one answer (a region's findings and its progress
        summary), so the memos it reads are read once and reused by the later calls; otherwise each call reads
        them afresh."""
        self.audit = audit
        self.store = audit.store
        self.engine = audit.engine
        self._read: dict[tuple[Any, ...], tuple[bool, list[Memo]]] | None = {} if one_answer else None

    def _states(self, cursor: Cursor, kind: str, region_prefix: str, project: str | None = None) -> list[Any]:
        generation = self.store.seen_generation(cursor)
        state, table = self.store.table("state", generation), self.store.table(
            "projects" if kind == "project" else "funds", generation)
        key, region_column = ("project_id", "township_code") if kind == "project" else ("fund_id", "region_code")
        sql = (f"SELECT s.id, s.body FROM {state} s JOIN {table} t ON s.id = t.{key} WHERE s.kind = ? "
               f"AND t.{region_column} LIKE ?")
        params: list[Any] = [kind, region_prefix + "%"]
        if project:
            sql += f" AND t.{key} = ?"
            params.append(project)
        cursor.execute(sql + f" ORDER BY t.{key}", params)
        cls = ProjectState if kind == "project" else FundState
        records = self.store.states_of_rows(cursor, generation, kind, cursor.fetchall())
        return [from_record(cls, record) for record in records.values()]

    def _scope_prefix(self, scope: str, region: str | None) -> str:
        return _prefix(region) if region else _prefix(scope)

    def progress(self, *, on: date, scope: str = "", region: str | None = None,
                 project: str | None = None) -> list[dict[str, Any]]:
        """Each project's progress on ``on`` (months included when one project is asked for)."""
        with self.store.db.transaction(write=False) as cursor:
            projects = self._states(cursor, "project", self._scope_prefix(scope, region), project)
        rows = []
        for state in projects:
            if not state.township_code.startswith(_prefix(scope)):
                continue
            row = project_progress(state, on)
            if project is None:
                row.pop("months")
            rows.append(row)
        return rows

    def lag_findings(self, *, on: date, scope: str = "", region: str | None = None, project: str | None = None,
                     rules: set[str] | None = None) -> list[dict[str, Any]]:
        """The findings judged on the evaluation date ``on`` in the scope, each with ``evaluated_on`` and the day it
        was first seen: the LAG findings of projects and funds, and the procurement deadlines (PRC-08 a contract
        not signed, PRC-09 a result not published, when their time has run out). ``rules`` holds codes or
        families; None asks for all. Each object's answer is memoised per date (projections/lag_memo.py)."""
        prefix, within = self._scope_prefix(scope, region), _prefix(scope)
        lag_rules = None if rules is None else {r for r in rules if r.startswith("LAG")}
        lags = lag_rules is None or bool(lag_rules)
        if lag_rules is not None and "LAG" in lag_rules:
            lag_rules = None
        prc = any(wanted(code, rules) for code in DATED_RULES)
        # A read of some rules only judges just those where nothing is memoised (and stores nothing): judging every
        # rule, first days included, would cost more than the read asked for.
        only = None if rules is None else Only(lags, lag_rules, prc, rules)
        projects = self._memos("project", on, prefix, project, only) if lags or prc else []
        funds = [] if project or not lags else self._memos("fund", on, prefix, only=only)
        found: list[dict[str, Any]] = []
        deadlines: list[tuple[str, dict[str, Any]]] = []
        for memo, body in findings_of(projects):
            if lags and memo.region.startswith(prefix) and memo.region.startswith(within):
                found += [dict(f) for f in body["lags"] if lag_rules is None or f["rule"] in lag_rules]
            if prc:
                deadlines += [(d["procurement_id"], dict(d["finding"])) for d in body["deadlines"]
                              if d["region"].startswith(within) and wanted(d["finding"]["rule"], rules)]
        for memo, body in findings_of(funds):
            if memo.region.startswith(within):
                found += [dict(f) for f in body["lags"] if lag_rules is None or f["rule"] in lag_rules]
        deadlines.sort(key=lambda d: d[0])  # by process, as the processes were read; stable within one
        return found + [f for _, f in deadlines]

    def progress_summary(self, *, on: date, scope: str = "", region: str | None = None) -> dict[str, int]:
        """How many projects the scope holds and how many of them spend behind time progress on ``on`` (the
        counts of ``progress``, from the memos)."""
        within = _prefix(scope)
        projects = [m for m in self._memos("project", on, self._scope_prefix(scope, region), bodies=False)
                    if m.region.startswith(within)]
        return {"projects": len(projects), "behind_time_progress": sum(1 for m in projects if m.behind)}

    def _memos(self, kind: str, on: date, prefix: str, ident: str | None = None,
               only: Only | None = None, bodies: bool = True) -> list[Memo]:
        """Every object's memo for ``on``, ordered by id; missing or stale ones are judged (in the snapshot their
        versions were read in) and stored for the next read."""
        if self._read is None:
            return self._read_memos(kind, on, prefix, ident, only, bodies)
        key = (kind, on, prefix, ident, None if only is None else repr(only))
        seen = self._read.get(key)
        if seen is not None and (seen[0] or not bodies):  # read with bodies serves a read without
            return seen[1]
        found = self._read_memos(kind, on, prefix, ident, only, bodies)
        self._read[key] = (bodies, found)
        return found

    def _read_memos(self, kind: str, on: date, prefix: str, ident: str | None, only: Only | None,
                    bodies: bool) -> list[Memo]:
        memos = LagMemos(self.store, self.engine)
        with self.store.db.transaction(write=False) as cursor:
            generation = self.store.seen_generation(cursor)
            # What the memos of a date say changes only when the views move on (a batch changes the versions they
            # are judged at, and its position with them) or the rule parameters do: an answer read at the views'
            # position is answered again from this process's memory until then. The position is read first, so an
            # answer is never older than the position it is kept under.
            key = (generation, self.store.position(cursor, generation), memos.fingerprint, kind, on, prefix, ident,
                   None if only is None else repr(only), bodies)
            answered = MEMO_ANSWERS.get(self.store, key)
            if answered is not None:
                return answered
            current, missing = memos.memos(cursor, generation, kind, on, prefix, ident, bodies)
            judged = memos.judge(cursor, generation, on, missing, only=only)
        if judged and only is None:
            try:
                with self.store.db.transaction() as cursor:
                    memos.save(cursor, generation, on, judged)
            except Exception:  # a read answers even where the views cannot be written (the memo is a cache)
                log.warning("could not store %d judged %s memos for %s", len(judged), kind, on, exc_info=True)
        answer = sorted([*current, *judged], key=lambda m: m.id)
        MEMO_ANSWERS.put(self.store, key, answer)
        return answer

    def coverage(self, code: str, on: date, rule: CountingRule | None = None) -> dict[str, Any]:
        """Township units of a region with a station project operating on ``on``, against the region's target."""
        division = get_division(code)
        with self.store.db.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT township_code, project_id, status FROM {self.audit._t(cursor, 'projects')} "
                "WHERE township_code LIKE ? AND period_start <= ? AND period_end >= ?",
                (_prefix(division.code) + "%", on.isoformat(), on.isoformat()))
            rows = cursor.fetchall()
        # A project closed since ``on`` was still operating then (the row holds today's status); the memos of
        # ``on`` say when each was closed.
        closed = {m.id: m.closed_on for m in self._memos("project", on, _prefix(division.code), bodies=False)} \
            if any(row["status"] == "closed" for row in rows) else {}
        running = [row for row in rows if row["status"] != "closed"
                   or (closed.get(row["project_id"]) is not None and closed[row["project_id"]] > on)]
        operating = {row["township_code"] for row in running}
        targets = targets_from(self.engine.parameters.document)
        figure = coverage(division.code, operating, on, rule, targets)
        finding = coverage_finding(figure)
        figure["finding"] = None if finding is None else {**finding.as_record(), "status": "open"}
        figure["children"] = [
            {k: v for k, v in coverage(child.code, operating, on, rule, targets).items() if k != "target"}
            for child in children(division.code) if child.level != "township"
        ]
        figure["service_points"] = self._service_points(division.code, on, [row["project_id"] for row in running])
        return figure

    def _service_points(self, code: str, on: date, projects: list[str]) -> dict[str, Any] | None:
        """The village/community service points the region's operating projects report, against its service-point
        plan (projections/coverage.py); None when no plan names the region (nothing is read then)."""
        targets = service_point_targets_from(self.engine.parameters.document)
        if not any(t.region == code for t in targets):
            return None
        outputs: list[dict[str, Any]] = []
        with self.store.db.transaction(write=False) as cursor:
            state = self.audit._t(cursor, "state")
            for i in range(0, len(projects), 500):
                batch = projects[i:i + 500]
                cursor.execute(f"SELECT body FROM {state} WHERE kind = ? AND id IN ({', '.join('?' for _ in batch)})",
                               ["project", *batch])
                outputs += [decode(row["body"]).get("outputs", {}) for row in cursor.fetchall()]
        return service_points(code, on, reported_service_points(outputs, on), targets)
