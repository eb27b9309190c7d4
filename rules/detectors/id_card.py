"""Mainland resident ID numbers (居民身份证号码, GB 11643-1999).

An 18-character number is an ID when its birth date (characters 7-14) is a real calendar date from
1900 on and its last character is the ISO 7064 MOD 11-2 check digit (0-9 or X). The region code is
not checked: stdnum's table of county codes lags new and renamed counties, and a real ID missed
is a privacy leak. Example: 11010519491231002X is an ID; 110105194912310021 (bad check digit) and
110105194902300020 (30 February) are not.
"""

from __future__ import annotations

from datetime import date

from stdnum.cn.ric import calc_check_digit

KIND = "id_card"
LENGTH = 18


def is_resident_id(value: str) -> bool:
    """True when `value` (18 characters, no separators) is a well-formed resident ID."""
    if len(value) != LENGTH or not value[:17].isascii() or not value[:17].isdigit():
        return False
    check = value[17].upper()
    if check != "X" and not ("0" <= check <= "9"):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    return calc_check_digit(value[:17] + check) == check


def mask(value: str) -> str:
    """First six and last four characters around eight stars: 110105********002X."""
    compact = "".join(ch for ch in value if ch.isalnum())
    if len(compact) < 10:
        return "*" * 8
    return f"{compact[:6]}{'*' * 8}{compact[-4:]}"
