"""Stale-client nudges by grade, and the missing-report reminder."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers import nudges
from storage.models import OutboxItemRow
from tests.conftest import sh
from tests.helpers import seed

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
NOW = sh(2026, 11, 23, 10, 0)


def queued(session) -> dict[str, str]:
    return {i.idempotency_key: i.payload["text"]["content"] for i in session.scalars(select(OutboxItemRow))}


@pytest.mark.parametrize(
    ("grade", "last_update", "stale"),
    [
        ("A", sh(2026, 11, 20, 9, 0), True),  # A: more than 3 days
        ("A", sh(2026, 11, 20, 11, 0), False),  # A: 2 days 23 hours
        ("B", sh(2026, 11, 16, 9, 59), True),  # B: just over 7 days
        ("B", sh(2026, 11, 17, 9, 0), False),
        ("C", sh(2026, 11, 9, 9, 0), True),  # C: 14 days and an hour
        ("C", sh(2026, 11, 12, 9, 0), False),
    ],
)
def test_stale_by_grade(session, config, grade, last_update, stale):
    seed.client(session, owner="zhangwei", name="王总", company="华星科技", grade=grade, last_update_at=last_update)
    session.commit()
    assert nudges.nudge_stale_clients(session, config, now=NOW) == int(stale)


def test_one_message_per_rep_listing_their_stale_clients(session, config):
    seed.client(session, owner="zhangwei", name="王总", company="华星科技", grade="A",
                last_update_at=sh(2026, 11, 17, 15, 0))
    seed.client(session, owner="zhangwei", name="刘经理", company="远航物流", grade="C",
                last_update_at=sh(2026, 11, 1, 10, 0))
    seed.client(session, owner="wangfang", name="孙女士", company="青禾餐饮", grade="B",
                last_update_at=sh(2026, 11, 22, 10, 0))
    session.commit()
    assert nudges.nudge_stale_clients(session, config, now=NOW) == 1
    assert queued(session) == {
        "stale_clients:2026-11-23:zhangwei": "\n".join([
            "【客户久未跟进】以下 2 个客户超过规定天数没有跟进记录：",
            "1. 远航物流 刘经理（C级，22天未跟进，要求14天内）",
            "2. 华星科技 王总（A级，6天未跟进，要求3天内）",
            "请尽快联系客户，并在群里发【跟进】报告。",
        ])
    }
    assert nudges.nudge_stale_clients(session, config, now=NOW) == 0


def test_missing_report_reminds_active_reps_without_a_report_today(session, config):
    # Active in 华东 this fortnight: zhangwei (reported today), wangfang (reported yesterday only),
    # liuyang (chatted, no report); lisi is the manager. chenjing is active in both groups.
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 23, 9, 20))
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 22, 9, 20))
    seed.message(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, 18, 10, 0), text="收到，马上处理")
    seed.message(session, sender="lisi", chat_id=EAST, at=sh(2026, 11, 23, 9, 0), text="今天大家加油")
    seed.message(session, sender="chenjing", chat_id=EAST, at=sh(2026, 11, 20, 10, 0))
    seed.message(session, sender="chenjing", chat_id=SOUTH, at=sh(2026, 11, 20, 10, 0))
    # Posted a month ago only: no longer counted as active.
    seed.message(session, sender="zhoumin", chat_id=EAST, at=sh(2026, 10, 20, 10, 0))
    session.commit()
    assert nudges.nudge_missing_reports(session, config, now=sh(2026, 11, 23, 16, 30)) == 3
    items = queued(session)
    assert sorted(items) == [
        "missing_report:2026-11-23:chenjing",
        "missing_report:2026-11-23:liuyang",
        "missing_report:2026-11-23:wangfang",
    ]
    assert items["missing_report:2026-11-23:chenjing"].startswith(
        "【跟进报告提醒】今天还没有收到你在「华东销售群」、「华南销售群」的客户跟进报告。请在 17:00 前按模板发送"
    )
    assert nudges.nudge_missing_reports(session, config, now=sh(2026, 11, 23, 16, 45)) == 0
