"""The date resolver, against Wednesday 2026-03-04 unless a row says otherwise."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.dates import resolve_date

WED = date(2026, 3, 4)


@pytest.mark.parametrize(
    ("text", "today", "direction", "expected"),
    [
        ("今天上午电话沟通", WED, "past", date(2026, 3, 4)),
        ("昨天", WED, "past", date(2026, 3, 3)),
        ("昨日下午拜访", WED, "past", date(2026, 3, 3)),
        ("前天", WED, "past", date(2026, 3, 2)),
        ("明天回电", WED, "future", date(2026, 3, 5)),
        ("后天去现场", WED, "future", date(2026, 3, 6)),
        ("大后天", WED, "future", date(2026, 3, 7)),
        ("上周五", WED, "past", date(2026, 2, 27)),
        ("上周日", WED, "past", date(2026, 3, 1)),  # weeks run Monday to Sunday
        ("本周五", WED, "future", date(2026, 3, 6)),
        ("这周一", WED, "past", date(2026, 3, 2)),
        ("下周三上门演示", WED, "future", date(2026, 3, 11)),
        ("下个星期一", WED, "future", date(2026, 3, 9)),
        # A bare weekday: latest on or before for the past, earliest on or after for the future.
        ("周五", WED, "past", date(2026, 2, 27)),
        ("周五", WED, "future", date(2026, 3, 6)),
        ("星期三", WED, "past", date(2026, 3, 4)),
        ("礼拜三", WED, "future", date(2026, 3, 4)),
        ("周四报价", WED, "future", date(2026, 3, 5)),
        ("周日", WED, "future", date(2026, 3, 8)),
        ("3月1日", WED, "past", date(2026, 3, 1)),
        ("3月1号见的面", WED, "past", date(2026, 3, 1)),
        ("三月五日", WED, "future", date(2026, 3, 5)),
        ("3/5", WED, "future", date(2026, 3, 5)),
        ("3-5", WED, "future", date(2026, 3, 5)),
        # Month-day without a year: roll over to stay on the right side of sent_at.
        ("3/5", WED, "past", date(2025, 3, 5)),
        ("12月28日", date(2026, 1, 5), "past", date(2025, 12, 28)),
        ("1/6", date(2026, 12, 28), "future", date(2027, 1, 6)),
        ("2026-03-05", WED, "future", date(2026, 3, 5)),
        ("2026年3月5日", WED, "past", date(2026, 3, 5)),
        ("2026/2/27", WED, "past", date(2026, 2, 27)),
        ("月底前签合同", WED, "future", date(2026, 3, 31)),
        ("下月初", WED, "future", date(2026, 4, 1)),
        ("下个月底", date(2026, 1, 20), "future", date(2026, 2, 28)),
        ("上月底", WED, "past", date(2026, 2, 28)),
        ("12月底", WED, "future", date(2026, 12, 31)),
        # 下一步 dates up to 60 days back are overdue plans in this year, not next year's (issue 12).
        ("2月底", WED, "future", date(2026, 2, 28)),
        ("11月10日签合同", date(2026, 11, 25), "future", date(2026, 11, 10)),
        ("11/10前回款", date(2026, 11, 25), "future", date(2026, 11, 10)),
        ("十一月十日上门", date(2026, 11, 25), "future", date(2026, 11, 10)),
        ("10月初给报价", date(2026, 11, 25), "future", date(2026, 10, 1)),
        ("1月3日", WED, "future", date(2026, 1, 3)),  # exactly 60 days before: still overdue
        ("1月2日", WED, "future", date(2027, 1, 2)),  # 61 days before: next year
        ("9月1日签约", date(2026, 11, 25), "future", date(2027, 9, 1)),
        ("2月底", date(2027, 12, 1), "future", date(2028, 2, 29)),  # the month's end in the year it lands in
        ("12月底", date(2027, 1, 10), "future", date(2027, 12, 31)),  # after sent_at: this year
        # 上次沟通时间 keeps its own rule: never after sent_at.
        ("11月30日", date(2026, 11, 25), "past", date(2025, 11, 30)),
        ("11月10日", date(2026, 11, 25), "past", date(2026, 11, 10)),
        # Ranges and fractions of counted things are no dates.
        ("3-5个工作日内交付", WED, "future", None),
        ("预计1-2天", WED, "future", None),
        # No single day.
        ("上周", WED, "past", None),
        ("年后再说", WED, "future", None),
        ("尽快", WED, "future", None),
        ("2月30日", WED, "past", None),
        ("", WED, "past", None),
    ],
)
def test_resolve_date(text: str, today: date, direction: str, expected: date | None) -> None:
    assert resolve_date(text, today, direction) == expected


_ALPHABET = "0123456789一二三十两零月日号/-年底初上下本周星期天个 "


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(list(_ALPHABET)), max_size=16).map("".join),
    direction=st.sampled_from(["past", "future"]),
)
def test_resolver_never_raises(text: str, direction: str) -> None:
    found = resolve_date(text, WED, direction)
    assert found is None or isinstance(found, date)
