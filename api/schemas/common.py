"""Shared pieces: the strict base schema, the problem body, query strings and the pagination envelope."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema
from marshmallow.validate import Range

from api.fields import Day, Instant, Plain

MAX_LIMIT = 500


class Strict(Schema):
    """Unknown fields are refused, never ignored."""

    class Meta:
        unknown = RAISE


def check_period(data: dict[str, Any], start: str, end: str) -> None:
    if data.get(start) is not None and data.get(end) is not None and data[end] < data[start]:
        raise ValidationError(f"Must not be before {start}.", field_name=end)


def check_unique(data: dict[str, Any], *names: str) -> None:
    for name in names:
        values = data.get(name) or []
        if len(set(values)) != len(values):
            raise ValidationError("Lists a value twice.", field_name=name)


class ProblemSchema(Schema):
    """RFC 7807 problem details, as every error is returned (media type application/problem+json)."""

    type = fields.String(metadata={"description": "a URI naming the kind of problem"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(metadata={"description": "machine code, e.g. insufficient_funds, validation_error"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "per-field messages: {field: [messages]}"})
    instance = fields.String()
    request_id = fields.String(allow_none=True)


class AsOfQuery(Strict):
    """Entity reads: as recorded at an instant and/or at a version."""

    as_of = Instant(metadata={"description": "RFC 3339 timestamp with offset: the state as recorded then"})
    version = fields.Integer(validate=Range(1, 10**9))


class PageQuery(Strict):
    cursor = fields.String(metadata={"description": "opaque cursor from next_cursor of the previous page"})
    limit = fields.Integer(validate=Range(1, MAX_LIMIT), load_default=100)


class LogQuery(PageQuery):
    after = fields.Integer(validate=Range(0, 2**62),
                           metadata={"description": "log position to read after (instead of cursor)"})

    @validates_schema
    def _one_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("after") is not None and data.get("cursor") is not None:
            raise ValidationError("Give either after or cursor, not both.", field_name="after")


class EventOut(Schema):
    type = fields.String(metadata={"description": "the event's name, e.g. Disbursed"})
    aggregate_id = fields.UUID()
    version = fields.Integer()
    position = fields.Integer(allow_none=True, metadata={"description": "log position (notification id)"})
    actor = fields.String(allow_none=True)
    effective_on = Day(allow_none=True)
    recorded_at = fields.DateTime()
    data = Plain(metadata={"description": "the event's own fields; amounts as strings"})


class EventPage(Schema):
    items = fields.List(fields.Nested(EventOut))
    next_cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()
    last_position = fields.Integer(allow_none=True, metadata={"description": "the last log position scanned"})
