"""Posting windows: 09:00-11:00 and 14:00-17:00 Asia/Shanghai on mainland workdays, urgent exempt."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from rules.config import PostingWindowSettings, TimeWindow
from rules.model import Facts, GroupMessage
from rules.posting_window import PostingWindow
from tests.conftest import sh

RULE = PostingWindow.from_settings(PostingWindowSettings())
WORKDAY_DETAIL = "sent {} outside 09:00-11:00, 14:00-17:00 on a workday"


def check(rule: PostingWindow, sent_at: datetime, text: str):
    msg = GroupMessage(msgid="m-1", chat_id="wr-sales-east", sender="zhangwei", sent_at=sent_at, text=text)
    return rule.check(msg, Facts(masked_text=text))


@pytest.mark.parametrize(
    ("sent_at", "text", "detail"),
    [
        # Every window boundary on Monday 2026-03-02 (start inclusive, end exclusive).
        (sh(2026, 3, 2, 8, 59, 59), "早上好，今天拜访华星科技", WORKDAY_DETAIL.format("08:59")),
        (sh(2026, 3, 2, 9, 0, 0), "早上好，今天拜访华星科技", None),
        (sh(2026, 3, 2, 10, 59, 59), "报价单已发王总", None),
        (sh(2026, 3, 2, 11, 0, 0), "报价单已发王总", WORKDAY_DETAIL.format("11:00")),
        (sh(2026, 3, 2, 13, 59, 59), "下午去仓库看现场", WORKDAY_DETAIL.format("13:59")),
        (sh(2026, 3, 2, 14, 0, 0), "下午去仓库看现场", None),
        (sh(2026, 3, 2, 16, 59, 59), "合同已盖章寄出", None),
        (sh(2026, 3, 2, 17, 0, 0), "合同已盖章寄出", WORKDAY_DETAIL.format("17:00")),
        (sh(2026, 3, 2, 21, 40), "明天的会改到十点", WORKDAY_DETAIL.format("21:40")),
        # The same instant written in UTC is judged in Asia/Shanghai (01:30Z = 09:30 local).
        (datetime(2026, 3, 2, 1, 30, tzinfo=UTC), "早会纪要已发", None),
        (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "早会纪要已发", WORKDAY_DETAIL.format("11:00")),
        # Urgent markers, exactly the three configured.
        (sh(2026, 3, 2, 21, 40), "【紧急】华星科技服务器宕机，请技术支持", None),
        (sh(2026, 3, 2, 21, 40), "[紧急] 客户明早要报价", None),
        (sh(2026, 3, 2, 21, 40), "客户投诉，需要今晚回复 #紧急", None),
        (sh(2026, 3, 2, 21, 40), "【加急】客户明早要报价", WORKDAY_DETAIL.format("21:40")),
        (sh(2026, 3, 2, 21, 40), "［紧急］客户明早要报价", WORKDAY_DETAIL.format("21:40")),
        (sh(2026, 3, 2, 21, 40), "紧急！客户明早要报价", WORKDAY_DETAIL.format("21:40")),
        # Spring Festival 2026 (Tuesday 02-17): a holiday, even at 10:00.
        (
            sh(2026, 2, 17, 10, 0),
            "给王总拜年了",
            "sent 10:00 on Tuesday 2026-02-17, not a workday (allowed 09:00-11:00, 14:00-17:00 on workdays)",
        ),
        (sh(2026, 2, 17, 10, 0), "【紧急】客户系统故障，初二也得处理", None),
        # 调休 make-up Saturdays are workdays; an ordinary Saturday is not.
        (sh(2026, 2, 14, 10, 0), "补班，上午整理客户清单", None),
        (sh(2026, 2, 28, 15, 30), "补班，下午回访老客户", None),
        (
            sh(2026, 3, 7, 10, 0),
            "周末也在跟进华星科技",
            "sent 10:00 on Saturday 2026-03-07, not a workday (allowed 09:00-11:00, 14:00-17:00 on workdays)",
        ),
    ],
)
def test_posting_window(sent_at: datetime, text: str, detail: str | None) -> None:
    violation = check(RULE, sent_at, text)
    assert (violation.detail if violation else None) == detail
    if violation:
        assert violation.rule == "posting_window"


def test_group_settings_change_windows_and_weekends() -> None:
    rule = PostingWindow.from_settings(
        PostingWindowSettings(windows=(TimeWindow(start=time(8, 30), end=time(20, 0)),), workdays_only=False)
    )
    assert check(rule, sh(2026, 3, 7, 19, 59), "周末值班") is None
    violation = check(rule, sh(2026, 3, 7, 20, 0), "周末值班")
    assert violation is not None and violation.detail == "sent 20:00 outside 08:30-20:00 on a workday"


def test_rule_prints_its_settings() -> None:
    assert "PostingWindow(settings=" in repr(RULE) and "urgent_markers" in repr(RULE)
