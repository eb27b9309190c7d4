"""Deal reports: 【成交】/#成交 or a labelled amount, read into client, company and yuan.

Amounts are written the way reps type them: 5万, 12.5万元, 3000元, ¥8,000, ￥12,800, 五万, 十二万,
3千5百元 (3500), 2万5 (25000), 2万5千, RMB 20,000, 人民币2万元, 20k. One regex finds candidate
amounts (a run of Arabic and Chinese numerals and units, with an optional currency marker before and
元 after); a candidate is an amount when it carries a currency marker, 元, or a 万/千/亿/k/w unit, and
holds at least one digit (千万不要 is no amount). The numeral itself is read by cn2an's "smart" mode,
which handles mixed forms (3千5百, 2万5) after k/w are spelled 千/万 and thousands separators dropped.
An amount that cannot be read, or reads as zero, is no amount: `amount_yuan` is then None, never 0.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import cn2an

from rules.config import DealSettings
from rules.model import Deal
from rules.template import LabelParser, strip_prefix

_CN = "零〇一二两三四五六七八九十百千万亿点"
# Thousands separators only between groups of three, so "3个仓库，200把" stays two numbers.
_ARABIC = r"\d+(?:[,，]\d{3})*(?:\.\d+)?"
_AMOUNT = re.compile(
    rf"""
    (?P<cur>[¥￥]|(?<![A-Za-z])(?:RMB|rmb|Rmb|CNY|cny)|人民币)?\s*
    (?P<body>(?:{_ARABIC}|[{_CN}])++(?:\s*[kKwW](?![A-Za-z]))?)
    (?P<yuan>\s*元)?
    """,
    re.VERBOSE,
)
#: Units that make a number an amount without a currency marker (not 百: 五百强, 3百个).
_UNITS = frozenset("万千亿kKwW")
_DIGITS = frozenset("0123456789零〇一二两三四五六七八九十")
#: Longer numerals are no amount a rep writes; capping them keeps cn2an's work bounded.
_MAX_BODY = 24
# Behind an amount label a bare number is an amount too (成交金额：50000, 合同金额：20,000).
_BARE = re.compile(rf"^\s*(?P<num>{_ARABIC})\s*$")


def parse_amount(text: str, *, bare: bool = False) -> int | None:
    """Yuan in the first readable amount of `text`, or None.

    >>> parse_amount("签了12.5万元"), parse_amount("3千5百元"), parse_amount("RMB 20,000")
    (125000, 3500, 20000)
    """
    if bare and (m := _BARE.match(text)):
        return _yuan(m["num"])
    for m in _AMOUNT.finditer(text):
        body = m["body"]
        if not m["cur"] and m.start("body") and text[m.start("body") - 1] in _GLUED:
            continue  # the tail of a code or a decimal: INV-2026, v3.5
        if not (m["cur"] or m["yuan"] or _UNITS.intersection(body)) or not _DIGITS.intersection(body):
            continue
        if (value := _yuan(body)) is not None:
            return value
    return None


#: A numeral right after one of these is part of something else (a code, a version, a decimal).
_GLUED = frozenset("0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_/")


@functools.lru_cache(maxsize=4096)  # cn2an costs ~0.25 ms a call; reps repeat the same few amounts
def _yuan(body: str) -> int | None:
    """The positive whole yuan of a numeral, or None when it cannot be read."""
    text = "".join(body.split()).replace(",", "").replace("，", "")
    text = text.replace("k", "千").replace("K", "千").replace("w", "万").replace("W", "万")
    if not text or len(text) > _MAX_BODY:
        return None
    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    yuan = int(round(value))
    return yuan if yuan > 0 else None


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
