"""申诉: filing attaches to the rep's latest counting violation and notifies the group's managers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers.appeals import decide_appeal, file_appeal
from handlers.context import HandlerContext
from rules.engine import RuleEngine
from storage.models import AppealRow, OutboxItemRow, ViolationRow
from tests.bot.web.conftest import NOW, seed_data


@pytest.fixture
def ctx(config) -> HandlerContext:
    return HandlerContext(config=config, engine=RuleEngine.from_config(config.rules), hmac_key=b"k" * 32,
                          public_url="https://bot.example.cn", clock=lambda: NOW)


def test_appeal_attaches_to_latest_violation_and_tells_managers(session, ctx):
    ids = seed_data(session)
    filed = file_appeal(session, ctx, sender="zhangwei", reason="客户主动发来的号码，我已撤回", now=NOW)
    assert filed.appeal.violation_id == ids["v_east"]  # 3-4 10:02 is newer than 3-3 21:40
    assert "已收到申诉" in filed.reply
    item = session.scalar(
        select(OutboxItemRow).where(OutboxItemRow.idempotency_key == f"appeal:{filed.appeal.id}:filed")
    )
    assert (item.channel, item.target) == ("app", "lisi")
    assert f"https://bot.example.cn/dashboard/violations/{ids['v_east']}" in item.payload["text"]["content"]


@pytest.mark.parametrize(
    ("sender", "reason", "reply"),
    [
        ("zhangwei", "   ", "请在「申诉」后写明理由"),
        ("wangwu", "误判", "没有找到可申诉的违规记录"),
    ],
)
def test_appeal_refusals(session, ctx, sender, reason, reply):
    seed_data(session)
    filed = file_appeal(session, ctx, sender=sender, reason=reason, now=NOW)
    assert filed.appeal is None and reply in filed.reply


def test_one_pending_appeal_per_violation_and_void_ones_are_skipped(session, ctx):
    ids = seed_data(session)
    first = file_appeal(session, ctx, sender="zhangwei", reason="误判", now=NOW)
    second = file_appeal(session, ctx, sender="zhangwei", reason="再次申诉", now=NOW)
    assert second.appeal is None and "已有待处理的申诉" in second.reply
    decide_appeal(session, appeal=first.appeal, accepted=True, by="lisi", note="属实", now=NOW)
    assert session.get(ViolationRow, ids["v_east"]).status == "void"
    third = file_appeal(session, ctx, sender="zhangwei", reason="这条也是误判", now=NOW)
    assert third.appeal.violation_id == ids["v_east_night"]
    assert session.scalar(select(AppealRow.status).where(AppealRow.id == first.appeal.id)) == "accepted"


def test_direct_message_routes_to_file_appeal(session, ctx):
    from handlers.commands import handle_command
    from rules.model import GroupMessage

    ids = seed_data(session)
    session.commit()
    msg = GroupMessage(
        msgid="dm-1",
        chat_id="",
        sender="zhangwei",
        sent_at=NOW,
        text="申诉 客户主动加我微信发的号码",
        source="callback",
    )
    handle_command(session, ctx, msg)
    appeal = session.scalar(select(AppealRow))
    assert (appeal.violation_id, appeal.reason) == (ids["v_east"], "客户主动加我微信发的号码")
    reply = session.scalar(select(OutboxItemRow).where(OutboxItemRow.idempotency_key == "command:dm-1"))
    assert reply.target == "zhangwei" and "已收到申诉" in reply.payload["text"]["content"]
