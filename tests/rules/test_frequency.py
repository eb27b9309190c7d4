"""Frequency: at most 10 messages per member per group in any 60 minutes, (t - 60 min, t]."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rules.config import FrequencySettings
from rules.frequency import Frequency, FrequencyHistory
from rules.model import Facts, GroupMessage
from tests.conftest import sh

RULE = Frequency(FrequencySettings())
START = sh(2026, 3, 2, 9, 0)


def check(sent_at: datetime, prior: list[datetime], chat: str = "wr-sales-east"):
    msg = GroupMessage(msgid="m-1", chat_id=chat, sender="zhangwei", sent_at=sent_at, text="收到")
    return RULE.check(msg, Facts(masked_text="收到", prior=prior))


def test_burst_of_twelve_flags_the_eleventh_and_twelfth() -> None:
    history = FrequencyHistory(keep=10, horizon=RULE.window)
    flagged = []
    for i in range(12):
        sent_at = START + timedelta(minutes=2 * i)
        violation = check(sent_at, history.prior("wr-sales-east", "zhangwei", sent_at))
        history.add("wr-sales-east", "zhangwei", sent_at)
        if violation:
            flagged.append((i + 1, violation.detail))
    assert flagged == [
        (11, "more than 10 messages in this group within 60 minutes"),
        (12, "more than 10 messages in this group within 60 minutes"),
    ]


def test_same_burst_split_across_two_groups_is_fine() -> None:
    history = FrequencyHistory(keep=10, horizon=RULE.window)
    flagged = []
    for i in range(12):
        chat = "wr-sales-east" if i % 2 else "wr-sales-south"
        sent_at = START + timedelta(minutes=2 * i)
        if check(sent_at, history.prior(chat, "zhangwei", sent_at), chat):
            flagged.append(i + 1)
        history.add(chat, "zhangwei", sent_at)
    assert flagged == []


@pytest.mark.parametrize(
    ("offsets_minutes", "expected"),
    [
        ([0] * 10, True),  # ten at the very same instant, plus this one: 11
        ([-59] * 10, True),  # 59 minutes ago is inside the window
        ([-60] * 10, False),  # exactly 60 minutes ago is outside (t - 60 min is open)
        ([-60] + [-1] * 9, False),  # nine inside plus this one: 10
        ([1] * 10, False),  # later messages never count
    ],
)
def test_window_edges(offsets_minutes: list[int], expected: bool) -> None:
    t = sh(2026, 3, 2, 10, 0)
    prior = [t + timedelta(minutes=m) for m in offsets_minutes]
    assert (check(t, prior) is not None) is expected


def test_history_stays_bounded() -> None:
    history = FrequencyHistory(keep=3, horizon=timedelta(minutes=60))
    for i in range(10):
        history.add("wr-sales-east", "zhangwei", START + timedelta(seconds=i))
    assert len(history.prior("wr-sales-east", "zhangwei", START + timedelta(seconds=10))) == 3
    assert history.prior("wr-sales-east", "lisi", START) == []
