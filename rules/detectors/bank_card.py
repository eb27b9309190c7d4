"""Bank card numbers (银行卡号): 16 to 19 digits that pass the Luhn check.

Reps write them whole (6222021234567890128) or in groups of four (6222 0212 3456 7890 128). A
number that is also a valid resident ID is an ID (the caller tries IDs first). Example:
6222 0212 3456 7890 128 is a card when the Luhn sum works out; 6222021234567890127 is not.
"""

from __future__ import annotations

from stdnum import luhn

KIND = "bank_card"
MIN_LENGTH = 16
MAX_LENGTH = 19


def is_bank_card(digits: str) -> bool:
    """True when `digits` (ASCII digits only) has a card's length and passes Luhn."""
    return MIN_LENGTH <= len(digits) <= MAX_LENGTH and digits.isascii() and digits.isdigit() and luhn.is_valid(digits)


def is_card_grouping(group_lengths: list[int]) -> bool:
    """Whether digit groups read like a card: equal groups of 4 or more, the last one no longer.

    A card written in groups is grouped regularly (4-4-4-4-3); a date followed by a phone number
    (2026-03-01 13812345678) is not, even when the 19 digits happen to pass Luhn.
    """
    if len(group_lengths) == 1:
        return True
    head = group_lengths[:-1]
    return head[0] >= 4 and all(n == head[0] for n in head) and group_lengths[-1] <= head[0]


def mask(value: str) -> str:
    """Four stars and the last four digits: ****0128."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return f"****{digits[-4:]}" if len(digits) >= 8 else "****"
