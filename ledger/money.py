"""Money: Decimal yuan with exactly two places. Over-precise input is refused, never rounded; no float anywhere."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ledger.errors import InvalidAmountError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_POSTING = Decimal("1000000000000.00")  # 10^12 yuan: larger than any single fund this ledger will see.


def parse_money(value: object, field: str = "amount") -> Decimal:
    """Reads an amount given as a string, int or Decimal; refuses floats, NaN, infinities and sub-cent digits."""
    if isinstance(value, (bool, float)):
        raise InvalidAmountError(f"{field} must be a decimal string such as '1234.50', not a {type(value).__name__}",
                                 field=field)
    if isinstance(value, str):
        text = value.strip()
        if text != value or not text:
            raise InvalidAmountError(f"{field} must be a decimal string such as '1234.50'", field=field)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InvalidAmountError(f"{field} {value!r} is not a decimal number", field=field) from None
    elif isinstance(value, (int, Decimal)):
        amount = Decimal(value)
    else:
        raise InvalidAmountError(f"{field} must be a decimal string such as '1234.50'", field=field)
    if not amount.is_finite():
        raise InvalidAmountError(f"{field} must be a finite number", field=field)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidAmountError(f"{field} {value} has more than two decimal places; amounts are never rounded",
                                 field=field)
    try:
        return amount.quantize(CENT)
    except InvalidOperation:  # more digits than the decimal context holds, e.g. '1e30': no amount is that large
        raise InvalidAmountError(f"{field} {value} is too large to be an amount", field=field) from None


def posting_amount(value: object, field: str = "amount") -> Decimal:
    """An amount that can be posted: two places, greater than zero and at most 10^12 yuan."""
    amount = parse_money(value, field)
    if amount <= ZERO:
        raise InvalidAmountError(f"{field} must be greater than zero", field=field)
    if amount > MAX_POSTING:
        raise InvalidAmountError(f"{field} must not exceed {MAX_POSTING} yuan", field=field)
    return amount


def format_money(amount: Decimal) -> str:
    """The JSON form of an amount: a string with two places."""
    return str(amount.quantize(CENT))
