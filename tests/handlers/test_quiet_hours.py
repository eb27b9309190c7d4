"""The bot keeps the quiet hours it enforces, and history imports ping nobody (issue 12 items 7, 8).

Messages are judged as they arrive (the processing clock is the simulator's), then everything queued
is sent through the real dispatcher; the simulator's record says who read what, and when.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.simulator.clock import ManualClock
from handlers import digest
from handlers.message import handle_message
from storage.db import make_session_factory
from storage.models import MessageRow, OutboxItemRow, ViolationRow
from tests.conftest import sh
from tests.handlers.flow import ROBOTS, context, deliver, judge, message
from tests.helpers.simulator import running_simulator

LATE = "明天上午去华星科技拜访王总"  # breaks posting_window only (warn_member)
LEAK = "王总手机13812345678，说公司现金流断了"  # sensitive (alert_managers)
WARNING = "工作消息请在工作日 09:00-11:00、14:00-17:00 发送，急事请在消息里加上【紧急】。谢谢配合！"


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def with_mode(config: AppConfig, mode: str) -> AppConfig:
    return config.model_copy(update={"outbox": config.outbox.model_copy(update={"quiet_hours": mode})})


def live(factory, config: AppConfig, sim, posts, *, send_each: bool = False) -> None:
    """Judge each post a few seconds after it was sent, as the live webhook would; `send_each` also
    sends what is due at once before the next post (held rows wait: they are due in the morning)."""
    ctx = context(config, sim.clock)
    for post in posts:
        sim.clock.advance((post.sent_at - sim.clock()).total_seconds() + 5)
        judge(factory, ctx, [post])
        if send_each:
            deliver(config, sim, factory)


NIGHT = [
    message("n-1", sh(2026, 3, 2, 21, 30), LATE),
    message("n-2", sh(2026, 3, 2, 21, 50), "报价单我晚上改好了"),
    message("n-3", sh(2026, 3, 2, 22, 10), "客户说明天再定"),
]


@pytest.mark.parametrize(
    ("mode", "posts", "group_posts", "private_to_rep"),
    [
        (
            "hold", NIGHT,
            [(sh(2026, 3, 3, 9, 0), "张伟，温馨提醒：昨晚 21:30–22:10 你有 3 条消息在非工作时段发送。" + WARNING)],
            [],
        ),
        (
            # Friday night waits for Monday's first window (the work calendar the rule uses).
            "hold", [message("f-1", sh(2026, 3, 6, 21, 40), LATE)],
            [(sh(2026, 3, 9, 9, 0), "张伟，温馨提醒：3月6日 21:40 你有 1 条消息在非工作时段发送。" + WARNING)],
            [],
        ),
        (
            # Held over the weekend: the span says on which day it ends.
            "hold", [message("w-1", sh(2026, 3, 6, 21, 40), LATE), message("w-2", sh(2026, 3, 7, 10, 0), "周六加班中")],
            [(sh(2026, 3, 9, 9, 0),
              "张伟，温馨提醒：3月6日 21:40–3月7日 10:00 你有 2 条消息在非工作时段发送。" + WARNING)],
            [],
        ),
        (
            "private", NIGHT,
            [],
            [(p.sent_at, f"张伟，温馨提醒：今天 {p.sent_at:%H:%M} 你有 1 条消息在非工作时段发送。" + WARNING)
             for p in NIGHT],
        ),
        (
            "off", NIGHT,
            [(p.sent_at, "张伟，温馨提醒：" + WARNING) for p in NIGHT],
            [],
        ),
    ],
)
def test_warnings_for_night_posts_wait_for_the_next_window_or_go_privately(
    factory, config: AppConfig, mode: str, posts, group_posts, private_to_rep
) -> None:
    config = with_mode(config, mode)
    with running_simulator(robots=ROBOTS, clock=ManualClock(sh(2026, 3, 2, 9, 0))) as sim:
        live(factory, config, sim, posts, send_each=mode != "hold")
        records = deliver(config, sim, factory)

    robot = [r for r in records if r.api == "webhook/send"]
    assert [r.content for r in robot] == [text for _, text in group_posts]
    for record, (due, _) in zip(robot, group_posts, strict=True):
        assert due <= record.at < due + timedelta(minutes=5) and record.mentioned == ["zhangwei"]
    private = [r for r in records if r.api == "message/send" and r.target == "zhangwei"]
    assert [r.content for r in private] == [text for _, text in private_to_rep]
    for record, (sent, _) in zip(private, private_to_rep, strict=True):
        assert record.at - sent < timedelta(minutes=1)  # at once, not held


def test_managers_private_alerts_go_at_once_even_at_night(factory, config: AppConfig) -> None:
    with running_simulator(robots=ROBOTS, clock=ManualClock(sh(2026, 3, 2, 9, 0))) as sim:
        live(factory, config, sim, [message("n-leak", sh(2026, 3, 2, 22, 5), LEAK)], send_each=True)
        records = deliver(config, sim, factory)
    [alert] = [r for r in records if r.target == "lisi"]
    assert alert.at < sh(2026, 3, 2, 22, 10) and "【违规提醒】华东销售群" in alert.content


def _replica(factory, ctx, posts, errors: list[BaseException]) -> None:
    """One inbox worker: every post, retrying a lost insert race as handlers/inbox_worker.py does."""
    try:
        for post in posts:
            for attempt in range(5):
                try:
                    with factory() as session:
                        handle_message(session, ctx, post)
                    break
                except IntegrityError:
                    if attempt == 4:
                        raise
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)


def test_two_workers_and_two_dispatchers_post_the_held_warning_exactly_once(factory, config: AppConfig) -> None:
    posts = [message(f"r-{n}", sh(2026, 3, 2, 21, 0) + timedelta(minutes=7 * n), LATE) for n in range(8)]
    with running_simulator(robots=ROBOTS, clock=ManualClock(sh(2026, 3, 2, 22, 0))) as sim:
        ctx = context(config, sim.clock)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_replica, args=(factory, ctx, posts, errors)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        records = deliver(config, sim, factory, owners=("replica-1", "replica-2"))

    [post] = [r for r in records if r.api == "webhook/send"]
    assert post.content.startswith("张伟，温馨提醒：昨晚 21:00–21:49 你有 8 条消息在非工作时段发送。")
    assert post.at >= sh(2026, 3, 3, 9, 0)
    with factory() as session:
        assert session.scalar(select(OutboxItemRow.status).where(OutboxItemRow.channel == "robot")) == "sent"
        assert len(session.scalars(select(ViolationRow)).all()) == 8


@pytest.mark.parametrize(
    ("sent_at", "processed_at", "max_age", "pinged"),
    [
        (sh(2026, 2, 10, 21, 40), sh(2026, 11, 25, 10, 0), "2h", False),  # February, imported in November
        (sh(2026, 10, 20, 10, 15), sh(2026, 11, 25, 10, 0), "2h", False),  # October
        (sh(2026, 11, 25, 7, 30), sh(2026, 11, 25, 10, 0), "2h", False),  # two and a half hours late
        (sh(2026, 11, 25, 9, 0), sh(2026, 11, 25, 10, 0), "2h", True),  # an hour late: still news
        (sh(2026, 11, 25, 9, 0), sh(2026, 11, 25, 10, 0), "30m", False),  # a stricter config
    ],
)
def test_history_is_judged_stored_and_counted_but_pings_nobody(
    factory, config: AppConfig, sent_at: datetime, processed_at: datetime, max_age: str, pinged: bool
) -> None:
    config = config.model_copy(update={"ingest": config.ingest.model_validate(
        {**config.ingest.model_dump(), "alert_max_age": max_age})})
    ctx = context(config, lambda: processed_at)
    judge(factory, ctx, [message("h-1", sent_at, LEAK + " 今晚加班")])

    with factory() as session:
        violation = session.scalar(select(ViolationRow).where(ViolationRow.rule == "sensitive"))
        stored = session.scalar(select(MessageRow))
        assert (violation.backfilled, stored.backfilled) == (not pinged, not pinged)
        assert "138****5678" in stored.masked_text
        assert bool(session.scalars(select(OutboxItemRow)).all()) == pinged
        group = config.group("wr-sales-east")
        text = digest.digest_markdown(session, config, group, now=sent_at.replace(hour=17, minute=30))
        assert "客户隐私 1" in text
