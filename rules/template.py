"""Follow-up reports: detect them, read the six labelled fields, list the missing ones.

A label (`客户：`, `公司名称:` ...) starts the message (after a 【跟进】/#跟进 prefix), a line, a
segment after `；` `;` `，`, or (labels are always written with their colon) a word after spaces, so
a one-line report `客户姓名：张三 公司名称：华星科技 …` has all its fields; a value runs until the
next label's separator or the line's end. The parser is compiled once per group from
TemplateSettings (one regex, longest alias first).

A client name or company that still holds a colon or a label (`张学友 公司名称 阿里云`, a label
written without its colon) was not read: the field is treated as not filled (None, listed in
`missing`, named in `unreadable`), so no client is ever created from a garbled value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, ClassVar

from rules.config import RulesConfig, TemplateSettings
from rules.dates import resolve_date
from rules.model import FOLLOW_UP_FIELDS, ClientUpdate, Facts, GroupMessage, Violation

if TYPE_CHECKING:
    from rules.workdays import WorkCalendar

#: Trimmed from either end of a value (the contract's list plus ideographic space).
_TRIM = " \t\r\u3000。；;，,"
_SEPARATORS = "\n；;，"
#: Before a label with its colon, spaces end a value too (one-line reports).
_SPACES = " \t\u3000"
#: The fields that identify a client: a garbled value here must not create a client.
_IDENTIFYING = ("client_name", "company")


class LabelParser:
    """Finds `label：value` pairs; `labels` maps every spelling (label or alias) to a key."""

    __slots__ = ("_pattern", "_key_of", "_inner_label")

    def __init__(self, labels: dict[str, str]) -> None:
        self._key_of = dict(labels)
        spellings = sorted(labels, key=len, reverse=True)  # the longest alias wins
        alternation = "|".join(re.escape(s) for s in spellings)
        self._pattern = re.compile(
            rf"(?:\A|(?<=[{_SEPARATORS}{_SPACES}]))[{_SPACES}]*({alternation})[{_SPACES}]*[:：]"
        )
        # Inside a name or company, the short aliases (公司, 单位, 企业, 客户 …) are ordinary words
        # (华星科技有限公司); only spellings of three or more characters betray a missed label.
        inner = sorted((s for s in labels if len(s) >= 3), key=len, reverse=True)
        self._inner_label = re.compile("|".join(re.escape(s) for s in inner) or r"(?!)")

    def garbled(self, value: str) -> bool:
        """Whether `value` still holds a colon or a label: a field the parser did not separate."""
        return "：" in value or ":" in value or self._inner_label.search(value) is not None

    def parse(self, text: str) -> dict[str, str]:
        """{key: trimmed value} in text order; the first non-empty occurrence of a key wins."""
        if "：" not in text and ":" not in text:  # no colon, no label: skip the regex
            return {}
        matches = list(self._pattern.finditer(text))
        values: dict[str, str] = {}
        for i, m in enumerate(matches):
            end = matches[i + 1].start() - 1 if i + 1 < len(matches) else len(text)
            newline = text.find("\n", m.end(), end)
            if newline != -1:
                end = newline
            key = self._key_of[m.group(1)]
            if not values.get(key):  # a later label fills a field left empty (联系方式： 微信：ab****)
                values[key] = text[m.end() : max(end, m.end())].strip(_TRIM)
        return values


def strip_prefix(text: str, prefixes: tuple[str, ...]) -> tuple[bool, str]:
    """(whether `text` starts with one of `prefixes`, the text after it and its spaces)."""
    if not text.startswith(prefixes) and not text[:1].isspace():
        return False, text  # the common case, without copying the text
    head = text.lstrip()
    for prefix in prefixes:
        if head.startswith(prefix):
            return True, head[len(prefix) :].lstrip(" \t\u3000")
    return False, text


def template_labels(settings: TemplateSettings) -> dict[str, str]:
    """Every label and alias of the six fields, mapped to the canonical field name."""
    labels: dict[str, str] = {}
    for name, spec in settings.fields.items():
        for spelling in (spec.label, *spec.aliases):
            labels.setdefault(spelling, name)
    return labels


@dataclass(frozen=True, slots=True)
class FollowUpTemplate:
    """A follow-up report carries all six fields: 客户姓名, 公司名称, 联系方式, 需求描述, 上次沟通时间, 下一步行动计划.

    Example: "【跟进】客户：王总；公司：华星科技；需求：仓储系统改造" is a violation missing
    联系方式, 上次沟通时间, 下一步行动计划.
    """

    exemptible: ClassVar[bool] = True

    settings: TemplateSettings
    parser: LabelParser = field(repr=False, compare=False)

    @classmethod
    def build(cls, rules: RulesConfig, calendar: WorkCalendar) -> FollowUpTemplate:
        """Deal amount labels end a value too (a deal report's client is read with the same parser)."""
        return cls.from_settings(rules.template, rules.deals.amount_labels)

    @classmethod
    def from_settings(cls, settings: TemplateSettings, extra_labels: Iterable[str] = ()) -> FollowUpTemplate:
        """`extra_labels` (deal amount labels) end a value too but count as no field."""
        labels = template_labels(settings) | {label: label for label in extra_labels}
        return cls(settings=settings, parser=LabelParser(labels))

    def parse(self, text: str, today: date) -> ClientUpdate | None:
        """The report in `text` (sent on `today`), or None when `text` is not a follow-up report."""
        prefixed, body = strip_prefix(text, self.settings.prefixes)
        fields = {k: v for k, v in self.parser.parse(body).items() if k in FOLLOW_UP_FIELDS}
        if len(fields) < self.settings.min_labels and not prefixed:
            return None
        unreadable = tuple(name for name in _IDENTIFYING if fields.get(name) and self.parser.garbled(fields[name]))
        for name in unreadable:
            fields[name] = ""
        missing = tuple(name for name in FOLLOW_UP_FIELDS if not fields.get(name))
        last, plan = fields.get("last_contact_at"), fields.get("next_action")
        return ClientUpdate(
            client_name=fields.get("client_name") or None,
            company=fields.get("company") or None,
            contact=fields.get("contact") or None,
            need=fields.get("need") or None,
            last_contact_at=resolve_date(last, today, "past") if last else None,
            next_action=plan or None,
            next_action_due=resolve_date(plan, today, "future") if plan else None,
            missing=missing,
            unreadable=unreadable,
        )

    @property
    def expected_format(self) -> str:
        """The report written on one line with the configured labels, shown to a rep who got it wrong."""
        return format_example(self.settings)

    def check(self, msg: GroupMessage, facts: Facts) -> Violation | None:
        """`facts.update`: the report parsed from the masked text (None: not a report, or a deal)."""
        update = facts.update
        if update is None or not update.missing:
            return None
        labels = ", ".join(self.settings.fields[name].label for name in update.missing)
        return Violation(
            rule="template",
            detail=f"follow-up report is missing: {labels}",
            missing=update.missing,
            recognised=update.recognised,
            unreadable=update.unreadable,
            expected_format=self.expected_format,
        )


def identifying_value(parser: LabelParser, values: dict[str, str], name: str) -> str | None:
    """`values[name]` for client_name/company, or None when absent, empty or garbled (deal reports)."""
    value = values.get(name)
    return value if value and not parser.garbled(value) else None


#: What each field looks like in the one-line example (placeholders, never a real identifier).
_PLACEHOLDERS = {
    "client_name": "王总",
    "company": "华星科技",
    "contact": "138****5678",
    "need": "仓储系统改造",
    "last_contact_at": "昨天",
    "next_action": "周五报价",
}


def format_example(settings: TemplateSettings) -> str:
    """`【跟进】客户姓名：王总 公司名称：华星科技 联系方式：138****5678 …` from the configured prefix and labels.

    One line with spaces between fields, the form the contract accepts since issue 12; a masked
    contact shows reps what to write in 联系方式 instead of a clear number.
    """
    prefix = settings.prefixes[0] if settings.prefixes else ""
    if prefix and prefix[-1] not in "】]":
        prefix += " "  # "#跟进 客户姓名：…", as reps type the hashtag form
    fields = " ".join(f"{settings.fields[name].label}：{_PLACEHOLDERS[name]}" for name in FOLLOW_UP_FIELDS)
    return f"{prefix}{fields}"
