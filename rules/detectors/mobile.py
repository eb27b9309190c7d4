"""Mainland mobile numbers (手机号), confirmed with Google's libphonenumber metadata.

A candidate is 11 digits starting 13-19, optionally after 86 / +86 / 0086, possibly grouped by
spaces, dashes or dots or with the first three in parentheses (138 1234 5678, +86-138-1234-5678,
138.1234.5678, (138)12345678), or written to slip past a filter (digit_runs reads those).
`phonenumbers` then decides whether the number range is assigned to mobile service, so
12345678901 or a landline (021-12345678) is not a mobile. Parsing costs tens of microseconds, so
only candidates that pass the cheap shape test reach it, and verdicts are cached per number.
Example: 13812345678 → 138****5678.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

KIND = "mobile"
_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


def national_mobile(digits: str) -> str | None:
    """The 11-digit national number when `digits` (ASCII digits, maybe with 86/0086) is a mobile."""
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    if len(digits) != 11 or digits[0] != "1" or digits[1] < "3" or not digits.isdigit():
        return None
    return digits if _is_mobile(digits) else None


@lru_cache(maxsize=8192)
def _is_mobile(national: str) -> bool:
    try:
        number = phonenumbers.parse(national, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES


def mask(value: str) -> str:
    """First three and last four digits of the national number around four stars: 138****5678.

    A shorter number (from a custom pattern) keeps only its last four digits, or none, so that a
    mask never shows most of the value.
    """
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return f"****{digits[-4:]}" if len(digits) >= 8 else "****"
