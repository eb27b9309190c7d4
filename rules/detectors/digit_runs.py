"""Find the numbers in a message that are resident IDs, bank cards or mobiles.

The three kinds share one cheap tokenizer: a run of ASCII digits, optionally joined by single
spaces, dashes or dots and led by `+` or by three digits in parentheses (`(138)12345678`), that
touches no other digit or Latin letter (SN2026…, order codes and e-mail local parts stay out).
Inside a run, consecutive digit groups are tried longest first from the left, so
`电话13812345678 2份` still finds the mobile and `138 1234 5678` is one number. Each candidate is
tried as an ID first (a number valid as an ID is an ID), then as a card, then as a mobile. Dots
group mobiles only, and only as mobiles are written (138.1234.5678, 138.12345678, 1381234.5678), so
a decimal (13812345.678) stays a number. A run right after an order-number label (订单号, 单号,
流水号 …) is not a card or a mobile: those are the usual 16-19-digit look-alikes (an 18-digit number
valid as an ID is still an ID there: the check digit and birth date make a coincidence unlikely).

Digits written to slip past a filter are the same identifier (contract), and the finding covers
the whole written span:
- full-width digits (１３８…) are read as ASCII (same length, so offsets still index the text);
- every digit separated by one space or symbol (`1 3 8 0 0 1 3 8 0 0 0`, `1-3-8-…`, `1.3.8…`): a
  second tokenizer reads such a run as one number;
- Chinese digit characters (一三八零零一三八零零零, 〇/零 for 0, 幺 for 1, 两, and the financial
  capitals 壹贰叁…): a second reading of the text with them spelled as ASCII digits, kept only where
  it overlaps nothing the plain reading found (so 13812345678一定 stays a mobile).
Cost: most chat lines hold no cluster of eleven digit-like characters at all; one regex search
proves that and the message is done. The Chinese reading runs only when such a cluster holds a
Chinese digit.

Limits: numbers glued to Latin letters (abc13812345678) are not found (far more often a product or
order code), nor digits mixed with other grouping styles (138 1 2 3 4 …).
"""

from __future__ import annotations

import re

from rules.detectors import bank_card, id_card, mobile
from rules.model import Finding

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋－．Ｘｘ\u3000", "0123456789+-.Xx ")
_CN_DIGITS = str.maketrans("〇零一幺二两三四五六七八九壹贰叁肆伍陆柒捌玖", "0011223456789123456789")
_CN_DIGIT = re.compile("[〇零一幺二两三四五六七八九壹贰叁肆伍陆柒捌玖]")
_DIGIT_LIKE = "0-9０-９〇零一幺二两三四五六七八九壹贰叁肆伍陆柒捌玖"
# Eleven digit-like characters (the shortest identifier, a mobile), at most two others between
# two of them: every form any tokenizer below reads has one. Linear: the classes are disjoint.
_CLUSTER = re.compile(rf"[{_DIGIT_LIKE}](?:[^{_DIGIT_LIKE}\n]{{0,2}}[{_DIGIT_LIKE}]){{10,}}")
# Possessive quantifiers: a run glued to a letter fails at once instead of backtracking digit by digit.
_RUN = re.compile(
    r"(?<![0-9A-Za-z])(?:[(（][0-9]{3}[)）][ \-]?|\+)?[0-9]++(?:[ \-\u00a0\u3000.][0-9]++)*+[Xx]?(?![0-9A-Za-z])"
)
# One digit at a time, each after exactly one space or symbol (not a letter, a digit, a Chinese
# character or a line break); an ID's X may close it.
_SEP = r"(?:[^\w\r\n]|_)"
_SPACED = re.compile(rf"(?<![0-9A-Za-z])[0-9](?:{_SEP}[0-9]){{10,}}+(?:{_SEP}[Xx](?![0-9A-Za-z]))?")
_GROUP = re.compile(r"[0-9]+[Xx]?")
_WIDE = re.compile(r"[０-９．]")
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
#: How mobiles are grouped when dots group them (national part): 138.1234.5678, 138.12345678, 1381234.5678.
_DOTTED_MOBILE = ([3, 4, 4], [3, 8], [7, 4])


def find_numbers(text: str) -> list[Finding]:
    """ID, card and mobile findings in `text`, in order, none overlapping."""
    clusters = [m.span() for m in _CLUSTER.finditer(text)]
    if not clusters:  # most chat lines: no eleven digits close together, nothing to find
        return []
    norm = text.translate(_FULLWIDTH) if _WIDE.search(text) else text
    findings = _scan(norm)
    if any(_CN_DIGIT.search(text, start, end) for start, end in clusters):
        findings = _merge(findings, _scan(norm.translate(_CN_DIGITS)))
    return findings


def _scan(norm: str) -> list[Finding]:
    """The findings of both tokenizers on `norm` (ASCII digits), in order, none overlapping."""
    findings: list[Finding] = []
    for run in _RUN.finditer(norm):
        if run.end() - run.start() < _MIN_DIGITS:
            continue
        groups = [(run.start() + g.start(), run.start() + g.end()) for g in _GROUP.finditer(run.group())]
        findings.extend(_scan_run(norm, run.start(), groups, _labelled(norm, run.start())))
    spaced = [f for run in _SPACED.finditer(norm) if (f := _spaced(norm, run))]
    return _merge(findings, spaced) if spaced else findings


def _labelled(norm: str, start: int) -> bool:
    return norm[max(0, start - 8) : start].rstrip(_LABEL_TRIM).endswith(_ORDER_LABELS)


def _spaced(norm: str, run: re.Match[str]) -> Finding | None:
    """A number written one digit at a time, read whole (as an unseparated number is)."""
    end = run.end()
    if end < len(norm) and norm[end].isascii() and norm[end].isalnum():
        end -= 2  # its last digit starts a longer number (… 0 0 12): that digit is not part of it
    digits = norm[run.start() : end : 2]
    if len(digits) < _MIN_DIGITS:
        return None
    return _classify(digits, [len(digits)], _labelled(norm, run.start()), run.start(), end)


def _merge(kept: list[Finding], extra: list[Finding]) -> list[Finding]:
    """`kept` with every finding of `extra` that overlaps none of them, in order."""
    merged = list(kept)
    for finding in extra:
        if all(finding.end <= k.start or k.end <= finding.start for k in kept):
            merged.append(finding)
    return sorted(merged, key=lambda f: f.start)


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
        dotted = any(norm[e] == "." for _, e in groups[i:j])
        found = _classify(digits, range_lengths, labelled, run_start if i == 0 else start, groups[j][1], dotted)
        if found:
            return found, j
    return None


def _classify(
    digits: str, lengths: list[int], labelled: bool, start: int, end: int, dotted: bool = False
) -> Finding | None:
    if dotted:  # dots group mobiles only (contract), and only as mobiles are written
        national = lengths[1:] if len(lengths) > 1 and digits.startswith(_COUNTRY_CODES) else lengths
        if labelled or national not in _DOTTED_MOBILE or not (number := mobile.national_mobile(digits)):
            return None
        return Finding(mobile.KIND, start, end, mobile.mask(number))
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
