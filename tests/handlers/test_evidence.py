"""Evidence with every violation: the group's messages before and after it, masked, frozen when recorded.

Through the real message handler (rule engine from the demo config) on SQLite and PostgreSQL: the
violation's window holds the 5 messages before it and the 5 after it in that group only, in order,
masked, and later changes to the stored messages or the violation do not rewrite it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sql

from bot.config import AppConfig
from handlers.batch import BatchItem, handle_batch
from handlers.context import HandlerContext
from handlers.message import handle_message
from rules.engine import RuleEngine
from rules.model import GroupMessage
from storage import evidence, violations
from storage.db import make_session_factory
from storage.models import MessageRow, ViolationRow
from tests.conftest import sh

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
HMAC_KEY = b"test-hmac-key-0123456789abcdef"
MONDAY = sh(2026, 3, 2, 9, 0)  # a workday, inside the 09:00-11:00 window
LEAK = "王先生电话13812345678，明天上午回访"
LEAK_MASKED = "王先生电话138****5678，明天上午回访"

#: A morning in 华东销售群 as reps write it, with 华南销售群 talking in between.
BEFORE = ["早上好，今天继续跟华星科技", "收到", "下午两点开周会", "好的，我准备一下材料", "华星那边说下周定",
          "@张伟 报价单发我一份", "马上发"]
AFTER = ["张伟，客户电话别发群里", "好的，撤不回了，下次注意", "报价单已发邮箱", "收到，谢谢", "十点见客户",
         "加油", "中午一起吃饭"]


def _ctx(config: AppConfig, size: int = 5) -> HandlerContext:
    config = config.model_copy(update={"dashboard": config.dashboard.model_copy(update={"evidence_messages": size})})
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    return HandlerContext(config=config, engine=engine, hmac_key=HMAC_KEY, clock=lambda: MONDAY + timedelta(hours=1))


def _say(session, ctx, msgid: str, text: str, minute: int, *, chat: str = EAST, sender: str = "wangfang"):
    msg = GroupMessage(msgid=msgid, chat_id=chat, sender=sender, sent_at=MONDAY + timedelta(minutes=minute),
                       text=text, source="callback")
    return handle_message(session, ctx, msg)


def _morning(session, ctx) -> ViolationRow:
    """7 messages, the leak (and south chatter around it), then 7 more; returns the leak's violation."""
    minute = 0
    for i, text in enumerate(BEFORE):
        _say(session, ctx, f"b{i}", text, minute := minute + 1)
        _say(session, ctx, f"south-b{i}", f"华南{i}", minute, chat=SOUTH, sender="zhaolei")
    result = _say(session, ctx, "leak", LEAK, minute := minute + 1, sender="zhangwei")
    assert [v.rule for v in result.verdict.violations] == ["sensitive"]
    for i, text in enumerate(AFTER):
        _say(session, ctx, f"south-a{i}", f"华南{i}", minute := minute + 1, chat=SOUTH, sender="zhaolei")
        _say(session, ctx, f"a{i}", text, minute)
    return session.scalars(select(ViolationRow).where(ViolationRow.msgid == "leak")).one()


def _lines(session, violation: ViolationRow) -> list[tuple[int, str, str]]:
    found = evidence.for_messages(session, message_ids=[violation.message_id], scope=None)
    return [(line.position, line.sender, line.masked_text) for line in found.get(violation.message_id, [])]


def test_the_five_messages_before_and_after_are_kept_masked_in_order_from_that_group_only(session, config):
    violation = _morning(session, _ctx(config))

    assert _lines(session, violation) == [
        *[(-5 + i, "wangfang", text) for i, text in enumerate(BEFORE[-5:])],
        (0, "zhangwei", LEAK_MASKED),
        *[(1 + i, "wangfang", text) for i, text in enumerate(AFTER[:5])],
    ]


def test_the_evidence_is_a_snapshot_later_changes_do_not_rewrite_it(session, config):
    violation = _morning(session, _ctx(config))
    kept = _lines(session, violation)

    # A stored message rewritten afterwards (say, redacted further) and the violation voided on appeal.
    rewritten = update(MessageRow).where(MessageRow.msgid.in_(["b6", "leak", "a0"])).values(masked_text="（已删除）")
    session.execute(rewritten)
    violations.set_status(session, violation_id=violation.id, status="void", by="lisi", now=MONDAY, note="申诉通过")
    session.commit()

    assert _lines(session, violation) == kept


@pytest.mark.parametrize(
    ("case", "size", "expected_before", "expected_after"),
    [
        ("the first message of a group has nothing before it", 5, 0, 5),
        ("a window closes after `size` messages", 2, 0, 2),
        ("evidence_messages: 0 keeps none", 0, None, None),
    ],
)
def test_window_sizes(session, config, case, size, expected_before, expected_after):
    ctx = _ctx(config, size)
    _say(session, ctx, "leak", LEAK, 1, sender="zhangwei")
    for i, text in enumerate(AFTER):
        _say(session, ctx, f"a{i}", text, 2 + i)
    violation = session.scalars(select(ViolationRow)).one()

    lines = _lines(session, violation)
    if expected_before is None:
        assert lines == [], case
    else:
        assert sum(p < 0 for p, _, _ in lines) == expected_before, case
        assert [t for p, _, t in lines if p > 0] == AFTER[:expected_after], case


def test_two_leaks_close_together_each_keep_the_other_in_their_evidence(session, config):
    ctx = _ctx(config)
    _say(session, ctx, "b0", "早", 1)
    _say(session, ctx, "leak-1", LEAK, 2, sender="zhangwei")
    _say(session, ctx, "mid", "别发号码", 3)
    _say(session, ctx, "leak-2", "李总手机13987654321", 4, sender="zhangwei")
    _say(session, ctx, "a0", "唉", 5)
    first, second = (
        session.scalars(select(ViolationRow).where(ViolationRow.msgid == m)).one() for m in ("leak-1", "leak-2")
    )

    assert [t for _, _, t in _lines(session, first)] == ["早", LEAK_MASKED, "别发号码", "李总手机139****4321", "唉"]
    assert [t for _, _, t in _lines(session, second)] == ["早", LEAK_MASKED, "别发号码", "李总手机139****4321", "唉"]


def test_a_late_history_message_sent_before_the_violation_is_not_after_it(session, config):
    ctx = _ctx(config)
    _say(session, ctx, "leak", LEAK, 30, sender="zhangwei")
    _say(session, ctx, "imported", "很早以前的消息", 10)  # judged later, sent earlier
    _say(session, ctx, "a0", "收到", 31)
    violation = session.scalars(select(ViolationRow)).one()

    assert [(p, t) for p, _, t in _lines(session, violation)] == [(0, LEAK_MASKED), (1, "收到")]


def test_in_one_batch_a_message_sent_before_the_violation_is_before_it_whatever_its_arrival(session, config):
    """A batch is stored whole before its evidence is taken: an earlier-sent message arriving after the
    violation in the same batch (a history import, a catch-up) is among the messages before it."""
    ctx = _ctx(config)

    def msg(msgid: str, text: str, minute: int, sender: str = "wangfang") -> BatchItem:
        return BatchItem(GroupMessage(msgid=msgid, chat_id=EAST, sender=sender, text=text, source="archive",
                                      sent_at=MONDAY + timedelta(minutes=minute)))

    handle_batch(session, ctx, [msg("leak", LEAK, 30, "zhangwei"), msg("imported", "很早以前的消息", 10),
                                msg("a0", "收到", 31)])
    violation = session.scalars(select(ViolationRow)).one()

    assert [(p, t) for p, _, t in _lines(session, violation)] == [(-1, "很早以前的消息"), (0, LEAK_MASKED), (1, "收到")]


def test_a_retried_message_is_not_added_twice(session, config):
    ctx = _ctx(config)
    _say(session, ctx, "leak", LEAK, 1, sender="zhangwei")
    _say(session, ctx, "a0", "收到", 2)
    _say(session, ctx, "a0", "收到", 2)  # WeCom retries the callback
    violation = session.scalars(select(ViolationRow)).one()

    assert [(p, t) for p, _, t in _lines(session, violation)] == [(0, LEAK_MASKED), (1, "收到")]


def test_evidence_outside_the_viewers_groups_is_never_returned(session, config):
    ctx = _ctx(config)
    _say(session, ctx, "leak", LEAK, 1, sender="zhangwei")
    violation = session.scalars(select(ViolationRow)).one()

    assert evidence.for_messages(session, message_ids=[violation.message_id], scope=[SOUTH]) == {}
    assert evidence.for_messages(session, message_ids=[violation.message_id], scope=[EAST]) != {}


def test_two_replicas_adding_to_the_same_window_at_once_get_their_own_places(engine, session, config):
    """PostgreSQL: replica B's read of the open windows waits on replica A's row lock, then takes the next place."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE serializes writers: the race cannot happen there")
    _say(session, _ctx(config), "leak", LEAK, 1, sender="zhangwei")
    violation = session.scalars(select(ViolationRow)).one()
    session.commit()
    sessions = make_session_factory(engine)

    def store(s, msgid: str, minute: int) -> None:
        row = MessageRow(msgid=msgid, chat_id=EAST, sender="wangfang", sent_at=MONDAY + timedelta(minutes=minute),
                      source="callback", masked_text=msgid, text_hmac="0" * 64)
        s.add(row)
        s.flush()
        stored = evidence.StoredMessage(row.id, row.chat_id, row.sender, row.sent_at, row.masked_text)
        evidence.capture(s, messages=[stored], violated=(), size=5, now=MONDAY)

    with sessions() as replica_a, sessions() as replica_b, sessions() as watcher:
        store(replica_a, "a0", 2)  # holds the window's row lock until it commits
        failures: list[BaseException] = []

        def run_b() -> None:
            try:
                store(replica_b, "a1", 3)
                replica_b.commit()
            except BaseException as exc:  # reported to the test below
                failures.append(exc)

        thread = threading.Thread(target=run_b)
        thread.start()
        waiting = sql("select count(*) from pg_stat_activity"
                      " where datname = current_database() and wait_event_type = 'Lock'")
        for _ in range(500):  # until B is blocked on A's row lock (or has finished, on a fast machine)
            if watcher.scalar(waiting) or not thread.is_alive():
                break
            watcher.rollback()
            thread.join(0.01)
        replica_a.commit()
        thread.join()

    assert failures == []
    assert [(p, t) for p, _, t in _lines(session, violation)] == [(0, LEAK_MASKED), (1, "a0"), (2, "a1")]
