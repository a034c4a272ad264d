"""Procurement steps: the step's name, its business date and its own fields, checked per step."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema
from marshmallow.validate import Length

from api.fields import USCC, Day, Instant, Money, Plain, Text, choice, count
from api.schemas.common import Strict, check_period
from ledger.money import MAX_POSTING
from ledger.procurement import INSTALLMENT_CONDITIONS, STEPS


class Notice(Strict):
    notice_no = Text(max_length=200, identifier=True, allow_none=True)


class PlanApproved(Strict):
    document_no = Text(max_length=200, identifier=True, required=True)


class Announced(Notice):
    announced_at = Instant(required=True)
    submission_deadline = Instant(required=True)

    @validates_schema
    def _order(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_period(data, "announced_at", "submission_deadline")


class BidReceived(Strict):
    bidder_name = Text(max_length=200, required=True)
    bidder_uscc = USCC(required=True)
    price = Money(required=True)
    received_at = Instant(required=True)


class BidsEvaluated(Strict):
    scores = fields.Dict(keys=USCC(), values=Money(minimum=Decimal(0), maximum=Decimal(100)),
                         metadata={"description": "{bidder USCC: score 0–100}"})
    qualified = fields.List(USCC(), validate=Length(max=100))
    committee_size = count(minimum=1, maximum=99, required=True)
    expert_count = count(minimum=0, maximum=99, required=True)

    @validates_schema
    def _experts(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("expert_count", 0) > data.get("committee_size", 99):
            raise ValidationError("Must not exceed committee_size.", field_name="expert_count")


class Awarded(Strict):
    supplier_name = Text(max_length=200, required=True)
    supplier_uscc = USCC(required=True)
    amount = Money(required=True)


class Installment(Strict):
    no = count(minimum=1, maximum=120, required=True)
    amount = Money(required=True)
    condition = choice(INSTALLMENT_CONDITIONS, required=True)


class ContractSigned(Strict):
    contract_no = Text(max_length=100, identifier=True, required=True)
    supplier_name = Text(max_length=200, required=True)
    supplier_uscc = USCC(required=True)
    amount = Money(required=True)
    term_start = Day(required=True)
    term_end = Day(required=True)
    installments = fields.List(fields.Nested(Installment), required=True, validate=Length(min=1, max=120))
    term_justification = Text(max_length=1000, allow_none=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_period(data, "term_start", "term_end")
        installments, amount = data.get("installments"), data.get("amount")
        if installments and amount is not None and sum((i["amount"] for i in installments), Decimal(0)) != amount:
            raise ValidationError("Installments must add up to the contract amount.", field_name="installments")


class ContractAmended(Strict):
    amendment_no = Text(max_length=100, identifier=True, required=True)
    amount_delta = Money(signed=True, nonzero=True, minimum=-MAX_POSTING, maximum=MAX_POSTING, required=True)
    new_term_end = Day(allow_none=True)
    reason = Text(max_length=1000, required=True)


class Cancelled(Strict):
    reason = Text(max_length=1000, required=True)


STEP_SCHEMAS: dict[str, type[Strict]] = {
    "plan_approved": PlanApproved,
    "announced": Announced,
    "bid_received": BidReceived,
    "bids_evaluated": BidsEvaluated,
    "awarded": Awarded,
    "award_published": Notice,
    "contract_signed": ContractSigned,
    "contract_published": Notice,
    "contract_amended": ContractAmended,
    "cancelled": Cancelled,
}
assert set(STEP_SCHEMAS) == set(STEPS)


class StepIn(Strict):
    step = choice(STEPS, required=True)
    effective_on = Day(required=True)
    details = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "the step's own fields, by step: plan_approved → StepPlanApproved, announced → "
                                 "StepAnnounced, bid_received → StepBidReceived, bids_evaluated → StepBidsEvaluated, "
                                 "awarded → StepAwarded, award_published and contract_published → StepNotice, "
                                 "contract_signed → StepContractSigned, contract_amended → StepContractAmended, "
                                 "cancelled → StepCancelled"},
    )

    @post_load
    def _details(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        schema = STEP_SCHEMAS[data["step"]]()
        try:
            details = schema.load(data["details"])
        except ValidationError as error:
            raise ValidationError({"details": error.messages}) from None
        return {**data, "details": {k: v for k, v in details.items() if v is not None}}


class StepWritten(Schema):
    procurement_id = fields.UUID(required=True)
    version = fields.Integer(required=True, metadata={"description": "the procurement's new version (the ETag)"})
    position = fields.Integer(required=True)
    step = fields.String(required=True)


class ProcurementWritten(Schema):
    procurement_id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    position = fields.Integer(required=True)


class ProcurementOut(Schema):
    id = fields.UUID()
    version = fields.Integer()
    created_on = fields.DateTime()
    modified_on = fields.DateTime()
    project_id = fields.UUID()
    region = fields.String()
    method = fields.String()
    subject = fields.String()
    category = fields.String()
    estimated_amount = Money(allow_none=True)
    single_source_justification = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "open, contracted or cancelled"})
    steps = Plain()
    bids = Plain()
    award = Plain(allow_none=True)
    contract = Plain(allow_none=True)
