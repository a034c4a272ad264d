"""/tokens: the admin's list of issued tokens (creation and revocation are `ledger tokens ...` on the server)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from api.auth import requires
from api.extension import ledger
from api.resources import Blueprint, problems
from ledger.access import list_tokens

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens", description="Access tokens (admin)")


class TokenOut(Schema):
    token_id = fields.UUID()
    actor = fields.String()
    role = fields.String()
    scope = fields.String(metadata={"description": "division-code prefix; empty means nationwide"})
    label = fields.String()
    issued_by = fields.String()
    issued_at = fields.DateTime()
    revoked = fields.Boolean()
    revoked_by = fields.String(allow_none=True)


class TokenList(Schema):
    items = fields.List(fields.Nested(TokenOut))


@blp.route("", methods=["GET"])
@requires("admin")
@blp.response(200, TokenList)
@problems(blp, 401, 403)
def tokens() -> Any:
    """Every token ever issued, without secrets"""
    return {"items": list_tokens(ledger())}
