"""Find the numbers in a message that are resident IDs, bank cards or mobiles.

The three kinds share one cheap tokenizer: a run of ASCII digits, optionally joined by single
spaces or dashes and led by `+`, that touches no other digit or Latin letter (SN2026…, order
codes and e-mail local parts stay out). Full-width digits are read as ASCII first (same length, so
offsets still index the original text). Inside a run, consecutive digit groups are tried longest
first from the left, so `电话13812345678 2份` still finds the mobile and `138 1234 5678` is one
number. Each candidate is tried as an ID first (a number valid as an ID is an ID), then as a card,
then as a mobile. A run right after an order-number label (订单号, 单号, 流水号 …) is not a card or a
mobile: those are the usual 16-19-digit look-alikes (an 18-digit number valid as an ID is
still an ID there: the check digit and birth date make a coincidence unlikely).

Limits: numbers glued to Latin letters (abc13812345678) and groups joined by other characters
(138.1234.5678) are not found; a dot-grouped mobile is rare in chat and a letter-glued digit run
is far more often a product or order code.
"""

from __future__ import annotations

import re

from rules.detectors import bank_card, id_card, mobile
from rules.model import Finding

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋－Ｘｘ\u3000", "0123456789+-Xx ")
# Possessive quantifiers: a run glued to a letter fails at once instead of backtracking digit by digit.
_RUN = re.compile(r"(?<![0-9A-Za-z])\+?[0-9]++(?:[ \-\u00a0][0-9]++)*+[Xx]?(?![0-9A-Za-z])")
_GROUP = re.compile(r"[0-9]+[Xx]?")
_ANY_DIGIT = re.compile(r"[0-9０-９]")
_WIDE_DIGIT = re.compile(r"[０-９]")
# Only labels that name a document number: "寄快递 13812345678" or "phone no. 138…" must still
# be found, so 快递 and No. are deliberately absent.
_ORDER_LABELS = (
    "订单", "单号", "编号", "流水号", "工单号", "发票号", "合同号", "批次号", "序列号", "SN", "S/N",
)  # fmt: skip
_LABEL_TRIM = " :：#-\u00a0\u3000"
#: The shortest number any of the three kinds can be (a mobile).
_MIN_DIGITS = 11
_MAX_DIGITS = 19
_COUNTRY_CODES = ("86", "0086")


def find_numbers(text: str) -> list[Finding]:
    """ID, card and mobile findings in `text`, in order, none overlapping."""
    # Most chat lines hold no digit at all; a plain search is far cheaper than the run pattern.
    if not _ANY_DIGIT.search(text):
        return []
    norm = text.translate(_FULLWIDTH) if _WIDE_DIGIT.search(text) else text
    findings: list[Finding] = []
    for run in _RUN.finditer(norm):
        if run.end() - run.start() < _MIN_DIGITS:
            continue
        groups = [(run.start() + g.start(), run.start() + g.end()) for g in _GROUP.finditer(run.group())]
        labelled = norm[max(0, run.start() - 8) : run.start()].rstrip(_LABEL_TRIM).endswith(_ORDER_LABELS)
        findings.extend(_scan_run(norm, run.start(), groups, labelled))
    return findings


def _scan_run(norm: str, run_start: int, groups: list[tuple[int, int]], labelled: bool) -> list[Finding]:
    found: list[Finding] = []
    i = 0
    while i < len(groups):
        hit = _longest_at(norm, run_start, groups, i, labelled and i == 0)
        if hit is None:
            i += 1
        else:
            found.append(hit[0])
            i = hit[1] + 1
    return found


def _longest_at(
    norm: str, run_start: int, groups: list[tuple[int, int]], i: int, labelled: bool
) -> tuple[Finding, int] | None:
    """The longest finding made of groups i..j, and j; a group shorter than 3 digits ends a range.

    Every kind is written in groups of 3 or more digits, except an 86 country code in front and
    the last group of a card, so a run like 1-2-3-… is dismissed in linear time.
    """
    start, end = groups[i]
    if end - start < 3 and norm[start:end] != "86":
        return None
    ranges: list[tuple[int, list[int]]] = []
    lengths: list[int] = []
    total = 0
    for j in range(i, len(groups)):
        length = groups[j][1] - groups[j][0]
        lengths.append(length)
        total += length
        if total > _MAX_DIGITS + 4:  # +4: a 0086 country code in front of a mobile
            break
        if total >= _MIN_DIGITS:
            ranges.append((j, list(lengths)))
        if j > i and length < 3:  # only a card's last group is this short (4-4-4-4-1)
            break
    for j, range_lengths in reversed(ranges):
        digits = "".join(norm[s:e] for s, e in groups[i : j + 1])
        found = _classify(digits, range_lengths, labelled, run_start if i == 0 else start, groups[j][1])
        if found:
            return found, j
    return None


def _classify(digits: str, lengths: list[int], labelled: bool, start: int, end: int) -> Finding | None:
    if len(digits) == id_card.LENGTH and min(lengths[:-1], default=3) >= 3 and id_card.is_resident_id(digits):
        return Finding(id_card.KIND, start, end, id_card.mask(digits))
    if labelled or not digits.isdigit():
        return None
    if bank_card.is_bank_card(digits) and bank_card.is_card_grouping(lengths):
        return Finding(bank_card.KIND, start, end, bank_card.mask(digits))
    national_lengths = lengths[1:] if len(lengths) > 1 and digits.startswith(_COUNTRY_CODES) else lengths
    if min(national_lengths) >= 3 and (national := mobile.national_mobile(digits)):
        return Finding(mobile.KIND, start, end, mobile.mask(national))
    return None
