"""The daily digest to managers: violations by rule and member, reports, top overdue follow-ups."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from handlers import digest
from storage.models import OutboxItemRow
from tests.conftest import sh
from tests.helpers import seed

EAST, SOUTH = "wr-sales-east", "wr-sales-south"


def test_digest_of_a_day_in_each_group(session, config):
    day = (2026, 11, 23)
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(*day, 12, 10))
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(*day, 20, 0))
    seed.violation(session, sender="liuyang", chat_id=EAST, at=sh(*day, 9, 30), rule="sensitive")
    seed.violation(session, sender="liuyang", chat_id=EAST, at=sh(*day, 9, 31), rule="frequency", status="void")
    seed.violation(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, 22, 23, 59))  # yesterday
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(*day, 9, 10))
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(*day, 14, 10), complete=False)
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(*day, 10, 10))
    seed.deal(session, sender="wangfang", chat_id=EAST, at=sh(*day, 15, 0), amount=45_000)
    seed.client(session, owner="zhangwei", name="刘经理", company="远航物流", next_action="约上门演示",
                next_action_due=date(2026, 11, 20))
    seed.client(session, owner="wangfang", name="孙女士", company="青禾餐饮", next_action="寄样品",
                next_action_due=date(2026, 11, 9))
    seed.client(session, owner="zhangwei", name="王总", company="华星科技", next_action="发送报价单",
                next_action_due=date(2026, 11, 23))  # due today: not overdue yet
    seed.client(session, owner="chenjing", name="周总", company="南海贸易", chat_id=SOUTH,
                next_action="回访", next_action_due=date(2026, 11, 1))
    session.commit()

    assert digest.send_digests(session, config, now=sh(*day, 17, 30)) == 2
    items = {i.idempotency_key: i for i in session.scalars(select(OutboxItemRow))}
    east = items[f"digest:2026-11-23:{EAST}"]
    assert (east.channel, east.target) == ("app", "lisi")
    assert east.payload["markdown"]["content"].splitlines() == [
        "### 华东销售群 今日汇总 11月23日",
        "**违规** 3 条",
        "> 按规则：发帖时段 2，客户隐私 1",
        "> 按成员：张伟 2，liuyang 1",
        "**跟进报告** 收到 3 份，完整 2 份",
        "> 张伟 1/2，王芳 1/1",
        "**成交** 1 单，¥45,000",
        "**逾期未跟进（前2）**",
        "- 青禾餐饮 孙女士（王芳，逾期14天）：寄样品",
        "- 远航物流 刘经理（张伟，逾期3天）：约上门演示",
    ]
    south = items[f"digest:2026-11-23:{SOUTH}"].payload["markdown"]["content"].splitlines()
    assert south == [
        "### 华南销售群 今日汇总 11月23日",
        "**违规** 0 条",
        "**跟进报告** 收到 0 份，完整 0 份",
        "**逾期未跟进（前1）**",
        "- 南海贸易 周总（chenjing，逾期22天）：回访",
    ]
    assert digest.send_digests(session, config, now=sh(*day, 18, 0)) == 0
