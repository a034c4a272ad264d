"""/verify: the last verification of the log's hash chain and seals (`ledger verify` runs one), for auditors."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from api.auth import requires
from api.extension import ledger
from api.resources import Blueprint, problems
from ledger.integrity.recorders import as_chained

blp = Blueprint("verify", __name__, url_prefix="/api/v1/verify",
                description="Tamper evidence (auditors): the last verification of the hash chain and its seals")

SHOWN_PROBLEMS = 100


class ProblemOut(Schema):
    kind = fields.String(metadata={"description": "changed, missing, inserted, reordered, rewritten or bad_seal"})
    position = fields.Integer(metadata={"description": "log position (for a seal's problem: the sealed position)"})
    range_start = fields.Integer(allow_none=True,
                                 metadata={"description": "a seal's problem: the first position it vouched for"})
    message = fields.String()
    description = fields.String()
    originator_id = fields.String(allow_none=True)
    originator_version = fields.Integer(allow_none=True)
    topic = fields.String(allow_none=True)
    seal_id = fields.Integer(allow_none=True)


class VerificationOut(Schema):
    outcome = fields.String(metadata={"description": "ok or tampered"})
    started_at = fields.String()
    finished_at = fields.String()
    first_position = fields.Integer()
    last_position = fields.Integer()
    events_checked = fields.Integer()
    chain_rows_checked = fields.Integer()
    seals_checked = fields.Integer()
    signatures_checked = fields.Boolean()
    auditor_seals = fields.Integer(allow_none=True,
                                   metadata={"description": "seals from an auditor's own copy, when one was given"})
    last_sealed_position = fields.Integer(allow_none=True)
    problem_count = fields.Integer()
    problem_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    first_problem = fields.Nested(ProblemOut, allow_none=True)
    problems = fields.List(fields.Nested(ProblemOut), metadata={"description": f"the first {SHOWN_PROBLEMS}"})


class HeadOut(Schema):
    position = fields.Integer()
    hash = fields.String(metadata={"description": "SHA-256, hex"})


class SealOut(Schema):
    seal_id = fields.Integer()
    position = fields.Integer()
    hash = fields.String()
    sealed_at = fields.String()
    key_id = fields.String()
    signature = fields.String()


class VerifyStatus(Schema):
    last = fields.Nested(VerificationOut, allow_none=True,
                         metadata={"description": "the last verification kept; null if none was run"})
    head = fields.Nested(HeadOut, allow_none=True, metadata={"description": "the chain head now"})
    latest_seal = fields.Nested(SealOut, allow_none=True)
    unverified_positions = fields.Integer(
        metadata={"description": "positions chained after the last verification's end"})


@blp.route("", methods=["GET"])
@requires("auditor")
@blp.response(200, VerifyStatus)
@problems(blp, 401, 403)
def last_verification() -> Any:
    """The last verification's outcome (first problem named), the chain head and the latest seal"""
    chained = as_chained(ledger().recorder)
    last = chained.last_verification()
    if last is not None:
        last["problems"] = last.get("problems", [])[:SHOWN_PROBLEMS]
    head = chained.chain_head()
    seal = chained.latest_seal()
    return {
        "last": last,
        "head": None if head is None else {"position": head.position, "hash": head.hash.hex()},
        "latest_seal": None if seal is None else {
            "seal_id": seal.seal_id, "position": seal.position, "hash": seal.hash.hex(), "sealed_at": seal.sealed_at,
            "key_id": seal.key_id, "signature": seal.signature.hex()},
        "unverified_positions": max(0, (head.position if head else 0) - (last or {}).get("last_position", 0)),
    }
