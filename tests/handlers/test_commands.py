"""Ask the bot: 我的待办, 本周排名, 规则 and help, answered through the outbox at once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from handlers.commands import HELP, handle_command
from handlers.context import HandlerContext
from rules.engine import RuleEngine
from rules.model import GroupMessage
from storage import inbox
from storage.models import InboxEventRow, OutboxItemRow
from tests.conftest import sh
from tests.helpers import seed

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
NOW = sh(2026, 11, 25, 10, 0)  # Wednesday of 2026-W48


@pytest.fixture
def ctx(config):
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    return HandlerContext(config=config, engine=engine, hmac_key=b"k" * 32, clock=lambda: NOW)


def ask(session, ctx, text: str, sender: str = "zhangwei", msgid: str = "dm-1", **kw) -> str:
    msg = GroupMessage(msgid=msgid, chat_id="", sender=sender, sent_at=NOW, text=text, source="callback")
    handle_command(session, ctx, msg, **kw)
    item = session.scalars(select(OutboxItemRow).where(OutboxItemRow.idempotency_key == f"command:{msgid}")).one()
    assert (item.channel, item.target, item.payload["msgtype"]) == ("app", sender, "text")
    return item.payload["text"]["content"]


def test_my_todo_lists_due_and_overdue_follow_ups(session, ctx):
    seed.zhangweis_follow_ups(session, today=NOW.date())
    seed.client(session, owner="wangfang", name="孙女士", company="青禾餐饮", next_action_due=date(2026, 11, 1))
    session.commit()
    assert ask(session, ctx, " 我的待办 ").splitlines() == [
        "【我的待办】2 个客户需要跟进：",
        "1. 远航物流 刘经理：约上门演示（已逾期5天，原定11月20日）",
        "2. 华星科技 王总：发送报价单（今天到期）",
    ]


def test_my_todo_when_nothing_is_due(session, ctx):
    assert ask(session, ctx, "我的待办") == "【我的待办】今天没有到期或逾期的客户跟进。"


def test_rank_so_far_this_week_in_my_group_and_company(session, ctx):
    seed.deal(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 23, 10, 0), amount=60_000)
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 24, 10, 0), amount=20_000)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 24, 11, 0))
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 24, 21, 0))
    seed.deal(session, sender="chenjing", chat_id=SOUTH, at=sh(2026, 11, 23, 10, 0), amount=90_000)
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 20, 10, 0), amount=500_000)  # last week
    session.commit()
    assert ask(session, ctx, "本周排名").splitlines() == [
        "【本周排名】2026-W48（截至目前）",
        "华东销售群：第 2/2 名，成交 ¥20,000（1单），完整跟进 1，违规 1",
        "全公司：第 3/3 名，成交 ¥20,000（1单），完整跟进 1，违规 1",
    ]


def test_rank_without_activity_this_week(session, ctx):
    seed.message(session, sender="zhangwei", chat_id=SOUTH, at=sh(2026, 11, 10, 10, 0))
    session.commit()
    assert ask(session, ctx, "排名").splitlines()[1:] == [
        "华南销售群：本周还没有你的成交或跟进记录",
        "全公司：本周还没有你的成交或跟进记录",
    ]


def test_rules_of_my_groups_with_overrides(session, ctx):
    seed.message(session, sender="zhangwei", chat_id=SOUTH, at=sh(2026, 11, 24, 10, 0))
    session.commit()
    assert ask(session, ctx, "规则").splitlines() == [
        "【群规】",
        "「华南销售群」",
        "· 工作日 09:00-11:00、14:00-17:00 可发工作消息，含 【紧急】 的紧急消息不受限",
        "· 每人每 60 分钟最多发 15 条",
        "· 跟进报告以 【跟进】 开头，写全：客户姓名、公司名称、联系方式、需求描述、上次沟通时间、下一步行动计划",
        "· 不在群里发客户的手机号、身份证号、银行卡号、邮箱、微信/QQ号、客户财务状况",
    ]


@pytest.mark.parametrize("text", ["你好", "帮助", "查一下我的客户", ""])
def test_unknown_commands_get_help(session, ctx, text):
    assert ask(session, ctx, text) == HELP


def test_answer_and_inbox_row_commit_together_and_redelivery_answers_once(session, ctx):
    assert inbox.record_event(session, dedupe_key="dm-7", source="callback", kind="command", payload={"x": 1}, now=NOW)
    session.commit()
    event_id = session.scalar(select(InboxEventRow.id).where(InboxEventRow.dedupe_key == "dm-7"))
    ask(session, ctx, "我的待办", msgid="dm-7", inbox_event_id=event_id)
    row = session.get(InboxEventRow, event_id)
    session.refresh(row)
    assert row.processed_at == NOW and row.payload is None
    ask(session, ctx, "我的待办", msgid="dm-7")
    assert len(session.scalars(select(OutboxItemRow)).all()) == 1
