"""/events: the global log, for auditors, inside their region scope."""

from __future__ import annotations

from typing import Any

from api.auth import requires
from api.resources import READ_PROBLEMS, Blueprint, problems
from api.resources.history import log_page
from api.schemas.common import EventPage, LogQuery

blp = Blueprint("events", __name__, url_prefix="/api/v1/events", description="The global event log (auditors)")


@blp.route("", methods=["GET"])
@requires("auditor")
@blp.arguments(LogQuery, location="query")
@blp.response(200, EventPage)
@problems(blp, 400, *READ_PROBLEMS)
def read_log(query: dict[str, Any]) -> Any:
    """Events of funds, projects and procurements in log order (newest last), after a position or cursor"""
    return log_page(**query)
