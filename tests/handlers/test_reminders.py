"""Follow-up reminders: today's and overdue next steps, one message per rep, once a day."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.scheduler import JobScheduler
from handlers import reminders
from storage.db import make_engine, make_session_factory
from storage.models import OutboxItemRow
from tests.conftest import sh
from tests.helpers import seed


def seed_clients(session) -> None:
    seed.zhangweis_follow_ups(session, today=date(2026, 11, 23))
    seed.client(session, owner="wangfang", name="孙女士", company="青禾餐饮", next_action=None,
                next_action_due=date(2026, 11, 9))
    seed.client(session, owner="wangfang", name="赵总", company="", next_action="回访", next_action_due=None)
    session.commit()


def queued(session) -> dict[str, OutboxItemRow]:
    return {i.idempotency_key: i for i in session.scalars(select(OutboxItemRow))}


def test_due_today_and_overdue_but_not_tomorrow_once(session, config):
    seed_clients(session)
    assert reminders.send_reminders(session, config, now=sh(2026, 11, 23, 9, 5)) == 2
    session.commit()
    items = queued(session)
    assert sorted(items) == ["reminders:2026-11-23:wangfang", "reminders:2026-11-23:zhangwei"]
    mine = items["reminders:2026-11-23:zhangwei"]
    assert (mine.channel, mine.target) == ("app", "zhangwei")
    assert mine.payload["text"]["content"].splitlines() == [
        "【今日待跟进】你有 2 个客户需要跟进：",
        "1. 远航物流 刘经理：约上门演示（已逾期3天，原定11月20日）",
        "2. 华星科技 王总：发送报价单（今天到期）",
        "跟进后请在群里按模板发【跟进】报告，提醒会自动更新。",
    ]
    assert "孙女士：（未写下一步计划）（已逾期14天" in items["reminders:2026-11-23:wangfang"].payload["text"]["content"]
    # Run again the same day: nothing new.
    assert reminders.send_reminders(session, config, now=sh(2026, 11, 23, 15, 0)) == 0


def test_two_replicas_firing_at_0905_send_each_reminder_once(session, config, db_url):
    seed_clients(session)
    engines = [make_engine(db_url) for _ in range(2)]
    outcomes = [
        JobScheduler(config, make_session_factory(e), owner=f"r{i}", clock=lambda: sh(2026, 11, 23, 9, 5)).fire(
            "reminders"
        )
        for i, e in enumerate(engines)
    ]
    for e in engines:
        e.dispose()
    assert outcomes == ["done", "taken"]
    session.expire_all()
    assert len(queued(session)) == 2


@pytest.mark.parametrize(
    ("today", "due", "note"),
    [
        (date(2026, 11, 23), date(2026, 11, 23), "今天到期"),
        (date(2026, 11, 23), date(2026, 11, 22), "已逾期1天，原定11月22日"),
        (date(2026, 1, 2), date(2025, 12, 31), "已逾期2天，原定12月31日"),
    ],
)
def test_due_note(today, due, note):
    assert reminders.due_note(due, today) == note


def test_a_long_list_is_cut_within_the_message_limit(session, config):
    for i in range(80):
        seed.client(session, owner="zhangwei", name=f"客户{i:02d}", company=f"某某科技有限公司{i:02d}",
                    next_action="电话回访，确认采购预算和决策人", next_action_due=date(2026, 11, 1))
    session.commit()
    reminders.send_reminders(session, config, now=sh(2026, 11, 23, 9, 5))
    text = queued(session)["reminders:2026-11-23:zhangwei"].payload["text"]["content"]
    assert len(text.encode()) <= reminders.MAX_TEXT_BYTES
    assert text.startswith("【今日待跟进】你有 80 个客户需要跟进：") and text.endswith("……")
