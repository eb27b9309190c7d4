"""Follow-up reports: detect them, read the six labelled fields, list the missing ones.

A label (`客户：`, `公司名称:` ...) starts the message (after a 【跟进】/#跟进 prefix), a line, or a
segment after `；` `;` `，`; its value runs until the next label's separator or the line's end.
The parser is compiled once per group from TemplateSettings (one regex, longest alias first).
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


class LabelParser:
    """Finds `label：value` pairs; `labels` maps every spelling (label or alias) to a key."""

    __slots__ = ("_pattern", "_key_of")

    def __init__(self, labels: dict[str, str]) -> None:
        self._key_of = dict(labels)
        spellings = sorted(labels, key=len, reverse=True)  # the longest alias wins
        alternation = "|".join(re.escape(s) for s in spellings)
        self._pattern = re.compile(rf"(?:\A|(?<=[{_SEPARATORS}]))[ \t\u3000]*({alternation})[ \t\u3000]*[:：]")

    def parse(self, text: str) -> dict[str, str]:
        """{key: trimmed value} in text order; the first occurrence of a key wins."""
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
            if key not in values:
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
        )

    def check(self, msg: GroupMessage, facts: Facts) -> Violation | None:
        """`facts.update`: the report parsed from the masked text (None: not a report, or a deal)."""
        update = facts.update
        if update is None or not update.missing:
            return None
        labels = ", ".join(self.settings.fields[name].label for name in update.missing)
        return Violation(rule="template", detail=f"follow-up report is missing: {labels}", missing=update.missing)
