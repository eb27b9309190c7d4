"""Business periods (today, this week, a date range typed into a form) as UTC bounds."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def today_bounds(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = day_start(now.astimezone(zone).date(), zone)
    return start, start + timedelta(days=1)


def week_bounds(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to next Monday 00:00 in the business time zone."""
    today = now.astimezone(zone).date()
    start = day_start(today - timedelta(days=today.weekday()), zone)
    return start, start + timedelta(days=7)


def range_bounds(since: date | None, until: date | None, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """Inclusive calendar dates from a form to [start, end) datetimes; ValueError outside 1970-2999."""
    for value in (since, until):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"date {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    start = day_start(since, zone) if since else None
    end = day_start(until + timedelta(days=1), zone) if until else None
    return start, end
