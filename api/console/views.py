"""Routes of the console. Each view checks the caller's scope as the API does, reads the audit views, renders."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from api.auth import actor, check_read_scope
from api.console.chart import progress_chart
from api.console.session import init_session
from api.extension import extension, ledger
from api.resources.audit import evidence_events
from api.security import check_token_rate
from ledger.errors import LedgerError, NotFoundError, OutOfScopeError, ValidationError
from ledger.finding_case import DECISIONS
from ledger.regions import ancestors, get_division, normalise_scope
from ledger.vocabulary import CATEGORIES
from projections.export import FINDING_COLUMNS, PROGRESS_COLUMNS, ROLLUP_COLUMNS, to_csv, to_xlsx
from projections.queries import AuditQueries, ProgressQueries

F = TypeVar("F", bound=Callable[..., Any])

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static", static_url_path="/static")

SHANGHAI = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROLES = ("auditor", "officer")
FAMILIES = {"EAR": "专款专用", "LAG": "进度滞后", "PRF": "绩效与采购"}
SEVERITIES = ("S1", "S2", "S3", "S4")
LEVELS = {"province": "省", "city": "市", "county": "县(区)", "township": "乡镇(街道)"}
STATUSES = {"open": "未处理", "acknowledged": "已确认", "rectifying": "整改中", "rectified": "已整改",
            "dismissed": "不予认定", "retracted": "已撤回"}
DECISION_NAMES = {"acknowledge": "确认问题", "start_rectification": "开始整改", "mark_rectified": "整改完成",
                  "dismiss": "不予认定(须说明理由)"}
ROLE_NAMES = {"auditor": "审计人员", "officer": "财务人员", "admin": "管理员"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
PUBLIC = {"console.sign_in", "console.static"}
PROJECT_STATUSES = {"active": "实施中", "suspended": "暂停", "closed": "已结项"}


@blp.record_once
def _setup(state: BlueprintSetupState) -> None:
    init_session(state.app)
    env = state.app.jinja_env
    env.filters.update(yuan=_yuan, percent=_percent, category=lambda code: CATEGORIES.get(code, code),
                       project_status=lambda code: PROJECT_STATUSES.get(code, code))
    env.globals.update(FAMILIES=FAMILIES, LEVELS=LEVELS, STATUSES=STATUSES, DECISION_NAMES=DECISION_NAMES,
                       ROLE_NAMES=ROLE_NAMES, SEVERITIES=SEVERITIES)


def _yuan(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):,.2f}"


def _percent(value: Any) -> str:
    if value is None:
        return "—"
    return f"{Decimal(str(value)) * 100:.1f}%"


# -- sign-in, CSRF, headers, errors ------------------------------------------------------------------------------


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _check_csrf() -> None:
    sent, kept = request.form.get("csrf_token", ""), session.get("csrf", "")
    if not kept or not hmac.compare_digest(str(sent), str(kept)):
        abort(400, description="表单已过期或来源不明(CSRF 校验失败),请刷新页面后重试。")


@blp.app_context_processor
def _context() -> dict[str, Any]:
    return {"csrf_token": _csrf_token if request.blueprint == "console" else (lambda: ""),
            "principal": g.get("principal")}


@blp.before_request
def _signed_in() -> Response | None:
    """Every page but the sign-in form needs a live token in the session; the token is checked on each request."""
    if request.endpoint in PUBLIC:
        return None
    secret = session.get("token")
    grant = extension().grant_for(secret) if secret else None
    if grant is None or grant.role not in ROLES:
        session.pop("token", None)
        if secret:
            flash("令牌已失效或已被吊销,请重新登录。")
        return redirect(url_for("console.sign_in", next=request.full_path if request.method == "GET" else None))
    g.principal = grant
    check_token_rate()
    if request.method == "POST":
        _check_csrf()
    return None


@blp.after_request
def _security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


@blp.errorhandler(LedgerError)
def _ledger_error(error: LedgerError) -> tuple[str, int]:
    status = 403 if isinstance(error, OutOfScopeError) else 404 if isinstance(error, NotFoundError) else \
        422 if isinstance(error, ValidationError) else 409
    titles = {403: "无权查看", 404: "未找到", 409: "无法执行", 422: "输入有误"}
    return render_template("console/error.html", status=status, title=titles[status], detail=str(error)), status


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    titles = {400: "请求无效", 403: "无权操作", 404: "未找到", 405: "方法不允许"}
    detail = error.description if status in (400, 403) else ""
    return render_template("console/error.html", status=status, title=titles.get(status, "出错了"),
                           detail=detail), status


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site (open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target.rstrip("?")
    return url_for("console.overview")


@blp.route("/login", methods=["GET", "POST"])
def sign_in() -> Any:
    """The sign-in form: a token from `ledger tokens create` (or `scripts/demo`)."""
    error, status = None, 200
    if request.method == "POST":
        _check_csrf()
        secret = request.form.get("token", "").strip()
        grant = extension().grant_for(secret) if secret else None
        if grant is None:
            error, status = "令牌无效或已被吊销。", 401
        elif grant.role not in ROLES:
            error, status = f"{ROLE_NAMES.get(grant.role, grant.role)}令牌不能使用审计控制台。", 403
        else:
            session.clear()  # a fresh session (and CSRF token) for the signed-in user
            session["token"] = secret
            return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login.html", error=error, next=request.args.get("next")), status


@blp.route("/logout", methods=["POST"])
def sign_out() -> Response:
    session.clear()
    flash("已退出登录。")
    return redirect(url_for("console.sign_in"))


# -- helpers -----------------------------------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(SHANGHAI).date()


def _on() -> date:
    """The evaluation date of the time-based figures: ?on=YYYY-MM-DD, default today (Beijing time)."""
    given = request.args.get("on", "")
    if not given:
        return _today()
    try:
        return date.fromisoformat(given)
    except ValueError:
        abort(400, description="评价日期应为 YYYY-MM-DD。")


def _views() -> AuditQueries:
    extension().views_at_least(None)
    return extension().read_side.queries


def _scope() -> str:
    return str(g.principal.scope)


def _root_code() -> str | None:
    """The division the caller's scope is (None for nationwide)."""
    scope = normalise_scope(_scope())
    return scope.ljust(6, "0") if scope and len(scope) <= 6 else (scope or None)


def _family(rule: str) -> str:
    return rule.split("-", 1)[0]


def _findings(views: AuditQueries, on: date, *, region: str | None = None, project: str | None = None,
              status: str | None = None) -> list[dict[str, Any]]:
    """Recorded findings (EAR, PRF, ...) and the time-based LAG findings on ``on``, in the caller's scope."""
    rows = views.list_findings(scope=_scope(), region=region, project=project, status=status, limit=10**9)
    if status in (None, "open"):
        rows += ProgressQueries(views).lag_findings(on=on, scope=_scope(), region=region, project=project)
    rows.sort(key=lambda r: (str(r["effective_on"]), str(r["finding_id"])))
    return rows


def _breadcrumbs(code: str) -> list[dict[str, str]]:
    root = normalise_scope(_scope())
    chain = [*reversed(ancestors(code)), code]
    return [{"code": c, "name": get_division(c).name, "link": c.startswith(root) or not root} for c in chain]


def _exported(rows: list[dict[str, Any]], columns: Any, fmt: str, name: str) -> Response:
    if fmt == "csv":
        return Response(to_csv(rows, columns), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if fmt == "xlsx":
        return Response(to_xlsx(rows, columns, name), mimetype=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    abort(404)


def _in_scope(code: str) -> None:
    actor().check_scope(code)


def auditors_only(view: F) -> F:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if g.principal.role != "auditor":
            abort(403, description="只有审计人员可以记录审计结论。")
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]


# -- pages -------------------------------------------------------------------------------------------------------


@blp.route("/")
def overview() -> str:
    """Open findings by severity and rule family in the caller's scope; where to start drilling down."""
    on = _on()
    views = _views()
    findings = _findings(views, on, status="open")
    table = {family: dict.fromkeys(SEVERITIES, 0) for family in FAMILIES}
    for f in findings:
        row = table.setdefault(_family(f["rule"]), dict.fromkeys(SEVERITIES, 0))
        row[f["severity"]] = row.get(f["severity"], 0) + 1
    root = _root_code()
    if root is None:  # nationwide: each province with money or findings
        codes = {r["region_code"][:2] + "0000" for r in views.fund_balances()}
        codes |= {f["region_code"][:2] + "0000" for f in findings}
        regions = [get_division(c) for c in sorted(codes)]
    else:
        regions = [get_division(root)]
    return render_template("console/overview.html", on=on, table=table, findings=findings, regions=regions,
                           total=len(findings))


@blp.route("/regions/<code>")
def region(code: str) -> str:
    """Roll-up of a division and each child with money or findings; coverage; a township's projects."""
    division = get_division(code)
    _in_scope(division.code)
    on = _on()
    views = _views()
    rollup = views.region_rollup(division.code)
    progress = ProgressQueries(views)
    coverage = progress.coverage(division.code, on) if division.level != "township" else None
    projects = progress.progress(on=on, scope=_scope(), region=division.code) \
        if division.level in ("county", "township") else []
    open_counts = {}
    for f in _findings(views, on, region=division.code, status="open"):
        open_counts[f["rule"]] = open_counts.get(f["rule"], 0) + 1
    return render_template("console/region.html", division=division, rollup=rollup, coverage=coverage,
                           projects=projects, on=on, breadcrumbs=_breadcrumbs(division.code),
                           open_counts=sorted(open_counts.items()))


@blp.route("/projects/<uuid:project_id>")
def project(project_id: UUID) -> str:
    """A project's ledger by budget line, its findings with evidence, and its progress chart."""
    region_code = check_read_scope(project_id, "project")
    on = _on()
    views = _views()
    found = views.project_ledger(str(project_id))
    rows = ProgressQueries(views).progress(on=on, scope=_scope(), project=str(project_id))
    if found is None or not rows:
        raise NotFoundError(f"项目 {project_id} 尚未进入审计视图")
    progress = rows[0]
    findings = _findings(views, on, project=str(project_id))
    for f in findings:
        f["evidence_events"] = evidence_events(f)
    return render_template("console/project.html", project=found, progress=progress, findings=findings,
                           chart=progress_chart(progress), on=on, breadcrumbs=_breadcrumbs(region_code))


def _finding_in_scope(views: AuditQueries, finding_id: str) -> dict[str, Any]:
    finding = views.get_finding(finding_id)
    if finding is None:
        raise NotFoundError(f"没有编号为 {finding_id} 的问题(进度类问题按评价日期计算,不单独记录)")
    _in_scope(finding["region_code"])
    return finding


@blp.route("/findings/<finding_id>")
def finding(finding_id: str) -> str:
    """A finding with its evidence events and decision history; auditors get the decision form."""
    finding = _finding_in_scope(_views(), finding_id)
    return render_template("console/finding.html", finding=finding, evidence=evidence_events(finding),
                           decisions=DECISIONS, today=_today(), breadcrumbs=_breadcrumbs(finding["region_code"]),
                           error=None)


@blp.route("/findings/<finding_id>/decisions", methods=["POST"])
@auditors_only
def decide(finding_id: str) -> Any:
    """Records the decision, waits until the views show it (read-your-writes), then shows the finding again."""
    finding = _finding_in_scope(_views(), finding_id)
    form = request.form
    try:
        effective_on = date.fromisoformat(form.get("effective_on", "") or _today().isoformat())
    except ValueError:
        effective_on = None
    try:
        if effective_on is None:
            raise ValidationError("生效日期应为 YYYY-MM-DD。")
        result = ledger().decide_finding(actor(), finding_id, region_code=finding["region_code"],
                                         decision=form.get("decision", ""), effective_on=effective_on,
                                         note=form.get("note") or None)
    except LedgerError as error:
        if isinstance(error, OutOfScopeError):
            raise
        return render_template("console/finding.html", finding=finding, evidence=evidence_events(finding),
                               decisions=DECISIONS, today=_today(), error=str(error),
                               breadcrumbs=_breadcrumbs(finding["region_code"])), 422
    if extension().views_at_least(result.get("position")):
        flash(f"已记录:{DECISION_NAMES.get(form.get('decision', ''), '')}。")
    else:
        flash("结论已记录,审计视图稍后更新。")
    return redirect(url_for("console.finding", finding_id=finding_id), code=303)


# -- exports -----------------------------------------------------------------------------------------------------


@blp.route("/export/findings.<fmt>")
def export_findings(fmt: str) -> Response:
    """The open findings in the caller's scope (or ?region=), CSV or Excel."""
    region_code = request.args.get("region") or None
    if region_code:
        _in_scope(get_division(region_code).code)
    rows = _findings(_views(), _on(), region=region_code, status="open")
    return _exported(rows, FINDING_COLUMNS, fmt, "findings")


@blp.route("/export/regions/<code>.<fmt>")
def export_region(code: str, fmt: str) -> Response:
    division = get_division(code)
    _in_scope(division.code)
    rollup = _views().region_rollup(division.code)
    return _exported([rollup, *rollup["children"]], ROLLUP_COLUMNS, fmt, f"region-{division.code}")


@blp.route("/export/progress/<code>.<fmt>")
def export_progress(code: str, fmt: str) -> Response:
    division = get_division(code)
    _in_scope(division.code)
    rows = ProgressQueries(_views()).progress(on=_on(), scope=_scope(), region=division.code)
    return _exported(rows, PROGRESS_COLUMNS, fmt, f"progress-{division.code}")
