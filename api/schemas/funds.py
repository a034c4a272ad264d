"""Funds: appropriation, allocation down a level or to a project, recovery, closure, and the fund's state."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema
from marshmallow.validate import Length

from api.fields import Day, Money, Plain, RegionCode, Text, choice, count
from api.schemas.common import Strict, check_period, check_unique
from ledger.fund import CLOSURE_KINDS, SOURCE_LEVELS, TARGET_KINDS
from ledger.vocabulary import CATEGORIES, SERVICE_DOMAINS

ABOVE_TOWNSHIP = ("province", "city", "county")


class AppropriationIn(Strict):
    holder_region = RegionCode(levels=ABOVE_TOWNSHIP, required=True)
    fiscal_year = count(minimum=2000, maximum=2100, required=True)
    document_no = Text(max_length=100, identifier=True, required=True, metadata={"example": "财社〔2023〕45号"})
    source_level = choice(SOURCE_LEVELS, required=True)
    purpose = Text(max_length=1000, required=True)
    allowed_categories = fields.List(choice(CATEGORIES), required=True, validate=Length(min=1, max=50))
    service_domains = fields.List(choice(SERVICE_DOMAINS), required=True, validate=Length(max=50))
    valid_from = Day(required=True)
    valid_to = Day(required=True)
    amount = Money(required=True)
    effective_on = Day(required=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_period(data, "valid_from", "valid_to")
        check_unique(data, "allowed_categories", "service_domains")


class AllocationIn(Strict):
    target_kind = choice(TARGET_KINDS, required=True)
    amount = Money(required=True)
    effective_on = Day(required=True)
    document_no = Text(max_length=100, identifier=True, allow_none=True,
                       metadata={"description": "required for a child fund: its document number"})
    child_region = RegionCode(levels=ABOVE_TOWNSHIP, allow_none=True,
                              metadata={"description": "required for a child fund: the region below this fund's"})
    project_id = fields.UUID(allow_none=True, metadata={"description": "required when target_kind is project"})

    @validates_schema
    def _target(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("target_kind") == "fund":
            for name in ("child_region", "document_no"):
                if data.get(name) is None:
                    errors[name] = ["Required when target_kind is fund."]
            if data.get("project_id") is not None:
                errors["project_id"] = ["Only when target_kind is project."]
        elif data.get("target_kind") == "project":
            if data.get("project_id") is None:
                errors["project_id"] = ["Required when target_kind is project."]
            if data.get("child_region") is not None:
                errors["child_region"] = ["Only when target_kind is fund."]
        if errors:
            raise ValidationError(errors)


class RecoveryIn(Strict):
    source_id = fields.UUID(required=True, metadata={"description": "the child fund or project returning money"})
    amount = Money(required=True)
    reason = Text(max_length=1000, required=True)
    effective_on = Day(required=True)


class FundClosureIn(Strict):
    disposition = choice(CLOSURE_KINDS, required=True)
    note = Text(max_length=1000, allow_none=True)
    effective_on = Day(required=True)


class FundWritten(Schema):
    fund_id = fields.UUID(required=True)
    version = fields.Integer(required=True, metadata={"description": "the fund's new version (also the ETag)"})
    position = fields.Integer(required=True, metadata={"description": "log position of the write"})


class AllocationWritten(FundWritten):
    allocation_id = fields.UUID(required=True)
    target_id = fields.UUID(required=True, metadata={"description": "the child fund or project"})


class RecoveryWritten(FundWritten):
    recovery_id = fields.UUID(required=True)


class FundOut(Schema):
    id = fields.UUID()
    version = fields.Integer()
    created_on = fields.DateTime()
    modified_on = fields.DateTime()
    holder_region = fields.String()
    fiscal_year = fields.Integer()
    document_no = fields.String()
    source_level = fields.String()
    purpose = fields.String()
    allowed_categories = fields.List(fields.String())
    service_domains = fields.List(fields.String())
    valid_from = Day()
    valid_to = Day()
    parent_fund_id = fields.UUID(allow_none=True)
    appropriated_on = Day()
    appropriated = Money()
    allocated = Money()
    returned = Money()
    available = Money()
    allocations = Plain(metadata={"description": "[{allocation_id, target_kind, target_id, amount}]"})
    closed_as = fields.String(allow_none=True)
