"""Specifications of provider identity: the unified social credit code (统一社会信用代码)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.errors import InvalidUSCCError, ValidationError
from ledger.identity import validate_uscc

# Real codes, from python-stdnum's own tests (tests/test_cn_uscc.doctest): all pass the GB 32100-2015 check.
VALID = [
    "91110000600037341L",
    "121200004013590816",  # 事业单位 (registering authority 1), check character a digit
    "91620100719023721L",  # registered in 兰州市 (620100)
    "91620105MA71T4YW8Q",  # letters in the organisation code
    "9162010555628132X1",
]


@pytest.mark.parametrize("value", VALID)
def test_valid_uscc_is_returned_unchanged(value: str) -> None:
    assert validate_uscc(value) == value


def test_uscc_is_returned_compact_and_upper_case() -> None:
    assert validate_uscc(" 91 110000 600037341l ") == "91110000600037341L"
    assert validate_uscc("91620105-ma71t4yw8q") == "91620105MA71T4YW8Q"


def test_uscc_typed_in_full_width_characters_is_returned_in_ascii() -> None:
    assert validate_uscc("９１１１００００６０００３７３４１Ｌ") == "91110000600037341L"
    assert validate_uscc("91620105ＭＡ71Ｔ4ＹＷ8ｑ") == "91620105MA71T4YW8Q"


@pytest.mark.parametrize("value", VALID)
def test_uscc_with_a_corrupted_check_character_is_refused(value: str) -> None:
    corrupted = value[:-1] + ("0" if value[-1] != "0" else "1")
    with pytest.raises(InvalidUSCCError, match="bad check character") as refused:
        validate_uscc(corrupted)
    assert corrupted in refused.value.message


def test_uscc_with_a_mistyped_body_character_is_refused_by_the_check_character() -> None:
    with pytest.raises(InvalidUSCCError, match="bad check character"):
        validate_uscc("91110000600037342L")


@pytest.mark.parametrize("value", ["", "12345", "91110000600037341", "91110000600037341LL"])
def test_uscc_of_the_wrong_length_is_refused(value: str) -> None:
    with pytest.raises(InvalidUSCCError, match="expected 18") as refused:
        validate_uscc(value)
    assert repr(value) in refused.value.message


@pytest.mark.parametrize(
    "value",
    [
        "A1110000600037341L",  # letter among the first 8
        "9111000060003IOZSV",  # I, O, Z, S, V are not in the alphabet
        "91110000600037341!",
        "9111000060003734١L",  # an Arabic-Indic digit one
        "91110000600037341Ł",
    ],
)
def test_uscc_with_bad_characters_is_refused(value: str) -> None:
    with pytest.raises(InvalidUSCCError, match="bad characters"):
        validate_uscc(value)


@pytest.mark.parametrize("value", [None, 91110000600037341, b"91110000600037341L", ["91110000600037341L"]])
def test_uscc_that_is_not_a_string_is_refused(value: Any) -> None:
    with pytest.raises(InvalidUSCCError, match="not a string"):
        validate_uscc(value)


def test_uscc_refusal_is_a_validation_error_with_a_stable_code() -> None:
    with pytest.raises(ValidationError) as refused:
        validate_uscc("12345")
    assert refused.value.code == "invalid_uscc"
