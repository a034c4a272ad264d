"""/projects: register, open procurements, revise budgets, disburse, spend, reverse, report, evaluate, close."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import g

from api.auth import actor, check_read_scope, requires
from api.extension import ledger
from api.resources import READ_PROBLEMS, WRITE_PROBLEMS, Blueprint, etag, problems
from api.resources.history import history_page
from api.schemas.common import AsOfQuery, EventPage, PageQuery
from api.schemas.procurements import ProcurementWritten
from api.schemas.projects import (
    BudgetRevisionIn,
    DisbursementIn,
    EntryWritten,
    EvaluationIn,
    EvaluationWritten,
    ExpenditureIn,
    OutputsIn,
    OutputsWritten,
    ProcurementIn,
    ProjectClosureIn,
    ProjectOut,
    ProjectWritten,
    RegistrationIn,
    ReversalIn,
    ReversalWritten,
    RevisionWritten,
    StatusWritten,
)
from api.writes import posting, written

blp = Blueprint("projects", __name__, url_prefix="/api/v1/projects",
                description="Projects (项目): registration, money in and out, outputs, evaluations")


@blp.route("", methods=["POST"])
@requires("officer")
@posting(versioned=False)
@blp.arguments(RegistrationIn)
@blp.response(201, ProjectWritten)
@problems(blp, *WRITE_PROBLEMS)
def register(data: dict[str, Any]) -> Any:
    """Register a project: station, provider, period, budget lines, monthly plan, output targets"""
    result = ledger().register_project(actor(), idempotency=g.idempotency, **data)
    return written(result, location=f"/api/v1/projects/{result['project_id']}")


@blp.route("/<uuid:project_id>/procurements", methods=["POST"])
@requires("officer")
@posting(versioned=False)
@blp.arguments(ProcurementIn)
@blp.response(201, ProcurementWritten)
@problems(blp, *WRITE_PROBLEMS)
def open_procurement(data: dict[str, Any], project_id: UUID) -> Any:
    """Open a contracting process (政府购买服务) for the project"""
    result = ledger().open_procurement(actor(), project_id, idempotency=g.idempotency, **data)
    return written(result, location=f"/api/v1/procurements/{result['procurement_id']}")


@blp.route("/<uuid:project_id>/budget-revisions", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(BudgetRevisionIn)
@blp.response(201, RevisionWritten)
@problems(blp, *WRITE_PROBLEMS)
def revise_budget(data: dict[str, Any], project_id: UUID) -> Any:
    """Move money between budget lines (预算调整), with an approval document when there is one"""
    result = ledger().revise_budget(actor(), project_id, expected_version=g.if_match, idempotency=g.idempotency,
                                    **data)
    return written(result)


@blp.route("/<uuid:project_id>/disbursements", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(DisbursementIn)
@blp.response(201, EntryWritten)
@problems(blp, *WRITE_PROBLEMS)
def disburse(data: dict[str, Any], project_id: UUID) -> Any:
    """Pay an installment to the provider (拨付) from money the project received from a named fund"""
    result = ledger().disburse(actor(), project_id, expected_version=g.if_match, idempotency=g.idempotency, **data)
    return written(result)


@blp.route("/<uuid:project_id>/expenditures", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(ExpenditureIn)
@blp.response(201, EntryWritten)
@problems(blp, *WRITE_PROBLEMS)
def record_expenditure(data: dict[str, Any], project_id: UUID) -> Any:
    """Record spending on a budget line (列支); compliance is judged by the audit rules"""
    result = ledger().record_expenditure(actor(), project_id, expected_version=g.if_match,
                                         idempotency=g.idempotency, **data)
    return written(result)


@blp.route("/<uuid:project_id>/reversals", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(ReversalIn)
@blp.response(201, ReversalWritten)
@problems(blp, *WRITE_PROBLEMS)
def reverse(data: dict[str, Any], project_id: UUID) -> Any:
    """Reverse an earlier disbursement or expenditure (冲销) by a new entry"""
    result = ledger().reverse_entry(actor(), project_id, expected_version=g.if_match, idempotency=g.idempotency,
                                    **data)
    return written(result)


@blp.route("/<uuid:project_id>/outputs", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(OutputsIn)
@blp.response(201, OutputsWritten)
@problems(blp, *WRITE_PROBLEMS)
def report_outputs(data: dict[str, Any], project_id: UUID) -> Any:
    """Report a month's output indicators (产出指标)"""
    result = ledger().report_outputs(actor(), project_id, expected_version=g.if_match, idempotency=g.idempotency,
                                     **data)
    return written(result)


@blp.route("/<uuid:project_id>/evaluations", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(EvaluationIn)
@blp.response(201, EvaluationWritten)
@problems(blp, *WRITE_PROBLEMS)
def evaluate(data: dict[str, Any], project_id: UUID) -> Any:
    """Record a self, mid-term or final evaluation (自评 / 中期评估 / 结项评估)"""
    result = ledger().record_evaluation(actor(), project_id, expected_version=g.if_match,
                                        idempotency=g.idempotency, **data)
    return written({**result, "total": str(result["total"])})


@blp.route("/<uuid:project_id>/closure", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(ProjectClosureIn)
@blp.response(201, StatusWritten)
@problems(blp, *WRITE_PROBLEMS)
def close(data: dict[str, Any], project_id: UUID) -> Any:
    """Close the project (结项); it takes no further postings"""
    result = ledger().close_project(actor(), project_id, expected_version=g.if_match, idempotency=g.idempotency,
                                    **data)
    return written(result)


@blp.route("/<uuid:project_id>", methods=["GET"])
@requires("officer", "auditor")
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, ProjectOut)
@problems(blp, *READ_PROBLEMS)
def get_project(query: dict[str, Any], project_id: UUID) -> Any:
    """A project as it stands, as recorded at an instant (as_of), or at a version"""
    check_read_scope(project_id, "project")
    view = ledger().get_project(project_id, **query)
    return view, 200, etag(view["version"])


@blp.route("/<uuid:project_id>/events", methods=["GET"])
@requires("officer", "auditor")
@blp.arguments(PageQuery, location="query")
@blp.response(200, EventPage)
@problems(blp, 400, *READ_PROBLEMS)
def project_events(query: dict[str, Any], project_id: UUID) -> Any:
    """The project's history: each event with actor, effective date, recorded time and log position"""
    check_read_scope(project_id, "project")
    return history_page(project_id, **query)
