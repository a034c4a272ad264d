"""The findings judged on an evaluation date (LAG of projects and funds, PRC deadlines), memoised per object and date.

Judging them means folding each object's state as it stood on the date, and walking back day by day for the day a
finding was first seen: too slow to do for every project of a province on every read. So the answer for one
object on one date is kept in ``lag_memo`` with the object's *version*, the log position of the last event its
judgement depends on: a project's own events, its procurements' steps and the funds it is paid from (the worker
records the last two in ``lag_version``, the first is the project row's ``position``). A memo whose version is
behind the object's, or computed with other rule parameters, is stale and judged again. The following projection
worker fills in the memos of the current business date (Asia/Shanghai) while idle, and those of the new date when
the date changes; a read for any date judges the missing ones, in the same snapshot as the versions it compares
with, and stores them. A read of some rules only judges just those, and stores nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from projections.engine import RuleEngine, funds_of
from projections.procurement_state import ProcurementState
from projections.procurement_state import from_record as procurement_from_record
from projections.progress import fund_lags, procurement_deadlines, project_lags, project_progress
from projections.state import FundState, ProjectState, from_record
from projections.store import Cursor, ViewStore, as_json, decode, encode

MEMO_FORMAT = "1"  # bump when what a memo holds changes: older memos are then judged again
CHUNK = 500


def fingerprint(engine: RuleEngine) -> str:
    """The rule parameters a memo was judged with (and the memo format): other parameters make it stale."""
    text = as_json({"format": MEMO_FORMAT, "overrides": engine.parameters.overrides,
                    "document": engine.parameters.document})
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Memo:
    kind: str  # project or fund
    id: str
    region: str  # the project's township, the fund's holder
    version: int
    findings: int = 0  # how many findings the body holds (bodies of objects without findings are not decoded)
    behind: bool = False  # a project's spending progress behind its time progress on the date
    closed_on: date | None = None  # the day a project was closed (coverage counts it until then)
    body: dict[str, Any] | None = None
    partial: bool = False  # judged for some rules only: answers one read, never stored

    def decoded(self) -> dict[str, Any]:
        return self.body or {"lags": [], "deadlines": []}


@dataclass(frozen=True)
class Only:
    """A partial judgement, of some rules only (never stored): ``lags`` and ``deadlines`` say whether each part is
    judged at all, the rule sets (None for all) which of its rules."""
    lags: bool = True
    lag_rules: set[str] | None = None
    deadlines: bool = True
    deadline_rules: set[str] | None = None


def judge_project(engine: RuleEngine, project: ProjectState, funds: dict[str, FundState],
                  procurements: Iterable[ProcurementState], on: date,
                  only: Only | None = None) -> tuple[dict[str, Any], bool]:
    """A project's memo body for ``on``: its LAG findings, its procurements' deadline findings (each with the
    process's id and region, for ordering and scope), and whether its spending is behind time."""
    part = only or Only()
    deadlines = [] if not part.deadlines else [
        {"procurement_id": p.id, "region": p.region, "finding": f} for p in sorted(procurements, key=lambda p: p.id)
        for f in procurement_deadlines(engine, p, on, part.deadline_rules)]
    lags = project_lags(engine, project, funds, on, part.lag_rules) if part.lags else []
    if only is not None:
        return {"lags": lags, "deadlines": deadlines}, False
    progress = project_progress(project, on)
    return {"lags": lags, "deadlines": deadlines}, progress["spending_progress"] < progress["time_progress"]


def judge_fund(engine: RuleEngine, fund: FundState, on: date, only: Only | None = None) -> dict[str, Any]:
    part = only or Only()
    judged = part.lags and fund.appropriated_on <= on
    return {"lags": fund_lags(engine, fund, on, part.lag_rules) if judged else [], "deadlines": []}


class LagMemos:
    """Reads, judges and stores the memos of one generation of the views."""

    def __init__(self, store: ViewStore, engine: RuleEngine) -> None:
        self.store = store
        self.engine = engine
        self.fingerprint = fingerprint(engine)

    def _t(self, name: str, generation: int) -> str:
        return self.store.table(name, generation)

    def memos(self, cursor: Cursor, generation: int, kind: str, on: date, prefix: str = "",
              ident: str | None = None, bodies: bool = True) -> tuple[list[Memo], list[Memo]]:
        """The objects of a kind whose region starts with ``prefix`` (or the one ``ident``), ordered by id: those
        with a current memo for ``on`` (its findings decoded when it holds any and ``bodies`` asks for them) and
        those without one."""
        table, key, region = (("projects", "project_id", "township_code") if kind == "project"
                              else ("funds", "fund_id", "region_code"))
        sql = (f"SELECT t.{key} AS id, t.{region} AS region, CASE WHEN v.position > t.position THEN v.position "
               "ELSE t.position END AS version, m.version AS memo_version, m.fingerprint, m.findings, m.behind, "
               f"m.closed_on, {'m.body' if bodies else 'NULL AS body'} FROM {self._t(table, generation)} t "
               f"LEFT JOIN {self._t('lag_version', generation)} v ON v.kind = ? AND v.id = t.{key} "
               f"LEFT JOIN {self._t('lag_memo', generation)} m ON m.on_date = ? AND m.kind = ? AND m.id = t.{key} ")
        params: list[Any] = [kind, on.isoformat(), kind]
        if ident is not None:
            sql += f"WHERE t.{key} = ?"
            params.append(ident)
        else:
            sql += f"WHERE t.{region} LIKE ?"
            params.append(prefix + "%")
        cursor.execute(sql + f" ORDER BY t.{key}", params)
        current, missing = [], []
        for row in cursor.fetchall():
            memo = Memo(kind, row["id"], row["region"], int(row["version"] or 0))
            if row["memo_version"] is not None and int(row["memo_version"]) >= memo.version \
                    and row["fingerprint"] == self.fingerprint:
                memo.findings, memo.behind = int(row["findings"]), bool(row["behind"])
                memo.closed_on = None if row["closed_on"] is None else date.fromisoformat(row["closed_on"])
                if memo.findings and bodies:
                    memo.body = decode(row["body"])
                current.append(memo)
            else:
                missing.append(memo)
        return current, missing

    def judge(self, cursor: Cursor, generation: int, on: date, missing: list[Memo],
              deadline: float | None = None, only: Only | None = None) -> list[Memo]:
        """Judges the missing memos from the stored states (as far as ``deadline``, a ``time.monotonic()``
        instant, allows); returns those judged. With ``only``, judges just those rules: a partial answer, which
        ``save`` refuses."""
        fund_cache: dict[str, FundState | None] = {}

        def fund(fund_id: str) -> FundState | None:
            if fund_id not in fund_cache:
                record = self.store.load_state(cursor, generation, "fund", fund_id)
                fund_cache[fund_id] = None if record is None else from_record(FundState, record)
            return fund_cache[fund_id]

        judged = []
        for chunk in (missing[i:i + CHUNK // 10] for i in range(0, len(missing), CHUNK // 10)):
            kind = chunk[0].kind
            states = self._states(cursor, generation, kind, [m.id for m in chunk])
            procurements = self._procurements(cursor, generation, [m.id for m in chunk]) if kind == "project" else {}
            for memo in chunk:
                if deadline is not None and time.monotonic() >= deadline:
                    return judged
                if kind == "fund":
                    fund_state = fund(memo.id)
                    if fund_state is None:
                        continue
                    body, behind = judge_fund(self.engine, fund_state, on, only), False
                else:
                    record = states.get(memo.id)
                    if record is None:
                        continue
                    project: ProjectState = from_record(ProjectState, record)
                    body, behind = judge_project(self.engine, project, funds_of(project, fund),
                                                 procurements.get(memo.id, []), on, only)
                    memo.closed_on = project.closed_on
                memo.body, memo.behind = body, behind
                memo.findings = len(body["lags"]) + len(body["deadlines"])
                memo.partial = only is not None
                judged.append(memo)
        return judged

    def _states(self, cursor: Cursor, generation: int, kind: str, ids: list[str]) -> dict[str, Any]:
        return self.store.load_states(cursor, generation, kind, ids)

    def _procurements(self, cursor: Cursor, generation: int, project_ids: list[str]) -> dict[str, list[Any]]:
        indexes = self._states(cursor, generation, "project_procurements", project_ids)
        ids = [i for index in indexes.values() for i in index["ids"]]
        found: dict[str, list[Any]] = {}
        for chunk in (ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)):
            for record in self._states(cursor, generation, "procurement", chunk).values():
                state = procurement_from_record(record)
                found.setdefault(state.project_id, []).append(state)
        return found

    def save(self, cursor: Cursor, generation: int, on: date, memos: list[Memo]) -> None:
        """Stores judged memos; a memo of an older version never replaces a newer one."""
        memos = [m for m in memos if not m.partial]
        if not memos:
            return
        table = self._t("lag_memo", generation)
        cursor.executemany(
            f"INSERT INTO {table} (on_date, kind, id, version, fingerprint, findings, behind, closed_on, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (on_date, kind, id) DO UPDATE SET "
            "version = excluded.version, fingerprint = excluded.fingerprint, findings = excluded.findings, "
            "behind = excluded.behind, closed_on = excluded.closed_on, body = excluded.body "
            f"WHERE excluded.version >= {table}.version",
            [(on.isoformat(), m.kind, m.id, m.version, self.fingerprint, m.findings, int(m.behind),
              None if m.closed_on is None else m.closed_on.isoformat(), encode(m.body) if m.findings else "")
             for m in memos])

    def forget(self, cursor: Cursor, generation: int, kind: str, ids: Iterable[str], position: int) -> None:
        """An object's judgement inputs changed at ``position``: its memos of every date are stale."""
        ids = sorted(set(ids))
        if not ids:
            return
        if kind == "project":  # the project row's position does not move with its procurements or funds
            cursor.executemany(
                f"INSERT INTO {self._t('lag_version', generation)} (kind, id, position) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET position = excluded.position", [(kind, i, position) for i in ids])
        for chunk in (ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)):
            marks = ", ".join("?" for _ in chunk)
            cursor.execute(f"DELETE FROM {self._t('lag_memo', generation)} WHERE kind = ? AND id IN ({marks})",
                           [kind, *chunk])

    def fill(self, cursor: Cursor, generation: int, on: date, budget_s: float) -> bool:
        """Judges and stores missing memos of ``on`` for every object, within about ``budget_s`` seconds; True when
        none is left missing."""
        deadline = time.monotonic() + budget_s
        done = True
        for kind in ("project", "fund"):
            _, missing = self.memos(cursor, generation, kind, on)
            judged = self.judge(cursor, generation, on, missing, deadline)
            self.save(cursor, generation, on, judged)
            done = done and len(judged) == len(missing)
        return done


def findings_of(memos: Iterable[Memo]) -> Iterator[tuple[Memo, dict[str, Any]]]:
    for memo in memos:
        if memo.findings:
            yield memo, memo.decoded()
