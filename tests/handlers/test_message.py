"""handle_message: one message judged, stored and alerted in one transaction, on SQLite and PostgreSQL.

Everything real: the rule engine compiled from the repository's config.yaml, the alerts module, the
database. The only thing injected is a failure from outside (a conflicting row, a commit that fails).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig
from handlers.context import HandlerContext
from handlers.message import HandledMessage, handle_message
from rules.engine import RuleEngine
from rules.model import GroupMessage
from storage import inbox, violations
from storage.db import make_session_factory
from storage.messages import text_hmac
from storage.models import (
    Base,
    ClientRow,
    ClientUpdateRow,
    DealRow,
    EscalationRow,
    InboxEventRow,
    MessageRow,
    OutboxItemRow,
    ViolationRow,
)
from tests.conftest import sh

EAST = "wr-sales-east"
HMAC_KEY = b"test-hmac-key-0123456789abcdef"
MONDAY = sh(2026, 3, 2, 9, 15)  # a workday, inside the 09:00-11:00 window

REPORT = (
    "【跟进】客户姓名：王总\n公司名称：华星科技\n联系方式：138****5678\n"
    "需求描述：仓储系统改造，3个仓库\n上次沟通时间：昨天\n下一步行动计划：下周三上门演示"
)


@pytest.fixture
def ctx(config: AppConfig) -> HandlerContext:
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    return HandlerContext(config=config, engine=engine, hmac_key=HMAC_KEY, clock=lambda: MONDAY)


def message(msgid: str, body: str, at: datetime = MONDAY, *, sender: str = "zhangwei", chat: str = EAST):
    return GroupMessage(msgid=msgid, chat_id=chat, sender=sender, sent_at=at, text=body, source="callback")


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_follow_up_report_stores_its_update_and_creates_the_client(session, ctx):
    result = handle_message(session, ctx, message("m-1", REPORT))

    assert result.created and result.verdict.violations == ()
    update = session.scalars(select(ClientUpdateRow)).one()
    client = session.scalars(select(ClientRow)).one()
    assert (update.client_id, update.complete, update.contact) == (client.id, True, "138****5678")
    assert (update.last_contact_at, update.next_action_due) == (date(2026, 3, 1), date(2026, 3, 11))
    assert (client.name, client.company, client.owner, client.chat_id) == ("王总", "华星科技", "zhangwei", EAST)
    assert (client.next_action, client.next_action_due) == ("下周三上门演示", date(2026, 3, 11))
    assert client.last_update_at == MONDAY
    assert session.scalar(select(MessageRow.is_report)) is True


@pytest.mark.parametrize(
    ("second_company", "second_at", "clients", "next_action", "due"),
    [
        ("华星科技有限公司", MONDAY + timedelta(days=1), 1, "本周五签合同", date(2026, 3, 6)),
        (" 华星科技 ", MONDAY + timedelta(days=1), 1, "本周五签合同", date(2026, 3, 6)),
        ("华星科技", MONDAY - timedelta(days=3), 1, "下周三上门演示", date(2026, 3, 11)),
        ("星河物流", MONDAY + timedelta(days=1), 2, "下周三上门演示", date(2026, 3, 11)),
    ],
    ids=["legal-suffix-same-client", "spaces-same-client", "older-report-keeps-next-step", "other-company"],
)
def test_later_reports_fold_into_the_same_client(session, ctx, second_company, second_at, clients, next_action, due):
    handle_message(session, ctx, message("m-1", REPORT))
    second = (
        f"【跟进】客户姓名：王总\n公司名称：{second_company}\n联系方式：138****5678\n"
        "需求描述：仓储系统改造\n上次沟通时间：今天\n下一步行动计划：本周五签合同"
    )

    handle_message(session, ctx, message("m-2", second, second_at))

    assert count(session, ClientRow) == clients
    assert count(session, ClientUpdateRow) == 2
    first_client = session.scalars(select(ClientRow).order_by(ClientRow.id)).first()
    assert (first_client.next_action, first_client.next_action_due) == (next_action, due)


def test_an_incomplete_report_stores_a_template_violation_and_warns(session, ctx):
    body = "【跟进】客户姓名：王总；公司名称：华星科技；需求描述：仓储系统改造"

    result = handle_message(session, ctx, message("m-1", body))

    (row,) = session.scalars(select(ViolationRow)).all()
    assert (row.rule, row.missing, row.action, row.status) == (
        "template",
        ["contact", "last_contact_at", "next_action"],
        "warn_member",
        "open",
    )
    assert (row.msgid, row.sender, row.chat_id, row.occurred_at) == ("m-1", "zhangwei", EAST, MONDAY)
    assert [v.rule for v in result.verdict.violations] == ["template"]
    assert session.scalars(select(ClientUpdateRow.complete)).one() is False
    assert count(session, OutboxItemRow) >= 1


@pytest.mark.parametrize(
    ("body", "amount", "linked"),
    [
        ("【成交】客户：王总，公司：华星科技，成交金额：5万", 50_000, True),
        ("#成交 华星科技仓储项目签了！合同金额：12.5万元", 125_000, False),
        ("【成交】王总那边定了，金额回头补", None, False),
    ],
)
def test_a_deal_report_stores_a_deal_linked_to_its_client(session, ctx, body, amount, linked):
    handle_message(session, ctx, message("m-1", REPORT))

    handle_message(session, ctx, message("m-2", body, MONDAY + timedelta(minutes=5)))

    deal = session.scalars(select(DealRow)).one()
    assert (deal.msgid, deal.sender, deal.amount_yuan) == ("m-2", "zhangwei", amount)
    assert deal.client_id == (session.scalar(select(ClientRow.id)) if linked else None)


def test_a_flood_of_twelve_gives_two_frequency_violations(session, ctx):
    replies = "收到 好的 马上处理 已发报价 客户在看 稍等 OK 明白 在路上了 到了 开始谈 谈完了".split()

    results = [
        handle_message(session, ctx, message(f"m-{n}", body, MONDAY + timedelta(minutes=3 * n)))
        for n, body in enumerate(replies)
    ]

    flagged = [n for n, r in enumerate(results) if any(v.rule == "frequency" for v in r.verdict.violations)]
    assert flagged == [10, 11]
    rows = session.scalars(select(ViolationRow).order_by(ViolationRow.id)).all()
    assert [(r.msgid, r.rule) for r in rows] == [("m-10", "frequency"), ("m-11", "frequency")]


@pytest.mark.parametrize(
    ("body", "clear", "masked"),
    [
        ("王总手机13812345678，下午给他回电话", "13812345678", "138****5678"),
        ("王总手机 +86 138-1234-5678 晚点回电", "138-1234-5678", "138****5678"),
        ("合同发到 wangzong@huaxing.com 了", "wangzong@huaxing.com", "w***@huaxing.com"),
        ("王总身份证110105198806051237，合同用", "110105198806051237", "110105********1237"),
        ("回款打到王总卡 6222 0202 0000 1234 562 就行", "6222 0202 0000 1234 562", "****4562"),
        ("加王总微信：wangzong_88 方便沟通", "wangzong_88", "wa****"),
    ],
    ids=["mobile", "mobile-dashed", "email", "id-card", "bank-card", "wechat"],
)
def test_a_clear_identifier_is_stored_nowhere(session, ctx, body, clear, masked):
    inbox.record_event(
        session,
        dedupe_key="m-1",
        source="callback",
        kind="message",
        payload={"msgid": "m-1", "text": body},
        now=MONDAY,
    )
    session.commit()
    event_id = session.scalar(select(InboxEventRow.id))

    handle_message(session, ctx, message("m-1", body), inbox_event_id=event_id)

    stored = session.scalars(select(MessageRow)).one()
    assert masked in stored.masked_text
    assert stored.text_hmac == text_hmac(body, HMAC_KEY)
    assert session.get(InboxEventRow, event_id, populate_existing=True).processed_at == MONDAY
    assert count(session, ViolationRow) >= 1
    digits = clear.replace("-", "").replace(" ", "")
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            dumped = repr(tuple(row))
            assert clear not in dumped and digits not in dumped, table.name


def test_a_member_is_escalated_at_the_third_violation_within_seven_days(session, ctx):
    late = [sh(2026, 3, 2, 21, 5), sh(2026, 3, 4, 21, 30), sh(2026, 3, 6, 22, 0), sh(2026, 3, 9, 20, 0)]

    for n, at in enumerate(late):
        handle_message(session, ctx, message(f"late-{n}", "今天拜访了三家客户，明天继续", at))

    (escalation,) = session.scalars(select(EscalationRow)).all()
    third = session.scalars(select(ViolationRow).where(ViolationRow.msgid == "late-2")).one()
    assert (escalation.violation_id, escalation.count, escalation.window_days) == (third.id, 3, 7)
    assert (escalation.sender, escalation.chat_id) == ("zhangwei", EAST)


@pytest.mark.parametrize(
    ("days_apart", "void_first", "escalated"),
    [(3, False, True), (3, True, False), (8, False, False)],
    ids=["within-window", "voided-does-not-count", "outside-window"],
)
def test_escalation_counts_only_live_violations_in_the_window(session, ctx, days_apart, void_first, escalated):
    handle_message(session, ctx, message("late-0", "客户资料整理好了", sh(2026, 3, 2, 21, 0)))
    if void_first:
        first = session.scalars(select(ViolationRow)).one()
        violations.set_status(session, violation_id=first.id, status="void", by="lisi", now=MONDAY, note="申诉通过")
        session.commit()
    handle_message(session, ctx, message("late-1", "报价单已发", sh(2026, 3, 2, 22, 0)))

    handle_message(session, ctx, message("late-2", "明天见客户", sh(2026, 3, 2, 21, 0) + timedelta(days=days_apart)))

    assert (count(session, EscalationRow) == 1) is escalated


def test_the_same_msgid_twice_is_stored_once_with_the_same_verdict(session, ctx):
    body = "【跟进】客户姓名：王总；公司名称：华星科技；需求描述：仓储系统改造"
    first = handle_message(session, ctx, message("m-1", body))
    outbox_rows = count(session, OutboxItemRow)

    again = handle_message(session, ctx, message("m-1", body))

    assert again == HandledMessage(first.verdict, created=False)
    assert again.verdict.to_contract() == first.verdict.to_contract()
    assert [count(session, m) for m in (MessageRow, ViolationRow, ClientUpdateRow, ClientRow)] == [1, 1, 1, 1]
    assert count(session, OutboxItemRow) == outbox_rows


def test_a_replayed_flood_message_keeps_its_frequency_verdict(session, ctx):
    for n in range(11):
        handle_message(session, ctx, message(f"m-{n}", "收到", MONDAY + timedelta(minutes=n)))

    again = handle_message(session, ctx, message("m-10", "收到", MONDAY + timedelta(minutes=10)))

    assert [v.rule for v in again.verdict.violations] == ["frequency"]
    assert count(session, ViolationRow) == 1


def _conflicting_update(session: Session) -> None:
    # A client update already holds this msgid (say, a bad import): the unique index refuses the handler's.
    session.add(ClientUpdateRow(msgid="m-1", chat_id=EAST, sender="zhangwei", sent_at=MONDAY, complete=False))
    session.commit()


def _failing_commit(session: Session) -> None:
    def refuse(_session: Session) -> None:
        raise IntegrityError("COMMIT", {}, Exception("deferred constraint failed"))

    event.listen(session, "before_commit", refuse, once=True)


@pytest.mark.parametrize("inject", [_conflicting_update, _failing_commit], ids=["constraint", "commit"])
def test_a_violation_and_its_alerts_commit_together_or_not_at_all(session, ctx, inject):
    body = "【跟进】客户姓名：王总；公司名称：华星科技；需求描述：仓储系统改造，王总手机13812345678"
    inject(session)
    before = count(session, OutboxItemRow)

    with pytest.raises(IntegrityError):
        handle_message(session, ctx, message("m-1", body))

    assert [count(session, m) for m in (MessageRow, ViolationRow, EscalationRow)] == [0, 0, 0]
    assert count(session, OutboxItemRow) == before == 0
    if inject is _failing_commit:  # the same message then goes through whole
        assert handle_message(session, ctx, message("m-1", body)).created
        assert count(session, ViolationRow) == 2 and count(session, OutboxItemRow) >= 1


def test_messages_are_never_stored_in_clear(session, ctx):
    handle_message(session, ctx, message("m-1", "王总手机13812345678"))

    raw = session.execute(text("select masked_text, text_hmac from messages")).one()
    assert raw == ("王总手机138****5678", text_hmac("王总手机13812345678", HMAC_KEY))


def test_a_replica_that_loses_the_race_for_a_msgid_returns_created_false(engine, ctx):
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE serializes writers: the race cannot happen there")
    sessions = make_session_factory(engine)
    body = "【跟进】客户姓名：王总；公司名称：华星科技；需求描述：仓储系统改造"
    with sessions() as setup:
        inbox.record_event(
            setup, dedupe_key="m-1", source="callback", kind="message", payload={"msgid": "m-1"}, now=MONDAY
        )
        setup.commit()
        event_id = setup.scalar(select(InboxEventRow.id))

    with sessions() as loser, sessions() as winner:

        def other_replica_commits_first(_conn, _cursor, statement, *_args) -> None:
            # Judging serializes per sender (an advisory lock), so only a replica holding another
            # sender's lock can store the same msgid between our read and our insert: the insert
            # then skips the row (ON CONFLICT DO NOTHING) instead of failing the batch.
            if statement.startswith("INSERT INTO messages") and not winner.info.get("done"):
                winner.info["done"] = True
                handle_message(winner, ctx, message("m-1", body, sender="wangwu"))

        event.listen(engine, "before_cursor_execute", other_replica_commits_first)
        try:
            result = handle_message(loser, ctx, message("m-1", body), inbox_event_id=event_id)
        finally:
            event.remove(engine, "before_cursor_execute", other_replica_commits_first)

        assert result.created is False and [v.rule for v in result.verdict.violations] == ["template"]
        assert [count(loser, m) for m in (MessageRow, ViolationRow, ClientUpdateRow)] == [1, 1, 1]
        assert loser.get(InboxEventRow, event_id, populate_existing=True).processed_at == MONDAY
