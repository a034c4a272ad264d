"""/procurements: record the steps of a contracting process; read it and its history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response, current_app, g, request

from api.auth import actor, check_read_scope, requires
from api.extension import ledger
from api.resources import READ_PROBLEMS, WRITE_PROBLEMS, Blueprint, etag, problems
from api.resources.history import history_page
from api.schemas.common import AsOfQuery, EventPage, PageQuery
from api.schemas.ocds import OcdsPackage, OcdsQuery
from api.schemas.procurements import ProcurementOut, StepIn, StepWritten
from api.writes import posting, written
from projections import ocds

blp = Blueprint("procurements", __name__, url_prefix="/api/v1/procurements",
                description="Procurements (政府购买服务): plan, announcement, bids, award, contract")


@blp.route("/<uuid:procurement_id>/steps", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(StepIn)
@blp.response(201, StepWritten)
@problems(blp, *WRITE_PROBLEMS)
def record_step(data: dict[str, Any], procurement_id: UUID) -> Any:
    """Record a procurement step; signing a contract also commits the project's budget"""
    result = ledger().record_procurement_step(actor(), procurement_id, expected_version=g.if_match,
                                              idempotency=g.idempotency, **data)
    return written(result)


@blp.route("/<uuid:procurement_id>", methods=["GET"])
@requires("officer", "auditor")
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, ProcurementOut)
@problems(blp, *READ_PROBLEMS)
def get_procurement(query: dict[str, Any], procurement_id: UUID) -> Any:
    """A procurement as it stands, as recorded at an instant (as_of), or at a version"""
    check_read_scope(procurement_id, "procurement")
    view = ledger().get_procurement(procurement_id, **query)
    return view, 200, etag(view["version"])


@blp.route("/<uuid:procurement_id>/events", methods=["GET"])
@requires("officer", "auditor")
@blp.arguments(PageQuery, location="query")
@blp.response(200, EventPage)
@problems(blp, 400, *READ_PROBLEMS)
def procurement_events(query: dict[str, Any], procurement_id: UUID) -> Any:
    """The procurement's history: each event with actor, effective date, recorded time and log position"""
    check_read_scope(procurement_id, "procurement")
    return history_page(procurement_id, **query)


@blp.route("/<uuid:procurement_id>/ocds", methods=["GET"])
@requires("officer", "auditor")
@blp.arguments(OcdsQuery, location="query")
@blp.response(200, OcdsPackage)
@problems(blp, *READ_PROBLEMS)
def procurement_ocds(query: dict[str, Any], procurement_id: UUID) -> Any:
    """The contracting process in the Open Contracting Data Standard (OCDS 1.1): a record package (its releases and
    compiled release), or with as=releases a release package; as_of gives the process as recorded then"""
    check_read_scope(procurement_id, "procurement")
    items = ocds.process_events(ledger(), procurement_id, as_of=query.get("as_of"))
    process = ocds.fold(items, current_app.config["LEDGER"]["LEDGER_OCDS_PREFIX"])
    if query["as_"] == "releases":
        package = ocds.release_package(process.releases, uri=request.url)
    else:
        package = ocds.record_package([process.record()], uri=request.url)
    return Response(ocds.dumps(package), mimetype="application/json")
