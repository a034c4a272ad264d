"""Audit reads and auditors' decisions: query strings, findings, roll-ups, project ledgers, dry runs."""

from __future__ import annotations

from marshmallow import Schema, fields
from marshmallow.validate import Length, OneOf, Range

from api.fields import Day, Instant, Money, Plain, RegionCode, Text, choice
from api.schemas.common import MAX_LIMIT, Strict
from api.schemas.projects import ExpenditureIn
from ledger.finding_case import DECISIONS
from projections.queries import FINDING_STATUSES
from projections.rules import SEVERITIES

EXPORT_FORMATS = ("json", "csv", "xlsx")


class ReadQuery(Strict):
    min_position = fields.Integer(validate=Range(0, 2**62), metadata={
        "description": "wait (bounded) until the views have applied this log position: read your own writes"})
    as_of = Instant(metadata={"description": "as the ledger knew it at this recorded instant (replayed from the log)"})
    format = fields.String(validate=OneOf(EXPORT_FORMATS), metadata={
        "description": "json (default), csv or xlsx; `Accept: text/csv` works too"})


class FindingsQuery(ReadQuery):
    region = RegionCode(metadata={"description": "a division code: findings in it and below"})
    rule = fields.String(validate=Length(max=10), metadata={"example": "EAR-09"})
    severity = choice(SEVERITIES)
    status = choice(FINDING_STATUSES)
    project = fields.UUID()
    on = Day(metadata={"description": "evaluation date: what had taken effect by then"})
    cursor = fields.String(validate=Length(max=200))
    limit = fields.Integer(validate=Range(1, MAX_LIMIT), load_default=100)


class FindingOut(Schema):
    finding_id = fields.String()
    rule = fields.String()
    rule_version = fields.Integer()
    severity = fields.String()
    status = fields.String(metadata={"description": "open, acknowledged, rectifying, rectified, dismissed, retracted"})
    title = fields.String()
    detail = fields.String()
    subject_kind = fields.String()
    subject_id = fields.String()
    project_id = fields.String(allow_none=True)
    region_code = fields.String()
    effective_on = fields.String(allow_none=True)
    first_position = fields.Integer(allow_none=True)
    updated_position = fields.Integer(allow_none=True)
    retracted_position = fields.Integer(allow_none=True)
    retracted_on = fields.String(allow_none=True)
    params = Plain(metadata={"description": "the rule parameters used"})
    evidence = Plain(metadata={"description": "the events that prove it: event_id, position, type, effective_on"})


class FindingPage(Schema):
    items = fields.List(fields.Nested(FindingOut))
    next_cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()
    views_position = fields.Integer()


class FindingDetail(FindingOut):
    evidence_events = Plain(metadata={"description": "the evidence events in full"})
    decisions = Plain(metadata={"description": "auditors' decisions, oldest first"})


class DecisionIn(Strict):
    decision = choice(DECISIONS, required=True)
    note = Text(max_length=2000, allow_none=True, metadata={"description": "required when dismissing"})
    effective_on = Day(required=True)


class DecisionWritten(Schema):
    finding_id = fields.String()
    status = fields.String()
    version = fields.Integer()
    position = fields.Integer()
    replayed = fields.Boolean()


class ExpenditureCheckIn(ExpenditureIn):
    project_id = fields.UUID(required=True)


class CheckOut(Schema):
    project_id = fields.UUID()
    findings = fields.List(fields.Nested(FindingOut))
    posted = fields.Boolean(metadata={"description": "always false: a dry run writes nothing"})


class RegionOut(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    funds = fields.Integer()
    funds_in = Money(metadata={"description": "money that came into the region from above"})
    held = Money(metadata={"description": "unallocated balances of the region's funds"})
    returned_up = Money()
    projects = fields.Integer()
    budget = Money()
    received = Money()
    committed = Money()
    disbursed = Money()
    spent = Money()
    reversed = Money()
    open_findings = fields.Integer()
    findings = Plain(metadata={"description": "open findings by rule and severity"})
    children = Plain(metadata={"description": "the same figures for each child division with activity"})
    views_position = fields.Integer()


class LedgerLineOut(Schema):
    line = fields.String()
    budget = Money()
    revised = Money()
    approved = Money()
    spent = Money()
    reversed = Money()


class ProjectLedgerOut(Schema):
    project_id = fields.String()
    code = fields.String()
    name = fields.String()
    township_code = fields.String()
    status = fields.String()
    budget = Money()
    received = Money()
    returned = Money()
    committed = Money()
    disbursed = Money()
    spent = Money()
    reversed = Money()
    lines = fields.List(fields.Nested(LedgerLineOut))
    views_position = fields.Integer()


class ProjectionStatusOut(Schema):
    view = fields.String()
    generation = fields.Integer()
    position = fields.Integer()
    head = fields.Integer()
    lag_events = fields.Integer()
    lag_seconds = fields.Float()


