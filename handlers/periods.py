"""Local days and months as UTC ranges and the scheduler's period keys (rule names: handlers.wording)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_range(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """`[day 00:00, next day 00:00)` in `tz`."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def previous_month(now: datetime, tz: ZoneInfo) -> date:
    """The first day of the month before the one `now` falls in (local time)."""
    first = now.astimezone(tz).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def month_range(first: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """`[1st 00:00, 1st of next month 00:00)` in `tz`."""
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(first, time(0), tzinfo=tz), datetime.combine(following, time(0), tzinfo=tz)


def day_period(now: datetime, tz: ZoneInfo) -> str:
    """Claim key of a daily job: the local date, '2026-11-23'."""
    return now.astimezone(tz).date().isoformat()


def month_period(now: datetime, tz: ZoneInfo) -> str:
    """Claim key of the monthly evaluation: the month reported on, '2026-10'."""
    return f"{previous_month(now, tz):%Y-%m}"


def truncate_utf8(text: str, limit: int, tail: str = "\n……") -> str:
    """Cut `text` to at most `limit` UTF-8 bytes at a line boundary, marking the cut."""
    if len(text.encode()) <= limit:
        return text
    lines = text.split("\n")
    while lines and len(("\n".join(lines) + tail).encode()) > limit:
        lines.pop()
    return "\n".join(lines) + tail
