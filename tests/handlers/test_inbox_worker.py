"""The inbox worker on SQLite and PostgreSQL: resumes after a restart or a SIGKILL, never judges twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from bot.config import AppConfig
from bot.simulator.clock import ManualClock
from handlers.context import HandlerContext
from handlers.inbox_worker import BadPayload, InboxWorker, default_handlers, payload_to_message
from rules.engine import RuleEngine
from rules.model import GroupMessage
from storage import inbox
from storage.db import make_session_factory
from storage.models import InboxEventRow, MessageRow
from tests.conftest import REPO, sh
from tests.helpers.threads import run_together

MONDAY = sh(2026, 3, 2, 9, 15)
TEXTS = [
    "【跟进】客户姓名：王总 公司名称：华星科技 需求描述：门禁改造 下一步行动计划：周三上门",
    "今天拜访了三家客户，明天继续",
    "【成交】华星科技 王总 签约 5万",
    "收到，我下午跟进一下",
]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def ctx(config: AppConfig, clock: ManualClock) -> HandlerContext:
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    return HandlerContext(config=config, engine=engine, hmac_key=b"worker-test-key", clock=clock)


def payload(msgid: str, text: str, *, chat_id: str = "wr-sales-east", minute: int = 0) -> dict:
    sent = MONDAY + timedelta(minutes=minute)
    return {
        "msgid": msgid,
        "chat_id": chat_id,
        "sender": "zhangwei",
        "sent_at": sent.isoformat(),
        "text": text,
        "msgtype": "text",
        "source": "callback",
    }


def record(engine: Engine, rows: list[tuple[str, str, dict]]) -> None:
    """rows: (dedupe_key, kind, payload)."""
    with make_session_factory(engine)() as session:
        for key, kind, body in rows:
            inbox.record_event(session, dedupe_key=key, source="callback", kind=kind, payload=body, now=MONDAY)
        session.commit()


def record_messages(engine: Engine, n: int) -> list[str]:
    ids = [f"m-{i:03d}" for i in range(n)]
    record(engine, [(m, "message", payload(m, TEXTS[i % len(TEXTS)], minute=i)) for i, m in enumerate(ids)])
    return ids


def state(engine: Engine) -> tuple[int, int, int]:
    """(messages stored, inbox rows done, inbox rows still holding a payload)."""
    with make_session_factory(engine)() as session:
        stored = session.scalar(select(func.count()).select_from(MessageRow))
        done = session.scalar(select(func.count()).where(InboxEventRow.processed_at.is_not(None)))
        holding = session.scalar(select(func.count()).where(InboxEventRow.payload.is_not(None)))
        return stored, done, holding


def worker(engine: Engine, ctx: HandlerContext, owner: str = "w1", **kwargs) -> InboxWorker:
    return InboxWorker(make_session_factory(engine), ctx, owner=owner, lease_seconds=60, **kwargs)


def drain(w: InboxWorker) -> int:
    handled = 0
    while batch := w.run_once():
        handled += batch
    return handled


@pytest.mark.parametrize(
    ("kind", "body", "stored"),
    [
        ("message", payload("g-1", TEXTS[0]), 1),
        ("command", payload("d-1", "帮助", chat_id=""), 0),
        ("event", {"event": "msgaudit_notify", "sender": "sys", "sent_at": MONDAY.isoformat()}, 0),
    ],
)
def test_each_kind_is_dispatched_and_its_row_marked_done(engine, ctx, kind: str, body: dict, stored: int) -> None:
    record(engine, [("k-1", kind, body)])
    assert drain(worker(engine, ctx)) == 1
    assert state(engine) == (stored, 1, 0)


def test_a_restarted_worker_resumes_the_rows_left_pending(engine, ctx) -> None:
    record_messages(engine, 7)
    first = worker(engine, ctx, batch_size=3)
    assert first.run_once() == 3  # then the process stops
    assert state(engine) == (3, 3, 4)
    assert drain(worker(engine, ctx, owner="w1-restarted", batch_size=3)) == 4
    assert state(engine) == (7, 7, 0)


KILLED_WORKER = """
import os, signal, sys
from datetime import datetime
from storage.db import make_engine, make_session_factory
from storage import inbox
engine = make_engine(sys.argv[1])
with make_session_factory(engine)() as session:
    rows = inbox.claim(session, owner="doomed", limit=10, lease_seconds=60, now=datetime.fromisoformat(sys.argv[2]))
    session.commit()
print(len(rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # dies between the committed claim and any processing
"""


def test_a_worker_killed_after_claiming_leaves_rows_that_are_processed_exactly_once(
    db_url: str, engine, ctx, clock: ManualClock
) -> None:
    ids = record_messages(engine, 3)
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, db_url, MONDAY.isoformat()],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout.strip()) == (-signal.SIGKILL, "3")
    survivor = worker(engine, ctx, owner="w2")
    assert survivor.run_once() == 0  # the dead worker's lease still holds
    clock.now = MONDAY + timedelta(seconds=61)
    assert drain(survivor) == 3
    assert state(engine) == (3, 3, 0)
    with make_session_factory(engine)() as session:
        assert sorted(session.scalars(select(MessageRow.msgid))) == ids
        assert {r.attempts for r in session.scalars(select(InboxEventRow))} == {2}


def test_a_stale_claim_finishing_late_does_not_judge_twice(engine, ctx, clock: ManualClock) -> None:
    """Worker A stalls past its lease; B re-claims and judges; A then finishes its stale batch."""
    record_messages(engine, 2)
    slow = worker(engine, ctx, owner="slow")
    stale = slow.claim()
    clock.now = MONDAY + timedelta(seconds=61)
    assert drain(worker(engine, ctx, owner="fast")) == 2
    for event in stale:
        slow.process(event)
    assert state(engine) == (2, 2, 0)


def test_two_replicas_racing_judge_each_message_once(engine, ctx) -> None:
    record_messages(engine, 30)
    workers = {owner: worker(engine, ctx, owner=owner, batch_size=4) for owner in ("replica-a", "replica-b")}
    counts: dict[str, int] = {}

    def replica(owner: str) -> None:
        counts[owner] = drain(workers[owner])

    run_together(replica, list(workers))
    assert sum(counts.values()) == 30
    assert state(engine) == (30, 30, 0)


@pytest.mark.parametrize(
    ("kind", "body", "error"),
    [
        (
            "message",
            {"msgid": "x-1", "chat_id": "wr-sales-east"},
            "payload cannot become a GroupMessage: missing field 'sender'",
        ),
        (
            "message",
            {**payload("x-2", "你好"), "sent_at": "2026-03-02T09:15:00"},
            # The reason names the field and never quotes its value (it is logged and stored).
            "payload cannot become a GroupMessage: sent_at has no UTC offset",
        ),
        ("reaction", {"msgid": "x-3"}, "no handler for inbox kind 'reaction'"),
    ],
)
def test_rows_that_can_never_be_processed_are_parked_with_the_reason(engine, ctx, kind, body, error) -> None:
    record(engine, [("bad-1", kind, body)])
    assert drain(worker(engine, ctx)) == 1
    with make_session_factory(engine)() as session:
        row = session.scalars(select(InboxEventRow)).one()
        assert (row.error, row.processed_at, row.payload == body) == (error, None, True)
        assert inbox.counts(session) == {"pending": 0, "failed": 1}


def test_payload_to_message_round_trips_the_adapter_payload() -> None:
    body = {**payload("m-1", TEXTS[0]), "sender_name": "张伟", "chat_name": "华东销售群"}
    assert payload_to_message(body) == GroupMessage(
        msgid="m-1",
        chat_id="wr-sales-east",
        sender="zhangwei",
        sent_at=MONDAY,
        text=TEXTS[0],
        source="callback",
        sender_name="张伟",
        chat_name="华东销售群",
    )
    with pytest.raises(BadPayload):
        payload_to_message({"msgid": "m-1"})


def test_the_kind_table_is_explicit() -> None:
    assert set(default_handlers()) == {"message", "command", "event", "mention"}


def test_run_forever_processes_on_wake_and_stops(engine, ctx) -> None:
    async def scenario() -> tuple[int, int, int]:
        stop, wake = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(worker(engine, ctx).run_forever(stop, poll_seconds=30, wake=wake))
        await asyncio.sleep(0.05)
        record_messages(engine, 2)
        wake.set()  # what a callback does after committing
        for _ in range(200):
            if state(engine)[1] == 2:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 5)
        return state(engine)

    assert asyncio.run(scenario()) == (2, 2, 0)


# Asked before each claim (a smaller batch while callbacks arrive) and after each batch (whether to
# hold back): one batch, then the empty claim that ends the drain.
@pytest.mark.parametrize(("max_share", "contended", "asked"), [(1.0, True, 0), (0.3, False, 3), (0.3, True, 3)])
def test_the_worker_asks_whether_callbacks_are_arriving_only_when_it_may_hold_back(
    engine, ctx, max_share: float, contended: bool, asked: int
) -> None:
    record_messages(engine, 3)
    questions: list[bool] = []

    def busy() -> bool:
        questions.append(contended)
        return contended

    assert drain(worker(engine, ctx, max_share=max_share, contended=busy)) == 3
    assert (len(questions), state(engine)) == (asked, (3, 3, 0))


@pytest.mark.parametrize(("contended", "first_batch"), [(False, 120), (True, 50)])
def test_while_callbacks_arrive_the_worker_claims_small_batches(engine, ctx, contended: bool, first_batch: int) -> None:
    """Judging holds the GIL the callbacks need: under their load the worker takes 50 rows at a time."""
    record_messages(engine, 120)
    busy = worker(engine, ctx, max_share=0.3, contended=lambda: contended, batch_size=200)

    assert busy.run_once() == first_batch
