"""Money: Decimal yuan with exactly two places; over-precise input is refused, never rounded; no float anywhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidAmountError, ValidationError
from ledger.money import CENT, MAX_POSTING, ZERO, format_money, parse_money, posting_amount


@pytest.mark.parametrize(
    ("given_value", "amount"),
    [
        ("1234.50", "1234.50"),
        ("1234.5", "1234.50"),
        ("1234", "1234.00"),
        ("0.01", "0.01"),
        ("-12.30", "-12.30"),
        (5, "5.00"),
        (Decimal("0.1"), "0.10"),
        (Decimal("7.00"), "7.00"),
        ("1e3", "1000.00"),
    ],
)
def test_reads_decimal_strings_ints_and_decimals_as_exactly_two_places(given_value: Any, amount: str) -> None:
    parsed = parse_money(given_value)
    assert parsed == Decimal(amount)
    assert str(parsed) == amount
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize("value", ["0.001", "1.005", "1.000", "12.345", Decimal("1.999"), "1E-3", "0E-7"])
def test_never_rounds_an_amount_with_more_than_two_decimal_places(value: Any) -> None:
    with pytest.raises(InvalidAmountError, match="never rounded") as refused:
        parse_money(value)
    assert refused.value.code == "invalid_amount"


@pytest.mark.parametrize("value", [0.5, 1.0, 1234.5, float("nan"), float("inf")])
def test_refuses_floats_even_those_that_are_exact(value: float) -> None:
    with pytest.raises(InvalidAmountError, match="not a float"):
        parse_money(value)


@pytest.mark.parametrize("value", [True, False])
def test_refuses_booleans(value: bool) -> None:
    with pytest.raises(InvalidAmountError):
        parse_money(value)


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", "inf", Decimal("NaN"), Decimal("-Infinity")])
def test_refuses_values_that_are_not_finite_numbers(value: Any) -> None:
    with pytest.raises(InvalidAmountError, match="finite"):
        parse_money(value)


@pytest.mark.parametrize("value", ["", " ", " 1.00", "1.00 ", "abc", "1,000.00", "¥100", "1.2.3", "0x10", "一百"])
def test_refuses_text_that_is_not_a_plain_decimal_number(value: str) -> None:
    with pytest.raises(InvalidAmountError):
        parse_money(value)


@pytest.mark.parametrize("value", [None, [], {}, b"1.00", object()])
def test_refuses_values_of_other_types(value: Any) -> None:
    with pytest.raises(InvalidAmountError):
        parse_money(value)


@pytest.mark.parametrize("value", ["1e30", "9" * 40, 10**40, "123456789012345678901234567.89", "1E+1000000"])
def test_refuses_numbers_beyond_the_decimal_context_with_the_ledgers_own_error(value: Any) -> None:
    # Quantizing these to cents overflows the 28-digit decimal context: that must not escape as decimal's own error.
    with pytest.raises(InvalidAmountError, match="too large"):
        parse_money(value)


def test_names_the_field_in_its_refusal() -> None:
    with pytest.raises(InvalidAmountError) as refused:
        posting_amount("-1.00", "price")
    assert refused.value.field == "price"
    assert "price" in refused.value.message
    assert isinstance(refused.value, ValidationError)


@pytest.mark.parametrize("value", ["0.01", "1.00", "1000000000000.00", 10**12])
def test_posts_amounts_from_one_cent_to_10_to_the_12_yuan(value: Any) -> None:
    assert CENT <= posting_amount(value) <= MAX_POSTING


@pytest.mark.parametrize("value", ["0", "0.00", "-0.00", "-0.01", "1000000000000.01", 10**12 + 1])
def test_refuses_to_post_zero_negative_or_more_than_10_to_the_12_yuan(value: Any) -> None:
    with pytest.raises(InvalidAmountError):
        posting_amount(value)


def test_parsing_alone_allows_zero_and_negative_amounts_for_deltas_and_plans() -> None:
    assert parse_money("0") == ZERO
    assert parse_money("-500.00") == Decimal("-500.00")


@pytest.mark.parametrize(("amount", "text"), [(Decimal("5"), "5.00"), (Decimal("1234.5"), "1234.50"),
                                              (Decimal("0.10"), "0.10"), (MAX_POSTING, "1000000000000.00")])
def test_formats_an_amount_as_a_string_with_two_places(amount: Decimal, text: str) -> None:
    assert format_money(amount) == text


@settings(max_examples=200, derandomize=True, database=None)
@given(st.integers(min_value=1, max_value=10**14))
def test_every_postable_amount_survives_formatting_and_reading_back_unchanged(cents: int) -> None:
    amount = Decimal(cents) / 100
    assert posting_amount(format_money(amount)) == amount


@settings(max_examples=200, derandomize=True, database=None)
@given(st.integers(min_value=1, max_value=10**15).filter(lambda mills: mills % 10 != 0))
def test_every_amount_with_a_significant_third_decimal_is_refused(mills: int) -> None:
    with pytest.raises(InvalidAmountError):
        posting_amount(str(Decimal(mills) / 1000))
