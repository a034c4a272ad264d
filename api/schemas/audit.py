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
    evaluated_on = fields.Date(allow_none=True, metadata={
        "description": "time-based (LAG) findings: the evaluation date they were judged on"})
    first_seen = fields.Date(allow_none=True, metadata={
        "description": "time-based (LAG) findings: the first day of the run of days on which it holds"})


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
    progress = Plain(metadata={"description": "on the evaluation date: projects behind time progress, LAG findings "
                                              "by rule and severity"})
    coverage = Plain(allow_none=True, metadata={"description": "stations operating against township units, and "
                                                               "`service_points` as in GET /audit/coverage"})
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




class RegionQuery(ReadQuery):
    on = Day(metadata={"description": "business date: money and findings as they had taken effect by then; also the "
                                      "evaluation date of progress and coverage (default today, Beijing time)"})


class ProgressQuery(ReadQuery):
    region = RegionCode(metadata={"description": "a division code: projects in it and below"})
    project = fields.UUID(metadata={"description": "one project: its months are included"})
    on = Day(metadata={"description": "evaluation date (default today, Beijing time)"})


class ProgressPage(Schema):
    on = fields.Date()
    items = Plain(metadata={"description": "per project: budget, received, disbursed, spent, time progress "
                                           "(序时进度), spending progress (支出进度), evaluations; with `project`, "
                                           "months against the plan and output targets"})
    views_position = fields.Integer()


class CoverageQuery(ReadQuery):
    region = RegionCode(metadata={"description": "a province, city or county (default: the caller's scope)"})
    on = Day(metadata={"description": "evaluation date (default today, Beijing time)"})
    include_functional_zones = fields.Boolean(load_default=False, metadata={
        "description": "count township units of statistical functional zones (开发区/新区)"})
    include_enterprise_units = fields.Boolean(load_default=False, metadata={
        "description": "count 政企合一 township units"})


def _share(description: str, example: str, **kwargs: bool) -> fields.Decimal:
    return fields.Decimal(as_string=True, metadata={"type": "string", "format": "decimal", "example": example,
                                                   "description": description}, **kwargs)


class ServicePointTargetOut(Schema):
    share = _share("of the villages and communities, by the deadline", "0.65")
    by = fields.Date()
    start = fields.Date(metadata={"description": "the straight line runs from nothing here to `share` at `by`"})
    note = fields.String()
    planned_on_date = _share("where the straight line stands on the evaluation date (rounded for display)", "0.3250")
    planned_points = _share("the same in service points, two places; null without a village count", "65.00",
                            allow_none=True)


class ServicePointsOut(Schema):
    code = fields.String()
    name = fields.String()
    on = fields.Date()
    reported = fields.Integer(metadata={"description": "village/community service points (村(社区)服务点) run by the "
                                                       "region's projects operating on the date: the sum of their "
                                                       "monthly reports dated on or before it"})
    villages = fields.Integer(allow_none=True, metadata={
        "description": "the region's villages and communities (村(社区)), configured with the plan; null when not "
                       "configured (the division table stops at township level)"})
    denominator = fields.String(metadata={"description": "the configured count, or 村(社区)数未配置"})
    coverage = _share("reported / villages, four places; null without a village count", "0.3250", allow_none=True)
    target = fields.Nested(ServicePointTargetOut)
    behind_plan = fields.Boolean(allow_none=True, metadata={
        "description": "below the straight line, compared exactly; null without a village count (nothing judged)"})
    finding = Plain(allow_none=True, metadata={"description": "LAG-10 (村(社区)服务点覆盖滞后) when behind plan"})


class CoverageOut(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    on = fields.Date()
    township_units = fields.Integer()
    denominator = fields.String(metadata={"description": "which township codes the figure counts"})
    operating = fields.Integer()
    coverage = fields.Decimal(as_string=True, metadata={"type": "string", "format": "decimal", "example": "0.8000",
                                                       "description": "operating / township units, four places"})
    target = Plain(allow_none=True)
    behind_plan = fields.Boolean()
    finding = Plain(allow_none=True, metadata={"description": "LAG-10 when behind the straight line to the target"})
    children = Plain()
    service_points = fields.Nested(ServicePointsOut, allow_none=True, metadata={
        "description": "village/community service points against the region's service-point plan "
                       "(`[[service_point_target]]` of the rules configuration); null when no plan names the region"})
    views_position = fields.Integer()
