"""Projects: registration, procurement opening, budget revisions, money out, outputs, evaluations, closure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema
from marshmallow.validate import Length

from api.fields import USCC, Day, Money, Month, Plain, RegionCode, Text, choice, count
from api.schemas.common import Strict, check_period, check_unique
from ledger.evaluation import KINDS
from ledger.procurement import METHODS
from ledger.vocabulary import CATEGORIES, OUTPUT_INDICATORS, PAYEE_KINDS, SERVICE_DOMAINS

ZERO = Decimal("0.00")


class PlanItem(Strict):
    month = Month(required=True)
    cumulative_amount = Money(minimum=ZERO, required=True)


class TargetItem(Strict):
    indicator = choice(OUTPUT_INDICATORS, required=True)
    month = Month(required=True)
    cumulative_target = count(required=True)


class RegistrationIn(Strict):
    code = Text(max_length=64, identifier=True, required=True, metadata={"example": "SGZ-130102001-2024"})
    name = Text(max_length=200, required=True)
    township_code = RegionCode(levels=("township",), required=True, metadata={"example": "130102001"})
    station_name = Text(max_length=200, required=True)
    service_domains = fields.List(choice(SERVICE_DOMAINS), required=True, validate=Length(max=50))
    period_start = Day(required=True)
    period_end = Day(required=True)
    budget_lines = fields.Dict(keys=choice(CATEGORIES), values=Money(), required=True, validate=Length(min=1),
                               metadata={"description": "{category: amount}"})
    effective_on = Day(required=True)
    provider_name = Text(max_length=200, allow_none=True)
    provider_uscc = USCC(allow_none=True)
    monthly_plan = fields.List(fields.Nested(PlanItem), validate=Length(max=240), allow_none=True)
    output_targets = fields.List(fields.Nested(TargetItem), validate=Length(max=2000), allow_none=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_period(data, "period_start", "period_end")
        check_unique(data, "service_domains")
        if data.get("provider_uscc") is not None and data.get("provider_name") is None:
            raise ValidationError("Required with provider_uscc.", field_name="provider_name")


class ProcurementIn(Strict):
    method = choice(METHODS, required=True)
    subject = Text(max_length=500, required=True)
    category = choice(CATEGORIES, required=True)
    effective_on = Day(required=True)
    estimated_amount = Money(allow_none=True)
    single_source_justification = Text(max_length=1000, allow_none=True)


class Move(Strict):
    from_line = choice(CATEGORIES, required=True)
    to_line = choice(CATEGORIES, required=True)
    amount = Money(required=True)

    @validates_schema
    def _two_lines(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_line") is not None and data.get("from_line") == data.get("to_line"):
            raise ValidationError("Must differ from from_line.", field_name="to_line")


class BudgetRevisionIn(Strict):
    moves = fields.List(fields.Nested(Move), required=True, validate=Length(min=1, max=50))
    reason = Text(max_length=1000, required=True)
    effective_on = Day(required=True)
    approval_document = Text(max_length=100, identifier=True, allow_none=True)


class DisbursementIn(Strict):
    fund_id = fields.UUID(required=True, metadata={"description": "the fund whose money the project pays out"})
    amount = Money(required=True)
    payee_name = Text(max_length=200, required=True)
    effective_on = Day(required=True)
    payee_uscc = USCC(allow_none=True)
    installment = count(minimum=1, maximum=120, allow_none=True)
    procurement_id = fields.UUID(allow_none=True)
    voucher_no = Text(max_length=100, identifier=True, allow_none=True)


class ExpenditureIn(Strict):
    line = choice(CATEGORIES, required=True)
    amount = Money(required=True)
    payee_name = Text(max_length=200, required=True)
    payee_kind = choice(PAYEE_KINDS, required=True)
    effective_on = Day(required=True)
    payee_uscc = USCC(allow_none=True)
    invoice_no = Text(max_length=100, identifier=True, allow_none=True)
    fund_id = fields.UUID(allow_none=True)
    description = Text(max_length=1000, allow_none=True)


class ReversalIn(Strict):
    entry_id = fields.UUID(required=True, metadata={"description": "the disbursement or expenditure to reverse"})
    reason = Text(max_length=1000, required=True)
    effective_on = Day(required=True)


class OutputsIn(Strict):
    month = Month(required=True)
    values = fields.Dict(keys=choice(OUTPUT_INDICATORS), values=count(), required=True, validate=Length(min=1),
                         metadata={"description": "{indicator: count}"})
    effective_on = Day(required=True)


class Dimensions(Strict):
    """决策 / 过程 / 产出 / 效益, each a decimal string from 0 to 100."""

    decision = Money(minimum=ZERO, maximum=Decimal(100), required=True)
    process = Money(minimum=ZERO, maximum=Decimal(100), required=True)
    output = Money(minimum=ZERO, maximum=Decimal(100), required=True)
    effect = Money(minimum=ZERO, maximum=Decimal(100), required=True)


class EvaluationIn(Strict):
    kind = choice(KINDS, required=True)
    evaluator = Text(max_length=200, required=True)
    weights = fields.Nested(Dimensions, required=True)
    scores = fields.Nested(Dimensions, required=True)
    effective_on = Day(required=True)
    note = Text(max_length=2000, allow_none=True)

    @validates_schema
    def _scores_within_weights(self, data: dict[str, Any], **kwargs: Any) -> None:
        weights, scores = data.get("weights"), data.get("scores")
        if weights is None or scores is None:
            return
        if sum(weights.values(), ZERO) != 100:
            raise ValidationError("Weights must add up to 100.", field_name="weights")
        over = [d for d, s in scores.items() if s > weights[d]]
        if over:
            raise ValidationError(f"Score exceeds its weight: {', '.join(over)}.", field_name="scores")


class ProjectClosureIn(Strict):
    reason = Text(max_length=1000, required=True)
    effective_on = Day(required=True)


class ProjectWritten(Schema):
    project_id = fields.UUID(required=True)
    version = fields.Integer(required=True, metadata={"description": "the project's new version (also the ETag)"})
    position = fields.Integer(required=True, metadata={"description": "log position of the write"})


class RevisionWritten(ProjectWritten):
    revision_id = fields.UUID(required=True)


class EntryWritten(ProjectWritten):
    entry_id = fields.UUID(required=True)


class ReversalWritten(EntryWritten):
    reversed_entry_id = fields.UUID(required=True)


class OutputsWritten(ProjectWritten):
    report_id = fields.UUID(required=True)


class EvaluationWritten(ProjectWritten):
    evaluation_id = fields.UUID(required=True)
    total = fields.String(required=True, metadata={"description": "total score, one decimal"})
    rating = fields.String(required=True, metadata={"description": "优 / 良 / 中 / 差"})


class StatusWritten(ProjectWritten):
    status = fields.String(required=True)


class ProjectOut(Schema):
    id = fields.UUID()
    version = fields.Integer()
    created_on = fields.DateTime()
    modified_on = fields.DateTime()
    code = fields.String()
    name = fields.String()
    township_code = fields.String()
    station_name = fields.String()
    service_domains = fields.List(fields.String())
    provider_name = fields.String(allow_none=True)
    provider_uscc = fields.String(allow_none=True)
    period_start = Day()
    period_end = Day()
    status = fields.String()
    budget_lines = fields.Dict(keys=fields.String(), values=Money(minimum=None))
    budget_total = Money()
    received = fields.Dict(keys=fields.String(), values=Money(minimum=None),
                           metadata={"description": "{fund_id: amount received}"})
    received_total = Money()
    committed_total = Money()
    disbursed = fields.Dict(keys=fields.String(), values=Money(minimum=None))
    disbursed_total = Money()
    spent = fields.Dict(keys=fields.String(), values=Money(minimum=None))
    spent_total = Money()
    commitments = Plain()
    monthly_plan = Plain()
    output_targets = Plain()
    outputs = Plain()
    evaluations = Plain()
    entries = Plain()
