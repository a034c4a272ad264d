"""Provider identity: the 18-character unified social credit code (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

import unicodedata

from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from ledger.errors import InvalidUSCCError

__all__ = ["validate_uscc"]


def validate_uscc(value: str) -> str:
    """Return the compact upper-case 18-character USCC if valid, check character included; else raise InvalidUSCCError.

    Spaces and hyphens are ignored; lower case and full-width (全角) characters are accepted:
    '91 110000 600037341l' and '９１１１００００６０００３７３４１Ｌ' both give '91110000600037341L'.
    """
    if not isinstance(value, str):
        raise InvalidUSCCError(
            f"USCC {value!r} is a {type(value).__name__}, not a string: expected 18 digits and capital letters."
        )
    compact = uscc.compact(unicodedata.normalize("NFKC", value))
    try:
        return uscc.validate(compact)
    except stdnum_errors.InvalidLength:
        reason = f"has {len(compact)} characters, expected 18"
    except stdnum_errors.InvalidFormat:
        reason = (
            "has bad characters: the first 8 must be digits and the rest digits or capital letters "
            "other than I, O, S, V and Z"
        )
    except stdnum_errors.InvalidChecksum:
        reason = "has a bad check character: the 18th character does not match the first 17 (a mistyped code?)"
    except stdnum_errors.ValidationError:
        reason = "is not a valid unified social credit code"
    raise InvalidUSCCError(f"USCC {value!r} {reason}.")
