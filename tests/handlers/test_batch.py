"""The batch judging path (handlers/batch.py) on SQLite and PostgreSQL.

A batch stores exactly what judging its messages one by one stores; it costs the same handful of
statements whatever its size; frequency violations are exact whatever order a member's posts arrive
in and however many workers judge at once; a message that fails never holds up the rest.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, event, func, select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from handlers.batch import BatchItem, handle_batch
from handlers.context import HandlerContext
from handlers.inbox_worker import InboxWorker
from handlers.message import handle_message
from rules.engine import RuleEngine
from rules.model import GroupMessage
from storage import batch, inbox
from storage.db import make_session_factory
from storage.models import (
    ClientRow,
    ClientUpdateRow,
    DealRow,
    EscalationRow,
    EvidenceMessageRow,
    EvidenceWindowRow,
    InboxEventRow,
    MessageRow,
    OutboxItemRow,
    ViolationRow,
)
from tests.conftest import sh

EAST, WEST = "wr-sales-east", "wr-sales-west"
MONDAY = sh(2026, 3, 2, 9, 0)  # a workday; the posting window is 09:00-11:00
REPORT = (
    "【跟进】客户姓名：王总\n公司名称：华星科技\n联系方式：138****5678\n"
    "需求描述：仓储系统改造，3个仓库\n上次沟通时间：昨天\n下一步行动计划：下周三上门演示"
)
HALF_REPORT = "【跟进】客户姓名：李总 公司名称：远大物流 需求描述：车队管理"
DEAL = "【成交】华星科技 王总 签约 5万"


def post(msgid: str, minute: int, text: str = "收到，马上跟进", *, sender: str = "zhangwei", chat: str = EAST):
    return GroupMessage(
        msgid=msgid, chat_id=chat, sender=sender, sent_at=MONDAY + timedelta(minutes=minute), text=text,
        source="callback",
    )


#: A morning in two groups: a burst (frequency), a customer's mobile (sensitive), reports complete and
#: not (template), a deal, a post outside the window, enough violations for an escalation, a grouped
#: alert, a repeat.
MORNING = [
    *[post(f"burst-{i:02d}", i) for i in range(13)],
    post("mobile-1", 14, "王总电话13812345678，下午回访", sender="lisi"),
    post("report-1", 15, REPORT, sender="lisi"),
    post("report-2", 16, HALF_REPORT, sender="wangwu", chat=WEST),
    post("deal-1", 17, DEAL, sender="lisi"),
    post("report-3", 18, REPORT.replace("下周三上门演示", "周五报价"), sender="zhaoliu"),
    post("late-1", 150, "今天的情况汇总一下", sender="wangwu", chat=WEST),
    post("mobile-2", 20, "李总手机 139 1234 5678", sender="lisi"),
    post("mobile-4", 13, "刘总手机13698765432，记一下", sender="lisi"),  # the same burst as mobile-1: grouped
    post("mobile-3", 21, "另一个号码15912345678", sender="lisi", chat=WEST),
    post("burst-03", 3),  # the same msgid again (a WeCom retry)
]


def snapshot(session: Session) -> dict[str, list]:
    """What judging stored, without ids or times of processing."""

    def rows(*columns):
        return sorted(tuple(r) for r in session.execute(select(*columns)))

    return {
        "messages": rows(
            MessageRow.msgid, MessageRow.sender, MessageRow.masked_text, MessageRow.is_report, MessageRow.backfilled
        ),
        "violations": rows(ViolationRow.msgid, ViolationRow.rule, ViolationRow.action, ViolationRow.status),
        "escalations": rows(EscalationRow.sender, EscalationRow.chat_id, EscalationRow.count),
        "updates": rows(ClientUpdateRow.msgid, ClientUpdateRow.complete),
        "clients": rows(ClientRow.chat_id, ClientRow.key, ClientRow.next_action, ClientRow.owner),
        "deals": rows(DealRow.msgid, DealRow.amount_yuan, DealRow.client_id.is_not(None)),
        # A grouped alert folds in as many items either way.
        "outbox": sorted(
            (key, channel, len(payload["_meta"].get("items", ())))
            for key, channel, payload in session.execute(
                select(OutboxItemRow.idempotency_key, OutboxItemRow.channel, OutboxItemRow.payload)
            )
        ),
        "evidence": sorted(
            tuple(r)
            for r in session.execute(
                select(MessageRow.msgid, EvidenceWindowRow.after_missing, EvidenceMessageRow.position,
                       EvidenceMessageRow.sender, EvidenceMessageRow.masked_text)
                .join(EvidenceWindowRow, EvidenceWindowRow.message_id == MessageRow.id)
                .join(EvidenceMessageRow, EvidenceMessageRow.window_id == EvidenceWindowRow.message_id)
            )
        ),
    }


@pytest.fixture
def ctx(config: AppConfig) -> HandlerContext:
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    return HandlerContext(config=config, engine=engine, hmac_key=b"batch-test-key", clock=lambda: MONDAY)


@pytest.mark.parametrize(
    "stream, same_evidence",
    [
        pytest.param(sorted(MORNING, key=lambda m: m.sent_at), True, id="in the order sent"),
        # Out of order, a violation's evidence also holds the earlier-sent messages of its batch that
        # arrive after it (one by one they were not stored yet): test_evidence covers that case.
        pytest.param(MORNING, False, id="out of order, with a retry"),
    ],
)
def test_a_batch_stores_exactly_what_judging_one_by_one_stores(
    engine: Engine, ctx: HandlerContext, stream: list[GroupMessage], same_evidence: bool
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        one_by_one = [handle_message(session, ctx, m) for m in stream]
        expected = snapshot(session)
    assert expected["violations"] and expected["escalations"] and expected["deals"] and expected["outbox"]
    assert any(position > 0 for _, _, position, _, _ in expected["evidence"])  # windows filled after a violation
    assert any(key.startswith("alert-burst:") and items for key, _, items in expected["outbox"])  # a grouped alert
    with sessions() as session:
        for model in (EvidenceMessageRow, EvidenceWindowRow, EscalationRow, ViolationRow, DealRow, ClientUpdateRow,
                      ClientRow, OutboxItemRow, MessageRow):
            session.execute(delete(model))
        session.commit()

    with sessions() as session:
        batched = handle_batch(session, ctx, [BatchItem(m) for m in stream])
        got = snapshot(session)
    if not same_evidence:
        del got["evidence"], expected["evidence"]
    assert got == expected
    assert batched == one_by_one


@pytest.mark.parametrize("size", [1, 50, 400])
def test_a_batch_costs_the_same_statements_whatever_its_size(engine: Engine, ctx: HandlerContext, size: int) -> None:
    """Quiet messages (no violation, no report) of many members: one lock, three reads, one insert,
    one inbox update, whatever the batch size."""
    msgs = [post(f"q-{i}", i % 100, sender=f"rep{i % 97:02d}") for i in range(size)]
    with make_session_factory(engine)() as session:
        for m in msgs:
            inbox.record_event(session, dedupe_key=m.msgid, source="callback", kind="message", payload={}, now=MONDAY)
        session.commit()
        ids = list(session.scalars(select(InboxEventRow.id).order_by(InboxEventRow.id)))
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with make_session_factory(engine)() as session:
            handled = handle_batch(session, ctx, [BatchItem(m, i) for m, i in zip(msgs, ids, strict=True)])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    judged = [s for s in statements if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert all(h.created and not h.verdict.violations for h in handled)
    assert len(judged) <= 6, judged


def flagged(engine: Engine) -> set[str]:
    with make_session_factory(engine)() as session:
        return set(session.scalars(select(ViolationRow.msgid).where(ViolationRow.rule == "frequency")))


#: 12 posts at minutes 0..11 by one member: the 11th and 12th break "at most 10 within 60 minutes".
POSTS = [post(f"p{i:02d}", i) for i in range(12)]
SHUFFLED = [7, 2, 11, 0, 9, 4, 1, 10, 5, 8, 3, 6]


@pytest.mark.parametrize(
    "arrivals",
    [
        pytest.param([list(range(12))], id="in order, one batch"),
        pytest.param([list(range(11, -1, -1))], id="reversed, one batch"),
        pytest.param([[11, 10, 9, 8], [7, 6, 5, 4], [3, 2, 1, 0]], id="reversed, batches of four"),
        pytest.param([list(range(1, 12)), [0]], id="the first post arrives after the rest were stored"),
        pytest.param([[i] for i in SHUFFLED], id="shuffled, one at a time"),
        pytest.param([SHUFFLED[:5], SHUFFLED[5:]], id="shuffled, two batches"),
    ],
)
def test_frequency_violations_are_exact_whatever_order_the_posts_arrive_in(
    engine: Engine, ctx: HandlerContext, arrivals: list[list[int]]
) -> None:
    for arrival in arrivals:
        with make_session_factory(engine)() as session:
            handle_batch(session, ctx, [BatchItem(POSTS[i]) for i in arrival])

    assert flagged(engine) == {"p10", "p11"}
    with make_session_factory(engine)() as session:
        # Each flagged post once, and its warning queued (the re-judged post's as well).
        assert session.scalar(select(func.count()).select_from(ViolationRow)) == 2
        assert session.scalar(select(func.count()).select_from(OutboxItemRow)) >= 1


def record_posts(engine: Engine, msgs: list[GroupMessage]) -> None:
    with make_session_factory(engine)() as session:
        for m in msgs:
            payload = {
                "msgid": m.msgid, "chat_id": m.chat_id, "sender": m.sender, "sent_at": m.sent_at.isoformat(),
                "text": m.text, "msgtype": "text", "source": "callback",
            }
            inbox.record_event(session, dedupe_key=m.msgid, source="callback", kind="message", payload=payload,
                               now=MONDAY)
        session.commit()


def test_two_workers_judging_at_once_count_every_post(engine: Engine, ctx: HandlerContext) -> None:
    """Three members post 20 times each within 40 minutes; two workers drain the inbox in small batches
    at the same time. Every post from the 11th on is flagged, each once, and every message stored once."""
    members = ("zhangwei", "wangwu", "zhaoliu")
    msgs = [post(f"{who}-{i:02d}", 2 * i, sender=who) for i in range(20) for who in members]
    record_posts(engine, msgs)
    sessions = make_session_factory(engine)
    workers = [InboxWorker(sessions, ctx, owner=f"w{n}", batch_size=4, lease_seconds=60) for n in (1, 2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def drain(w: InboxWorker) -> None:
        try:
            start.wait()
            while w.run_once():
                pass
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors

    assert flagged(engine) == {f"{who}-{i:02d}" for i in range(10, 20) for who in members}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(MessageRow)) == 60
        assert session.scalar(select(func.count()).select_from(ViolationRow)) == 30
        assert session.scalar(select(func.count()).where(InboxEventRow.processed_at.is_(None))) == 0


#: Sent on the last day datetime can hold: judging it overflows the frequency window, every time.
DOOMED = GroupMessage(
    msgid="doomed", chat_id=EAST, sender="lisi", sent_at=datetime.max.replace(tzinfo=MONDAY.tzinfo), text="收到",
    source="callback",
)


@pytest.mark.parametrize(("attempts", "parked"), [(1, False), (5, True)])
def test_a_message_that_fails_is_retried_alone_and_parked_while_the_batch_is_stored(
    engine: Engine, ctx: HandlerContext, attempts: int, parked: bool
) -> None:
    msgs = [post(f"ok-{i}", i, sender=f"rep{i}") for i in range(6)]
    record_posts(engine, [*msgs[:3], DOOMED, *msgs[3:]])
    sessions = make_session_factory(engine)
    clock = [MONDAY]
    ctx = HandlerContext(config=ctx.config, engine=ctx.engine, hmac_key=ctx.hmac_key, clock=lambda: clock[0])
    worker = InboxWorker(sessions, ctx, owner="w1", batch_size=50, max_attempts=5, retry_seconds=30)
    for _ in range(attempts):
        worker.run_once()
        clock[0] += timedelta(seconds=31)

    with sessions() as session:
        assert sorted(session.scalars(select(MessageRow.msgid))) == [m.msgid for m in msgs]
        doomed = session.scalars(select(InboxEventRow).where(InboxEventRow.dedupe_key == "doomed")).one()
        assert (doomed.attempts, doomed.error is not None, doomed.processed_at) == (attempts, parked, None)
        assert session.scalar(select(func.count()).where(InboxEventRow.processed_at.is_not(None))) == 6


def test_a_member_who_posted_hundreds_of_times_costs_a_batch_only_their_latest_posts(
    engine: Engine, ctx: HandlerContext
) -> None:
    """A limit of N needs the N latest earlier posts: the history a batch reads stays bounded however
    busy the member was within the window, and the verdicts stay those of the full history."""
    flood = [GroupMessage(msgid=f"flood-{i:03d}", chat_id=EAST, sender="zhangwei", text="收到", source="callback",
                          sent_at=MONDAY + timedelta(seconds=10 * i)) for i in range(300)]
    sessions = make_session_factory(engine)
    with sessions() as session:
        handle_batch(session, ctx, [BatchItem(m) for m in flood])
    late = MONDAY + timedelta(seconds=3001)
    with sessions() as session:
        read = batch.post_history(session, pairs={(EAST, "zhangwei")}, since=late - timedelta(hours=1), first=late,
                                  until=late + timedelta(hours=1), keep=ctx.engine.max_limit + 1)
        [handled] = handle_batch(session, ctx, [BatchItem(post("one-more", 50, sender="zhangwei"))])

    assert len(read[(EAST, "zhangwei")]) == ctx.engine.max_limit + 1  # of 300 in the window
    assert [v.rule for v in handled.verdict.violations] == ["frequency"]
    assert flagged(engine) >= {f"flood-{i:03d}" for i in range(10, 300)} | {"one-more"}
