"""Checks for command arguments: the ledger refuses what cannot be a fact, whoever calls it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.errors import InvalidDateError, ValidationError

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def text(value: Any, field: str, *, max_length: int = 200, required: bool = True) -> str | None:
    """A trimmed, printable string of at most ``max_length`` characters (None allowed when not required)."""
    if value is None or value == "":
        if required:
            raise ValidationError(f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    value = value.strip()
    if not value and required:
        raise ValidationError(f"{field} must not be blank", field=field)
    if len(value) > max_length:
        raise ValidationError(f"{field} must be at most {max_length} characters", field=field)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in value):
        raise ValidationError(f"{field} contains control or unassigned characters", field=field)
    return value or None


def required_text(value: Any, field: str, *, max_length: int = 200) -> str:
    result = text(value, field, max_length=max_length)
    assert result is not None
    return result


def choice(value: Any, field: str, options: Iterable[str]) -> str:
    allowed = tuple(options)
    if value not in allowed:
        raise ValidationError(f"{field} must be one of {', '.join(allowed)}; got {value!r}", field=field)
    return str(value)


def choices(values: Any, field: str, options: Iterable[str]) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise ValidationError(f"{field} must be a list", field=field)
    allowed = tuple(options)
    result = [choice(v, field, allowed) for v in values]
    if len(set(result)) != len(result):
        raise ValidationError(f"{field} lists a value twice", field=field)
    return result


def a_date(value: Any, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidDateError(f"{field} must be a date", field=field)
    return value


def aware_datetime(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidDateError(f"{field} must be a timestamp", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidDateError(f"{field} must carry a UTC offset (e.g. +08:00)", field=field)
    return value


def month(value: Any, field: str) -> str:
    if not isinstance(value, str) or not MONTH.match(value):
        raise ValidationError(f"{field} must be a month written YYYY-MM", field=field)
    return value


def a_uuid(value: Any, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise ValidationError(f"{field} must be an id (UUID)", field=field) from None


def whole_number(value: Any, field: str, *, minimum: int = 0, maximum: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be a whole number", field=field)
    if not minimum <= value <= maximum:
        raise ValidationError(f"{field} must be between {minimum} and {maximum}", field=field)
    return value


def period(start: Any, end: Any, start_field: str, end_field: str) -> tuple[date, date]:
    first, last = a_date(start, start_field), a_date(end, end_field)
    if last < first:
        raise InvalidDateError(f"{end_field} must not be before {start_field}", field=end_field)
    return first, last
