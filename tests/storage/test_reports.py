"""Report aggregates in SQL: half-open UTC ranges, void violations ignored, per group or company."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from storage import reports
from tests.conftest import sh
from tests.helpers import seed

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = (sh(2026, 11, 23), sh(2026, 11, 24))  # Monday 00:00-24:00 Shanghai = Sunday 16:00-Monday 16:00 UTC


@pytest.mark.parametrize(
    ("at", "counted"),
    [
        (sh(2026, 11, 23, 0, 0), True),  # first instant of the day (Sunday 16:00 UTC)
        (sh(2026, 11, 23, 23, 59, 59), True),
        (sh(2026, 11, 22, 23, 59, 59), False),
        (sh(2026, 11, 24, 0, 0), False),  # end is exclusive
    ],
)
def test_range_is_half_open_in_local_time(session, at, counted):
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=at, amount=8_000)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=at)
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=at)
    activity = reports.rep_activity(session, start=DAY[0], end=DAY[1])
    expected = (
        {"zhangwei": reports.RepActivity("zhangwei", 8_000, 1, 1, 1, 1, {"posting_window": 1})} if counted else {}
    )
    assert activity == expected


def test_group_filter_void_violations_and_unparsed_amounts(session):
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 23, 10), amount=None)
    seed.deal(session, sender="zhangwei", chat_id=SOUTH, at=sh(2026, 11, 23, 10), amount=5_000)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 23, 10), complete=False)
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 23, 12), rule="sensitive", status="void")
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 23, 12), rule="frequency",
                   status="handled")
    east = reports.rep_activity(session, start=DAY[0], end=DAY[1], chat_id=EAST)
    # The unread amount is a deal (金额待确认), never ¥0 in the amount.
    assert east == {"zhangwei": reports.RepActivity("zhangwei", 0, 1, 1, 0, 1, {"frequency": 1}, pending_deals=1)}
    company = reports.rep_activity(session, start=DAY[0], end=DAY[1])
    assert (company["zhangwei"].deal_amount, company["zhangwei"].deals, company["zhangwei"].pending_deals) == (
        5_000, 2, 1)


def test_violation_counts_most_frequent_first(session):
    for minute in (1, 2, 3):
        seed.violation(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, 23, 20, minute))
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 23, 12), rule="sensitive")
    seed.violation(session, sender="zhangwei", chat_id=SOUTH, at=sh(2026, 11, 23, 12), rule="template")
    assert reports.violation_counts(session, start=DAY[0], end=DAY[1]) == [
        ("liuyang", "posting_window", 3),
        ("zhangwei", "sensitive", 1),
        ("zhangwei", "template", 1),
    ]
    assert reports.violation_counts(session, start=DAY[0], end=DAY[1], chat_id=SOUTH) == [
        ("zhangwei", "template", 1)
    ]


def test_follow_up_timeliness_compares_with_the_previous_plan(session):
    a = seed.client(session, owner="zhangwei", name="王总", company="华星科技")
    b = seed.client(session, owner="wangfang", name="孙女士", company="青禾餐饮")
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 2, 10), client=a,
                next_action_due=date(2026, 11, 5))
    # Sent 23:30 local on the due date (15:30 UTC the same day): on time.
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 5, 23, 30), client=a,
                next_action_due=date(2026, 11, 9))
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 10, 0, 30), client=a)  # a day late
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 3, 10), client=b)  # no plan before
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 4, 10), client=b)
    november = (sh(2026, 11, 1), sh(2026, 12, 1))
    assert reports.follow_up_timeliness(session, start=november[0], end=november[1], tz=SHANGHAI) == {
        "zhangwei": (1, 1)
    }
    # Only reports sent in the range are judged, but earlier plans still count.
    second_week = (sh(2026, 11, 9), sh(2026, 11, 16))
    assert reports.follow_up_timeliness(session, start=second_week[0], end=second_week[1], tz=SHANGHAI) == {
        "zhangwei": (0, 1)
    }


def test_overdue_posters_and_reporters(session):
    seed.client(session, owner="zhangwei", name="王总", company="华星科技", next_action_due=date(2026, 11, 22))
    seed.client(session, owner="zhangwei", name="刘经理", company="远航物流", next_action_due=date(2026, 11, 10))
    seed.client(session, owner="zhangwei", name="陈总", company="博雅教育", next_action_due=date(2026, 11, 23))
    seed.client(session, owner="wangfang", name="周总", company="南海贸易", chat_id=SOUTH,
                next_action_due=date(2026, 11, 1))
    overdue = reports.overdue_follow_ups(session, today=date(2026, 11, 23), chat_id=EAST)
    assert [c.name for c in overdue] == ["刘经理", "王总"]
    assert len(reports.overdue_follow_ups(session, today=date(2026, 11, 23), limit=2)) == 2
    seed.message(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, 23, 9))
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 23, 10))
    seed.report(session, sender="chenjing", chat_id=SOUTH, at=sh(2026, 11, 23, 10))
    assert reports.posters(session, chat_id=EAST, start=DAY[0], end=DAY[1]) == {"liuyang", "zhangwei"}
    assert reports.reporters(session, chat_id=EAST, start=DAY[0], end=DAY[1]) == {"zhangwei"}
