"""Customers' private contact details and financial status stay out of sales groups.

"王总手机13812345678，他们公司负债不少" is a `sensitive` violation of kinds mobile and financial;
the stored and forwarded text reads "王总手机138****5678，他们公司负债不少". Identifiers (mobile,
id_card, bank_card, email, im_account) are always found and masked, even when the rule or a kind is
switched off, because privacy must hold whatever a manager turns off; `enabled` and `kinds` decide
only whether a finding is a violation. Financial statements are flagged, never masked.

Everything is built once per settings: compiled regexes and one Aho-Corasick automaton for every
phrase list (built-in financial phrases, `financial_keywords`, `financial_exclusions`,
`custom_keywords`). Custom regexes (`custom_patterns`) are few by nature and run one by one, on RE2 (linear time).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from rules.config import RulesConfig, SensitiveSettings, compile_custom_regex
from rules.detectors import financial
from rules.detectors.digit_runs import find_numbers
from rules.detectors.email import find_emails
from rules.detectors.im_account import find_im_accounts
from rules.keywords import KeywordAutomaton
from rules.masking import mask_value
from rules.model import Facts, Finding, GroupMessage, SensitiveKind, Violation

if TYPE_CHECKING:
    from rules.workdays import WorkCalendar

#: How a rep reads each kind in a violation's detail (never the value itself).
KIND_NAMES: dict[str, str] = {
    "mobile": "mobile number",
    "id_card": "resident ID number",
    "bank_card": "bank card number",
    "email": "e-mail address",
    "im_account": "WeChat/QQ account",
    "financial": "financial status",
}

# When two findings overlap, the lower rank wins: an e-mail holds a mobile-looking local part
# (13812345678@qq.com), and 微信：13812345678 is a mobile before it is an account.
_RANK_EMAIL, _RANK_NUMBER, _RANK_IM, _RANK_CUSTOM_ID, _RANK_FLAGGED = range(5)

_Tag = str | tuple[str, SensitiveKind]


class SensitiveRule:
    """Finds personal identifiers and financial statements; says which of them break the rule."""

    __slots__ = ("settings", "_keywords", "_patterns")

    #: Nobody is exempt from privacy by role: only the rule's own `exempt_members` setting exempts.
    exemptible: ClassVar[bool] = False

    def __init__(self, settings: SensitiveSettings) -> None:
        self.settings = settings
        entries: list[tuple[str, _Tag]] = list(
            financial.keyword_entries(settings.financial_keywords, settings.financial_exclusions)
        )
        for phrase_list in settings.custom_keywords:
            tag: _Tag = ("custom", phrase_list.kind)
            entries.extend((word, tag) for word in phrase_list.words)
        self._keywords: KeywordAutomaton[_Tag] = KeywordAutomaton(entries)
        self._patterns = tuple((compile_custom_regex(p.regex), p.kind) for p in settings.custom_patterns)

    @classmethod
    def build(cls, rules: RulesConfig, calendar: WorkCalendar) -> SensitiveRule:
        return cls(rules.sensitive)

    def __repr__(self) -> str:
        return (
            f"SensitiveRule(enabled={self.settings.enabled}, kinds={list(self.settings.kinds)}, "
            f"phrases={len(self._keywords)}, patterns={len(self._patterns)})"
        )

    def scan(self, text: str) -> tuple[Finding, ...]:
        """Every finding in `text`, sorted by start, none overlapping."""
        if not text:
            return ()
        ranked: list[tuple[int, Finding]] = [(_RANK_EMAIL, f) for f in find_emails(text)]
        ranked += [(_RANK_NUMBER, f) for f in find_numbers(text)]
        ranked += [(_RANK_IM, f) for f in find_im_accounts(text)]
        hits = self._keywords.find(text)
        flagged: list[tuple[int, Finding]] = [(_RANK_FLAGGED, f) for f in financial.find_financial(text, hits)]
        custom = [(tag[1], s, e) for tag, s, e in hits if isinstance(tag, tuple)] if hits else []
        for regex, kind in self._patterns:
            custom += [(kind, m.start(), m.end()) for m in regex.finditer(text) if m.end() > m.start()]
        for kind, start, end in custom:
            mask = mask_value(kind, text[start:end])
            ranked.append((_RANK_FLAGGED if mask is None else _RANK_CUSTOM_ID, Finding(kind, start, end, mask)))
        ranked += flagged
        if len(ranked) < 2:
            return (ranked[0][1],) if ranked else ()
        return _resolve(ranked)

    def check(self, msg: GroupMessage, facts: Facts) -> Violation | None:
        """The `sensitive` violation for `facts.findings`, or None when no listed kind is among them."""
        kinds = sorted({f.kind for f in facts.findings} & set(self.settings.kinds))
        if not kinds:
            return None
        return Violation(rule="sensitive", detail=describe(kinds), kinds=tuple(kinds))


def describe(kinds: Iterable[str]) -> str:
    """The detail, e.g. "customer mobile number and financial status shared in group"; never values."""
    present = set(kinds)
    names = [name for kind, name in KIND_NAMES.items() if kind in present]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"customer {listed} shared in group"


def _resolve(ranked: list[tuple[int, Finding]]) -> tuple[Finding, ...]:
    starts: list[int] = []
    kept: list[Finding] = []
    for _, finding in sorted(ranked, key=lambda r: (r[0], r[1].start, r[1].start - r[1].end)):
        # `kept` stays sorted and disjoint, so only the neighbours at the insertion point can overlap.
        k = bisect_left(starts, finding.start)
        if k and kept[k - 1].end > finding.start:
            continue
        if k < len(kept) and kept[k].start < finding.end:
            continue
        starts.insert(k, finding.start)
        kept.insert(k, finding)
    return tuple(kept)
