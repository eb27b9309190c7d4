"""Deal reports: 【成交】/#成交 or a labelled amount, read into client, company and yuan.

Amounts are written the way reps type them: 5万, 12.5万元, 3000元, ¥8,000, ￥12,800, 五万, 十二万.
Chinese numerals go through cn2an; everything else is decimal arithmetic on the digits.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import cn2an

from rules.config import DealSettings
from rules.model import Deal
from rules.template import LabelParser, strip_prefix

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿点"
_UNITS = {"万": Decimal(10_000), "千": Decimal(1_000), "w": Decimal(10_000), "W": Decimal(10_000)}
_NUMBER = r"\d[\d,，]*(?:\.\d+)?"

# With a currency sign or a unit an amount can stand anywhere in the text.
_AMOUNT = re.compile(
    rf"""
    [¥￥]\s*(?P<sign>{_NUMBER})\s*(?P<sign_unit>万|千)?
  | (?<![\d.])(?P<num>{_NUMBER})\s*(?:(?P<unit>万|千|[wW])\s*元?|元)
  | (?P<cn>[{_CN_DIGITS}]+)(?P<cn_yuan>元)?
    """,
    re.VERBOSE,
)
# Behind an amount label a bare number is an amount too (成交金额：50000).
_BARE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*$")


def parse_amount(text: str, *, bare: bool = False) -> int | None:
    """Yuan in the first amount of `text`, or None. Example: parse_amount("签了12.5万元") == 125000."""
    if bare and (m := _BARE.match(text)):
        return _decimal_yuan(m["num"], None)
    for m in _AMOUNT.finditer(text):
        if m["sign"]:
            return _decimal_yuan(m["sign"], m["sign_unit"])
        if m["num"]:
            return _decimal_yuan(m["num"], m["unit"])
        # A Chinese numeral is an amount with 元 or a 万/千 in it (not the 三 of 三个仓库).
        if (m["cn_yuan"] or any(u in m["cn"] for u in "万千亿")) and (value := _cn_yuan(m["cn"])):
            return value
    return None


def _decimal_yuan(number: str, unit: str | None) -> int | None:
    try:
        value = Decimal(number.replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    return int((value * _UNITS.get(unit or "", Decimal(1))).to_integral_value())


@functools.lru_cache(maxsize=4096)  # cn2an costs ~0.25 ms a call; reps repeat the same few amounts
def _cn_yuan(text: str) -> int | None:
    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError):
        return None
    return int(round(value))


@dataclass(frozen=True, slots=True)
class DealParser:
    """A deal report names the amount signed. Example: "【成交】客户：王总，公司：华星科技，金额5万" → 50000 yuan.

    `client_name` / `company` use the follow-up labels; an unreadable amount is `amount_yuan: None`.
    """

    settings: DealSettings
    parser: LabelParser = field(repr=False, compare=False)

    def parse(self, text: str) -> Deal | None:
        prefixed, body = strip_prefix(text, self.settings.prefixes)
        if not prefixed and not any(label in body for label in self.settings.amount_labels):
            return None
        values = self.parser.parse(body)
        labelled = next((values[label] for label in self.settings.amount_labels if label in values), None)
        if labelled is None and not prefixed:
            return None
        amount = parse_amount(labelled, bare=True) if labelled is not None else parse_amount(body)
        return Deal(
            client_name=values.get("client_name") or None,
            company=values.get("company") or None,
            amount_yuan=amount,
        )
