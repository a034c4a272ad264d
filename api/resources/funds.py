"""/funds: appropriate, allocate, recover, close; read a fund and its history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import g

from api.auth import actor, check_read_scope, requires
from api.extension import ledger
from api.resources import READ_PROBLEMS, WRITE_PROBLEMS, Blueprint, etag, problems
from api.resources.history import history_page
from api.schemas.common import AsOfQuery, EventPage, PageQuery
from api.schemas.funds import (
    AllocationIn,
    AllocationWritten,
    AppropriationIn,
    FundClosureIn,
    FundOut,
    FundWritten,
    RecoveryIn,
    RecoveryWritten,
)
from api.writes import posting, written

blp = Blueprint("funds", __name__, url_prefix="/api/v1/funds",
                description="Funds (资金): appropriations and allocations")


@blp.route("", methods=["POST"])
@requires("officer")
@posting(versioned=False)
@blp.arguments(AppropriationIn)
@blp.response(201, FundWritten)
@problems(blp, *WRITE_PROBLEMS)
def appropriate(data: dict[str, Any]) -> Any:
    """Appropriate a fund (资金下达) from an upstream document"""
    result = ledger().appropriate_fund(actor(), idempotency=g.idempotency, **data)
    return written(result, location=f"/api/v1/funds/{result['fund_id']}")


@blp.route("/<uuid:fund_id>/allocations", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(AllocationIn)
@blp.response(201, AllocationWritten)
@problems(blp, *WRITE_PROBLEMS)
def allocate(data: dict[str, Any], fund_id: UUID) -> Any:
    """Allocate part of a fund to a child fund one level down (转下达) or to a project"""
    result = ledger().allocate_funds(actor(), fund_id, expected_version=g.if_match, idempotency=g.idempotency,
                                     **data)
    return written(result)


@blp.route("/<uuid:fund_id>/recoveries", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(RecoveryIn)
@blp.response(201, RecoveryWritten)
@problems(blp, *WRITE_PROBLEMS)
def recover(data: dict[str, Any], fund_id: UUID) -> Any:
    """Take unspent money back from a child fund or a project (收回)"""
    result = ledger().recover_funds(actor(), fund_id, expected_version=g.if_match, idempotency=g.idempotency,
                                    **data)
    return written(result)


@blp.route("/<uuid:fund_id>/closure", methods=["POST"])
@requires("officer")
@posting()
@blp.arguments(FundClosureIn)
@blp.response(201, FundWritten)
@problems(blp, *WRITE_PROBLEMS)
def close(data: dict[str, Any], fund_id: UUID) -> Any:
    """Close a fund for allocations; its balance is carried over or is surplus"""
    data["note"] = data.get("note") or ""
    result = ledger().close_fund(actor(), fund_id, expected_version=g.if_match, idempotency=g.idempotency, **data)
    return written(result)


@blp.route("/<uuid:fund_id>", methods=["GET"])
@requires("officer", "auditor")
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, FundOut)
@problems(blp, *READ_PROBLEMS)
def get_fund(query: dict[str, Any], fund_id: UUID) -> Any:
    """A fund as it stands, as recorded at an instant (as_of), or at a version"""
    check_read_scope(fund_id, "fund")
    view = ledger().get_fund(fund_id, **query)
    return view, 200, etag(view["version"])


@blp.route("/<uuid:fund_id>/events", methods=["GET"])
@requires("officer", "auditor")
@blp.arguments(PageQuery, location="query")
@blp.response(200, EventPage)
@problems(blp, 400, *READ_PROBLEMS)
def fund_events(query: dict[str, Any], fund_id: UUID) -> Any:
    """The fund's history: each event with actor, effective date, recorded time and log position"""
    check_read_scope(fund_id, "fund")
    return history_page(fund_id, **query)
