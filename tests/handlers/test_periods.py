"""Local days and months as UTC ranges, and the schedulers' period keys."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from handlers import periods
from tests.conftest import sh

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("now", "day", "month"),
    [
        (sh(2026, 11, 23, 9, 5), "2026-11-23", "2026-10"),
        (sh(2026, 1, 5, 9, 0), "2026-01-05", "2025-12"),
        (sh(2026, 3, 1, 0, 0), "2026-03-01", "2026-02"),
        # 23:30 UTC on Oct 31 is already Nov 1 in Shanghai.
        (datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "2026-11-01", "2026-10"),
    ],
)
def test_period_keys_follow_the_local_date(now, day, month):
    assert periods.day_period(now, SHANGHAI) == day
    assert periods.month_period(now, SHANGHAI) == month


@pytest.mark.parametrize(
    ("first", "end"),
    [(date(2026, 2, 1), sh(2026, 3, 1)), (date(2026, 12, 1), sh(2027, 1, 1)), (date(2028, 2, 1), sh(2028, 3, 1))],
)
def test_month_range_is_half_open(first, end):
    assert periods.month_range(first, SHANGHAI) == (datetime(first.year, first.month, 1, tzinfo=SHANGHAI), end)


def test_day_range_starts_at_local_midnight():
    start, end = periods.day_range(date(2026, 11, 23), SHANGHAI)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 11, 22, 16, tzinfo=UTC),
        datetime(2026, 11, 23, 16, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("收到\n好的", 100, "收到\n好的"),
        ("第一行\n第二行\n第三行", 29, "第一行\n第二行\n第三行"),  # exactly 29 bytes: kept whole
        ("第一行\n第二行\n第三行", 28, "第一行\n第二行\n……"),
        ("第一行\n第二行\n第三行", 20, "第一行\n……"),
    ],
)
def test_truncate_utf8_cuts_at_a_line_and_marks_it(text, limit, expected):
    out = periods.truncate_utf8(text, limit)
    assert out == expected and len(out.encode()) <= limit

