"""Violations per week by rule (the trend chart on the overview and on each rep's scorecard)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKS = 12


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last `weeks` ISO weeks, oldest first, the current one last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def window(today: date, tz: ZoneInfo, weeks: int = WEEKS) -> tuple[datetime, datetime]:
    """The aware `[first Monday 00:00, next Monday 00:00)` range the weekly buckets cover."""
    first = week_starts(today, weeks)[0]
    monday = today - timedelta(days=today.weekday())
    return (datetime.combine(first, time(0), tzinfo=tz),
            datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz))


def weekly_by_rule(
    rows: Iterable[tuple[datetime, str]], *, today: date, tz: ZoneInfo, rules: Iterable[str], weeks: int = WEEKS
) -> tuple[list[str], dict[str, list[int]]]:
    """Week labels ('11/23') and, per rule, a count per week (zeros included, every rule listed)."""
    starts = week_starts(today, weeks)
    index = {d: i for i, d in enumerate(starts)}
    series = {rule: [0] * len(starts) for rule in rules}
    for at, rule in rows:
        local = at.astimezone(tz).date()
        i = index.get(local - timedelta(days=local.weekday()))
        if i is not None:
            series.setdefault(rule, [0] * len(starts))[i] += 1
    return [f"{d.month}/{d.day}" for d in starts], series
