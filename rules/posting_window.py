"""Posting windows: work messages only in the configured hours of mainland-China workdays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import ClassVar
from zoneinfo import ZoneInfo

from rules.config import PostingWindowSettings, RulesConfig
from rules.model import Facts, GroupMessage, Violation
from rules.workdays import WorkCalendar

# Spelled out rather than strftime("%A"), which follows the process locale.
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class PostingWindow:
    """Work posts only 09:00-11:00 and 14:00-17:00 on workdays; 【紧急】, [紧急] or #紧急 is always allowed.

    Example: "报价单已发客户" sent Monday 21:40 breaks the rule; "【紧急】客户现场停机" does not.
    Windows start inclusive and end exclusive, in `settings.timezone`.
    """

    exemptible: ClassVar[bool] = True

    settings: PostingWindowSettings
    calendar: WorkCalendar = field(repr=False, compare=False)
    zone: ZoneInfo = field(repr=False, compare=False)
    #: (start, end) pairs and their printed form, computed once: check runs on every message.
    spans: tuple[tuple[time, time], ...] = field(default=(), repr=False, compare=False)
    spans_text: str = field(default="", repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: PostingWindowSettings, calendar: WorkCalendar | None = None) -> PostingWindow:
        calendar = calendar or WorkCalendar(settings.extra_holidays, settings.extra_workdays)
        return cls(
            settings=settings,
            calendar=calendar,
            zone=ZoneInfo(settings.timezone),
            spans=tuple((w.start, w.end) for w in settings.windows),
            spans_text=", ".join(str(w) for w in settings.windows),
        )

    @classmethod
    def build(cls, rules: RulesConfig, calendar: WorkCalendar) -> PostingWindow:
        return cls.from_settings(rules.posting_window, calendar)

    def is_urgent(self, text: str) -> bool:
        return any(marker in text for marker in self.settings.urgent_markers)

    def check(self, msg: GroupMessage, facts: Facts) -> Violation | None:
        local = msg.sent_at.astimezone(self.zone)
        clock = local.time()
        workday = not self.settings.workdays_only or self.calendar.is_workday(local.date())
        if workday:
            for start, end in self.spans:
                if start <= clock < end:
                    return None
        if self.is_urgent(msg.text):
            return None
        windows = self.spans_text
        if workday:
            detail = f"sent {local:%H:%M} outside {windows} on a workday"
        else:
            day = _WEEKDAY_NAMES[local.weekday()]
            detail = f"sent {local:%H:%M} on {day} {local:%Y-%m-%d}, not a workday (allowed {windows} on workdays)"
        return Violation(rule="posting_window", detail=detail)
