"""Strict marshmallow fields for the wire format: amounts as strings with at most two decimals (refused, never
rounded), RFC 3339 timestamps with an offset, plain ISO dates, known division codes, checked USCCs, clean text."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any
from uuid import UUID

from marshmallow import ValidationError as FieldError
from marshmallow import fields
from marshmallow.validate import OneOf, Range

from ledger.errors import InvalidRegionError, InvalidUSCCError
from ledger.identity import validate_uscc
from ledger.money import CENT, MAX_POSTING
from ledger.regions import get_division

AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$")
SIGNED_AMOUNT = re.compile(r"^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
# Document, project, contract and invoice numbers: letters (Chinese included), digits and the punctuation such numbers
# use (冀民〔2023〕12号, HT-2024/001); no quotes, semicolons or angle brackets.
IDENTIFIER = re.compile(r"^[\w\-/.()（）〔〕\[\]【】#＃:：·、 ]+$")
REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn")  # control, format (bidi overrides), surrogates, private, unassigned


class Money(fields.String):
    """Yuan as a string with at most two decimals ("1234.50"); more places, exponents, NaN and numbers are refused."""

    default_error_messages = {
        "invalid": 'Not an amount: write a string with at most two decimals, such as "1234.50".',
        "places": "More than two decimal places: amounts are never rounded.",
        "range": "Must be between {minimum} and {maximum}.",
        "zero": "Must not be zero.",
    }

    def __init__(self, *, minimum: Decimal | None = CENT, maximum: Decimal | None = MAX_POSTING,
                 signed: bool = False, nonzero: bool = False, **kwargs: Any) -> None:
        metadata = {"format": "decimal", "pattern": (SIGNED_AMOUNT if signed else AMOUNT).pattern,
                    "example": "1234.50", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.minimum, self.maximum, self.signed, self.nonzero = minimum, maximum, signed, nonzero

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:  # type: ignore[override]
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not (SIGNED_AMOUNT if self.signed else AMOUNT).match(value):
            if re.match(r"^-?[0-9]+\.[0-9]{3,}$", value):
                raise self.make_error("places")
            raise self.make_error("invalid")
        amount = Decimal(value).quantize(CENT)
        if (self.minimum is not None and amount < self.minimum) or (self.maximum is not None and amount > self.maximum):
            raise self.make_error("range", minimum=self.minimum, maximum=self.maximum)
        if self.nonzero and amount == 0:
            raise self.make_error("zero")
        return amount

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return str(Decimal(value).quantize(CENT))


class Day(fields.Date):
    """A calendar date written YYYY-MM-DD, nothing else (no week dates, no times)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if not isinstance(value, str) or not DATE.match(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class Instant(fields.AwareDateTime):
    """An RFC 3339 timestamp with its UTC offset; naive timestamps are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if isinstance(value, str) and DATE.match(value[:10]) and not TIMESTAMP.match(value) and len(value) <= 19:
            raise self.make_error("invalid_awareness", awareness=self.AWARENESS, obj_type=self.OBJ_TYPE)
        if not isinstance(value, str) or not TIMESTAMP.match(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class Text(fields.String):
    """Printable text of bounded length; control, format, private-use and unassigned characters are refused."""

    default_error_messages = {
        "blank": "Must not be blank.",
        "too_long": "Longer than {max_length} characters.",
        "characters": "Contains control, formatting or unassigned characters.",
        "identifier": "May contain only letters, digits, spaces and - _ / . ( ) 〔 〕 [ ] # : ·",
    }

    def __init__(self, *, max_length: int = 200, identifier: bool = False, **kwargs: Any) -> None:
        metadata = {"maxLength": max_length, **kwargs.pop("metadata", {})}
        if identifier:
            metadata["pattern"] = IDENTIFIER.pattern
        super().__init__(metadata=metadata, **kwargs)
        self.max_length, self.identifier = max_length, identifier

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise self.make_error("blank")
        if len(text) > self.max_length:
            raise self.make_error("too_long", max_length=self.max_length)
        if any(unicodedata.category(ch) in REFUSED_CATEGORIES for ch in text):
            raise self.make_error("characters")
        if self.identifier and not IDENTIFIER.match(text):
            raise self.make_error("identifier")
        return text.strip()


class Month(fields.String):
    default_error_messages = {"month": "Not a month: write YYYY-MM."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"pattern": MONTH.pattern, "example": "2024-03", **kwargs.pop("metadata", {})},
                         **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not MONTH.match(text):
            raise self.make_error("month")
        return text


class RegionCode(fields.String):
    """A known division code (NBS 2023): 6 digits for a province, city or county, 9 for a township."""

    default_error_messages = {"level": "Must be a {levels} code."}

    def __init__(self, *, levels: tuple[str, ...] = ("province", "city", "county", "township"), **kwargs: Any) -> None:
        super().__init__(metadata={"pattern": r"^[0-9]{6}([0-9]{3})?$", "example": "620102",
                                   "description": f"division code ({' / '.join(levels)})",
                                   **kwargs.pop("metadata", {})}, **kwargs)
        self.levels = levels

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = super()._deserialize(value, attr, data, **kwargs)
        try:
            division = get_division(code)
        except InvalidRegionError as error:
            raise FieldError(error.message) from None
        if division.level not in self.levels:
            raise self.make_error("level", levels=" or ".join(self.levels))
        return division.code


class USCC(fields.String):
    """An 18-character unified social credit code with a valid check character; returned in its compact form."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"pattern": "^[0-9A-Z]{18}$", "example": "91110000600037341L",
                                   **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = super()._deserialize(value, attr, data, **kwargs)
        if len(code) > 40:
            raise FieldError("Not a USCC: expected 18 characters.")
        try:
            return validate_uscc(code)
        except InvalidUSCCError as error:
            raise FieldError(error.message) from None


def choice(options: Any, **kwargs: Any) -> fields.String:
    """A string from a closed vocabulary."""
    return fields.String(validate=OneOf(tuple(options)), **kwargs)


def count(maximum: int = 10**9, minimum: int = 0, **kwargs: Any) -> fields.Integer:
    """A whole number (JSON integers only: 3.0 and "3" are refused)."""
    return fields.Integer(strict=True, validate=Range(minimum, maximum), **kwargs)


class Plain(fields.Raw):
    """Loose nested data for output (events' payloads, schedules): Decimals, ids and dates become strings."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return jsonable(value)


def jsonable(value: Any) -> Any:
    """Plain data with Decimal, UUID, date and datetime values turned into JSON values (amounts stay strings)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
