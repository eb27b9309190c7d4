"""Rows for scheduled-job tests, inserted straight into our own tables (no mocks of our code)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from storage.models import ClientRow, ClientUpdateRow, DealRow, MemberRow, MessageRow, ViolationRow

_ids = itertools.count(1)


def _msgid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def message(session: Session, *, sender: str, chat_id: str, at: datetime, text: str = "收到") -> MessageRow:
    row = MessageRow(
        msgid=_msgid("m"), chat_id=chat_id, sender=sender, sent_at=at, source="replay",
        masked_text=text, text_hmac="0" * 64,
    )
    session.add(row)
    session.flush()
    return row


def report(
    session: Session,
    *,
    sender: str,
    chat_id: str,
    at: datetime,
    complete: bool = True,
    client: ClientRow | None = None,
    next_action_due: date | None = None,
) -> ClientUpdateRow:
    """A follow-up report (and the group message that carried it)."""
    msg = message(session, sender=sender, chat_id=chat_id, at=at, text="【跟进】客户：王总 公司：华星科技")
    row = ClientUpdateRow(
        msgid=msg.msgid, chat_id=chat_id, sender=sender, sent_at=at, complete=complete,
        client_id=client.id if client else None, client_name=client.name if client else "王总",
        company=client.company if client else "华星科技", next_action_due=next_action_due,
    )
    session.add(row)
    session.flush()
    return row


def deal(session: Session, *, sender: str, chat_id: str, at: datetime, amount: int | None) -> DealRow:
    msg = message(session, sender=sender, chat_id=chat_id, at=at, text="【成交】华星科技 签单")
    row = DealRow(msgid=msg.msgid, chat_id=chat_id, sender=sender, sent_at=at, amount_yuan=amount, company="华星科技")
    session.add(row)
    session.flush()
    return row


def violation(
    session: Session, *, sender: str, chat_id: str, at: datetime, rule: str = "posting_window", status: str = "open"
) -> ViolationRow:
    msg = message(session, sender=sender, chat_id=chat_id, at=at, text="在吗")
    row = ViolationRow(
        message_id=msg.id, msgid=msg.msgid, chat_id=chat_id, sender=sender, rule=rule, detail="",
        action="warn_member", occurred_at=at, status=status,
    )
    session.add(row)
    session.flush()
    return row


def client(
    session: Session,
    *,
    owner: str,
    name: str,
    company: str,
    chat_id: str = "wr-sales-east",
    grade: str = "B",
    next_action: str | None = None,
    next_action_due: date | None = None,
    last_update_at: datetime | None = None,
) -> ClientRow:
    row = ClientRow(
        key=f"{name}|{company}", name=name, company=company, owner=owner, chat_id=chat_id, grade=grade,
        next_action=next_action, next_action_due=next_action_due, last_update_at=last_update_at,
    )
    session.add(row)
    session.flush()
    return row


def zhangweis_follow_ups(session: Session, *, today: date) -> None:
    """zhangwei's clients with a next step: 王总 due `today`, 刘经理 overdue since 2026-11-20, 陈总 due
    the day after `today` (not due yet). What reminders and 我的待办 list, and what they leave out."""
    client(session, owner="zhangwei", name="王总", company="华星科技", next_action="发送报价单", next_action_due=today)
    client(session, owner="zhangwei", name="刘经理", company="远航物流", next_action="约上门演示",
           next_action_due=date(2026, 11, 20))
    client(session, owner="zhangwei", name="陈总", company="博雅教育", next_action="确认合同条款",
           next_action_due=today + timedelta(days=1))


def member(session: Session, *, userid: str, name: str) -> MemberRow:
    row = MemberRow(userid=userid, name=name)
    session.add(row)
    session.flush()
    return row
