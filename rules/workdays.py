"""Mainland-China working days: statutory holidays and 调休 make-up days, patchable from config.

`chinesecalendar` ships the State Council's schedule a year at a time and raises
NotImplementedError for a year it does not know yet. Such a year falls back to Monday-Friday; the
calendar records the year in `unknown_years` and calls `on_unknown_year(year)` once, so the caller
(bot/handlers, which may log) warns once per year while rules/ stays free of logging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

import chinese_calendar


class WorkCalendar:
    """Is a date a working day? Example: WorkCalendar().is_workday(date(2026, 2, 14)) is True (调休).

    `extra_holidays` / `extra_workdays` override the package (an admin patching a year it lacks).
    Answers are cached per date: the package costs ~34 µs a call, the cache a dict lookup.
    """

    __slots__ = ("extra_holidays", "extra_workdays", "unknown_years", "_on_unknown_year", "_cache")

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        *,
        on_unknown_year: Callable[[int], None] | None = None,
    ) -> None:
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        #: Years the package did not know, answered Monday-Friday (each reported once).
        self.unknown_years: set[int] = set()
        self._on_unknown_year = on_unknown_year
        self._cache: dict[date, bool] = {}

    def __repr__(self) -> str:
        return (
            f"WorkCalendar(extra_holidays={sorted(self.extra_holidays)}, extra_workdays={sorted(self.extra_workdays)})"
        )

    def is_workday(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is None:
            cached = self._cache[day] = self._compute(day)
        return cached

    def _compute(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self.unknown_years:
                self.unknown_years.add(day.year)
                if self._on_unknown_year is not None:
                    self._on_unknown_year(day.year)
            return day.weekday() < 5
