"""/audit and /checks: findings with evidence, auditors' decisions, region roll-ups, project ledgers, dry runs."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Response, g, request

from api.auth import actor, check_read_scope, requires
from api.extension import extension, ledger
from api.fields import jsonable
from api.problems import Problem
from api.resources import READ_PROBLEMS, WRITE_PROBLEMS, Blueprint, problems
from api.schemas.audit import (
    CheckOut,
    CoverageOut,
    CoverageQuery,
    DecisionIn,
    DecisionWritten,
    ExpenditureCheckIn,
    FindingDetail,
    FindingPage,
    FindingsQuery,
    ProgressPage,
    ProgressQuery,
    ProjectionStatusOut,
    ProjectLedgerOut,
    ReadQuery,
    RegionOut,
    RegionQuery,
)
from api.writes import posting, written
from ledger.errors import NotFoundError
from projections.export import (
    COVERAGE_COLUMNS,
    FINDING_COLUMNS,
    PROGRESS_COLUMNS,
    ROLLUP_COLUMNS,
    to_csv,
    to_xlsx,
)
from projections.queries import AuditQueries, ProgressQueries
from projections.replay import replay

blp = Blueprint("audit", __name__, url_prefix="/api/v1",
                description="Audit views (审计): findings with evidence, decisions, roll-ups, dry runs")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # business dates are Beijing time
# The CSV and Excel exports of a read (``format=csv|xlsx`` or ``Accept``), documented beside its JSON answer.
EXPORTS = blp.doc(responses={200: {"content": {
    "text/csv": {"schema": {"type": "string", "description": "UTF-8 with a byte-order mark"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}}})


def _views_for(query: dict[str, Any]) -> tuple[AuditQueries, int]:
    """The views a read asks for: replayed as of a recorded instant, or the live ones (with ``min_position``)."""
    if query.get("as_of") is not None:
        return replay(ledger(), as_of=query["as_of"], engine=extension().read_side.engine)
    return _views(query.get("min_position")), _position()


def _views(min_position: int | None) -> AuditQueries:
    """The live views, once they have applied ``min_position`` (503 with Retry-After if they lag too long)."""
    if not extension().views_at_least(min_position):
        raise Problem(503, f"The audit views have not yet reached position {min_position}; try again shortly.",
                      code="views_behind", headers={"Retry-After": "1"})
    return extension().read_side.queries


def _position() -> int:
    return extension().read_side.worker.position()


def _export_format(query: dict[str, Any]) -> str:
    if query.get("format"):
        return str(query["format"])
    accepted = request.accept_mimetypes
    best = accepted.best_match(["application/json", "text/csv", XLSX], default="application/json")
    return {"text/csv": "csv", XLSX: "xlsx"}.get(best or "", "json")


def _exported(rows: list[dict[str, Any]], columns: Any, fmt: str, name: str) -> Response:
    if fmt == "csv":
        return Response(to_csv(rows, columns), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(to_xlsx(rows, columns, name), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


def _encode(order: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(f"f:{order[0]}|{order[1]}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        text = ""
    day, _, finding_id = text[2:].partition("|")
    if not text.startswith("f:") or len(text) > 100 or not finding_id:
        raise Problem(400, "The cursor is not one this list gave out.", code="invalid_cursor",
                      errors={"cursor": ["Not a cursor of this list."]})
    return day, finding_id


def _in_scope(code: str) -> None:
    actor().check_scope(code)


def _lags_wanted(query: dict[str, Any]) -> bool:
    """Whether the findings judged on the evaluation date (LAG, and the PRC deadlines) are asked for."""
    rule = query.get("rule")
    return (rule is None or rule.startswith(("LAG", "PRC"))) and query.get("status") in (None, "open")


def _today() -> date:
    return datetime.now(SHANGHAI).date()


@blp.route("/audit/findings")
@EXPORTS
@requires("auditor", "officer")
@blp.arguments(FindingsQuery, location="query")
@blp.response(200, FindingPage)
@problems(blp, 400, *READ_PROBLEMS, 503)
def list_findings(query: dict[str, Any]) -> Any:
    """Findings in the caller's scope: filters region, rule (a code such as `PRC-04`, or a family such as `PRC`),
    severity, status, project; `on` (evaluation date of the time-based LAG rules and the PRC deadlines, default
    today) and `as_of` (replayed)"""
    if query.get("region"):
        _in_scope(query["region"])
    views, position = _views_for(query)
    scope, project = g.principal.scope, str(query["project"]) if query.get("project") else None
    after = _decode(query["cursor"]) if query.get("cursor") else None
    limit = query["limit"]
    # The stored findings come ordered and limited from the database (one more than a page, to tell whether more
    # follow); the date-judged ones are merged in, and the page is the first ``limit`` of both.
    rows = views.list_findings(scope=scope, region=query.get("region"), rule=query.get("rule"),
                               severity=query.get("severity"), status=query.get("status"), project=project,
                               on=query.get("on"), after_order=after, limit=limit + 1)
    if _lags_wanted(query):
        lags = ProgressQueries(views).lag_findings(on=query.get("on") or _today(), scope=scope,
                                                   region=query.get("region"), project=project,
                                                   rules={query["rule"]} if query.get("rule") else None)
        rows += [f for f in lags if query.get("severity") in (None, f["severity"])
                 and (after is None or _order(f) > after)]
    rows.sort(key=_order)
    fmt = _export_format(query)
    if fmt != "json":
        return _exported(rows[:limit], FINDING_COLUMNS, fmt, "findings")
    page = rows[:limit]
    return {"items": page, "has_more": len(rows) > limit, "views_position": position,
            "next_cursor": _encode(_order(page[-1])) if page else query.get("cursor")}


def _order(row: dict[str, Any]) -> tuple[str, str]:
    return (str(row["effective_on"]), str(row["finding_id"]))


def _finding_in_scope(finding_id: str) -> dict[str, Any]:
    finding = _views(None).get_finding(finding_id)
    if finding is None:
        raise NotFoundError(f"no finding {finding_id}")
    _in_scope(finding["region_code"])
    return finding


def evidence_events(finding: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored events a finding cites as its evidence, as the API shows events (read from the event store)."""
    from ledger.views import event_view

    events = []
    for ref in finding.get("evidence") or []:
        aggregate, _, version = str(ref.get("event_id", "")).partition(":")
        try:
            aggregate_id, number = UUID(aggregate), int(version)
        except ValueError:
            continue
        for event in ledger().events.get(aggregate_id, gt=number - 1, lte=number):
            events.append(jsonable(event_view(event, ref.get("position"))))
    return events


@blp.route("/audit/findings/<string:finding_id>")
@requires("auditor", "officer")
@blp.arguments(ReadQuery, location="query")
@blp.response(200, FindingDetail)
@problems(blp, *READ_PROBLEMS, 503)
def get_finding(query: dict[str, Any], finding_id: str) -> Any:
    """One finding with its evidence events in full and its decision history"""
    views, _ = _views_for(query)
    finding = views.get_finding(finding_id)
    if finding is None:
        raise NotFoundError(f"no finding {finding_id}")
    _in_scope(finding["region_code"])
    return {**finding, "evidence_events": evidence_events(finding)}


@blp.route("/audit/findings/<string:finding_id>/decisions", methods=["POST"])
@requires("auditor")
@posting(versioned=False)
@blp.arguments(DecisionIn)
@blp.response(201, DecisionWritten)
@problems(blp, *WRITE_PROBLEMS)
def decide(data: dict[str, Any], finding_id: str) -> Any:
    """Record an auditor's decision: acknowledge, start rectification, mark rectified, or dismiss (with a note)"""
    finding = _finding_in_scope(finding_id)
    result = ledger().decide_finding(actor(), finding_id, region_code=finding["region_code"],
                                     idempotency=g.idempotency, **data)
    return written(result)


@blp.route("/audit/regions/<string:code>")
@EXPORTS
@requires("auditor", "officer")
@blp.arguments(RegionQuery, location="query")
@blp.response(200, RegionOut)
@problems(blp, *READ_PROBLEMS, 503)
def region(query: dict[str, Any], code: str) -> Any:
    """Roll-up for a province, city, county or township: money, projects, findings, progress and coverage on a
    date, and each child division"""
    from ledger.regions import get_division

    division = get_division(code)
    _in_scope(division.code)
    views, position = _views_for(query)
    on = query.get("on") or _today()
    rollup = (views.on_date(query["on"]) if query.get("on") else views).region_rollup(division.code)
    fmt = _export_format(query)
    if fmt != "json":
        return _exported([rollup, *rollup["children"]], ROLLUP_COLUMNS, fmt, f"region-{division.code}")
    progress = ProgressQueries(views, one_answer=True)
    lags = progress.lag_findings(on=on, region=division.code)
    counts: dict[tuple[str, str], int] = {}
    for lag in lags:
        counts[(lag["rule"], lag["severity"])] = counts.get((lag["rule"], lag["severity"]), 0) + 1
    summary = {
        "on": on, **progress.progress_summary(on=on, region=division.code),
        "lag_findings": [{"rule": r, "severity": sev, "count": n} for (r, sev), n in sorted(counts.items())],
    }
    coverage = progress.coverage(division.code, on) if division.level != "township" else None
    return {**rollup, "progress": summary, "coverage": coverage, "views_position": position}


@blp.route("/audit/progress")
@EXPORTS
@requires("auditor", "officer")
@blp.arguments(ProgressQuery, location="query")
@blp.response(200, ProgressPage)
@problems(blp, *READ_PROBLEMS, 503)
def progress(query: dict[str, Any]) -> Any:
    """Per project on a date: budget, received, disbursed, spent, 序时进度 and 支出进度, evaluations; with `project`,
    month by month against the monthly plan and output targets"""
    if query.get("region"):
        _in_scope(query["region"])
    if query.get("project"):
        check_read_scope(query["project"], "project")
    views, position = _views_for(query)
    on = query.get("on") or _today()
    items = ProgressQueries(views).progress(on=on, scope=g.principal.scope, region=query.get("region"),
                                            project=str(query["project"]) if query.get("project") else None)
    fmt = _export_format(query)
    if fmt != "json":
        return _exported(items, PROGRESS_COLUMNS, fmt, "progress")
    return {"on": on, "items": items, "views_position": position}


@blp.route("/audit/coverage")
@EXPORTS
@requires("auditor", "officer")
@blp.arguments(CoverageQuery, location="query")
@blp.response(200, CoverageOut)
@problems(blp, *READ_PROBLEMS, 503)
def coverage(query: dict[str, Any]) -> Any:
    """覆盖率: township units with an operating station against the region's target (LAG-10 when behind), for the
    region and each of its child divisions; the figure states which codes it counts"""
    from ledger.regions import get_division, normalise_scope
    from projections.coverage import CountingRule

    scope = normalise_scope(g.principal.scope)
    code = query.get("region") or (scope.ljust(6, "0") if scope and len(scope) <= 6 else scope)
    if not code:
        raise Problem(422, "Give a region: a nationwide caller must name the province, city or county.",
                      code="validation_error", errors={"query.region": ["Required for a nationwide scope."]})
    division = get_division(code)
    if division.level == "township":
        raise Problem(422, "Coverage is counted for a province, city or county.", code="validation_error",
                      errors={"query.region": ["Not a township."]})
    _in_scope(division.code)
    views, position = _views_for(query)
    rule = CountingRule(query["include_functional_zones"], query["include_enterprise_units"])
    figure = ProgressQueries(views).coverage(division.code, query.get("on") or _today(), rule)
    fmt = _export_format(query)
    if fmt != "json":
        return _exported([figure, *figure["children"]], COVERAGE_COLUMNS, fmt, f"coverage-{division.code}")
    return {**figure, "views_position": position}


@blp.route("/audit/projects/<uuid:project_id>")
@requires("auditor", "officer")
@blp.arguments(RegionQuery, location="query")
@blp.response(200, ProjectLedgerOut)
@problems(blp, *READ_PROBLEMS, 503)
def project_ledger(query: dict[str, Any], project_id: UUID) -> Any:
    """A project's ledger by budget line: budget, revisions, approved, spent, reversed"""
    check_read_scope(project_id, "project")
    views, position = _views_for(query)
    found = (views.on_date(query["on"]) if query.get("on") else views).project_ledger(str(project_id))
    if found is None:
        raise NotFoundError(f"project {project_id} is not in the audit views at that point")
    return {**found, "views_position": position}


@blp.route("/checks/expenditures", methods=["POST"])
@requires("officer")
@posting(versioned=False)
@blp.arguments(ExpenditureCheckIn)
@blp.response(200, CheckOut)
@problems(blp, *WRITE_PROBLEMS, 503)
def check_expenditure(data: dict[str, Any]) -> Any:
    """Dry run: the findings an expenditure would raise, without posting it (nothing is written)"""
    project_id = data.pop("project_id")
    check_read_scope(project_id, "project")
    actor().check_scope(ledger().region_of(project_id))
    found = _views(None).check_expenditure(str(project_id), data)
    if found is None:
        raise NotFoundError(f"project {project_id} is not in the audit views yet")
    return {"project_id": project_id, "posted": False,
            "findings": [{**f.as_record(), "status": "open"} for f in found]}


@blp.route("/audit/projections")
@requires("auditor", "admin")
@blp.response(200, ProjectionStatusOut)
@problems(blp, *READ_PROBLEMS)
def projection_status() -> Any:
    """Where the audit views stand: position, log head, lag in events and seconds"""
    return extension().read_side.worker.status().as_dict()
