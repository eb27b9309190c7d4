"""Aggregates behind the leaderboard, the digest and the monthly evaluation, computed in SQL.

Every query takes a half-open UTC range `[start, end)` (callers turn Asia/Shanghai weeks, days and
months into it) and an optional `chat_id`; None means company-wide. Void violations (accepted
appeals) never count.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from sqlalchemy import Date, case, func, select
from sqlalchemy.orm import Session

from storage.models import ClientRow, ClientUpdateRow, DealRow, MessageRow, ViolationRow


@dataclass
class RepActivity:
    """One rep's numbers in a period."""

    userid: str
    deal_amount: int = 0
    deals: int = 0
    reports: int = 0
    complete_reports: int = 0
    violations: int = 0
    violations_by_rule: dict[str, int] = field(default_factory=dict)
    #: Deals whose amount could not be read (金额待确认): counted as deals, never as ¥0 in amounts.
    pending_deals: int = 0


def rep_activity(
    session: Session, *, start: datetime, end: datetime, chat_id: str | None = None
) -> dict[str, RepActivity]:
    """Deals (count, amount), follow-up reports (all, complete) and violations per rep.

    Three grouped queries, each a range scan on its (time, sender) index; Python only merges the
    per-rep rows.
    """
    out: dict[str, RepActivity] = {}

    def rep(userid: str) -> RepActivity:
        return out.setdefault(userid, RepActivity(userid))

    deals = select(
        DealRow.sender,
        func.count(),
        func.coalesce(func.sum(DealRow.amount_yuan), 0),
        func.sum(case((DealRow.amount_yuan.is_(None), 1), else_=0)),
    ).where(DealRow.sent_at >= start, DealRow.sent_at < end)
    if chat_id is not None:
        deals = deals.where(DealRow.chat_id == chat_id)
    for sender, count, amount, pending in session.execute(deals.group_by(DealRow.sender)):
        r = rep(sender)
        r.deals, r.deal_amount, r.pending_deals = int(count), int(amount), int(pending or 0)

    updates = select(
        ClientUpdateRow.sender, func.count(), func.sum(case((ClientUpdateRow.complete, 1), else_=0))
    ).where(ClientUpdateRow.sent_at >= start, ClientUpdateRow.sent_at < end)
    if chat_id is not None:
        updates = updates.where(ClientUpdateRow.chat_id == chat_id)
    for sender, count, complete in session.execute(updates.group_by(ClientUpdateRow.sender)):
        r = rep(sender)
        r.reports, r.complete_reports = int(count), int(complete or 0)

    for sender, rule, count in violation_counts(session, start=start, end=end, chat_id=chat_id):
        r = rep(sender)
        r.violations += count
        r.violations_by_rule[rule] = count
    return out


def violation_counts(
    session: Session, *, start: datetime, end: datetime, chat_id: str | None = None
) -> list[tuple[str, str, int]]:
    """(sender, rule, count) of non-void violations, most frequent first."""
    stmt = select(ViolationRow.sender, ViolationRow.rule, func.count().label("n")).where(
        ViolationRow.occurred_at >= start, ViolationRow.occurred_at < end, ViolationRow.status != "void"
    )
    if chat_id is not None:
        stmt = stmt.where(ViolationRow.chat_id == chat_id)
    stmt = stmt.group_by(ViolationRow.sender, ViolationRow.rule).order_by(
        func.count().desc(), ViolationRow.sender, ViolationRow.rule
    )
    return [(s, r, int(n)) for s, r, n in session.execute(stmt)]


def follow_up_timeliness(
    session: Session, *, start: datetime, end: datetime, tz: tzinfo, chat_ids: Collection[str] | None = None
) -> dict[str, tuple[int, int]]:
    """Per rep: (on time, late) follow-ups among the reports sent in `[start, end)`.

    A report is a follow-up when the previous report on the same client planned a next step with a
    due date; it is on time when its local date (`tz`) is no later than that date. LAG runs in the
    database (SQLite >= 3.25 and PostgreSQL alike). `chat_ids` keeps the reports sent in those groups.
    """
    previous_due = (
        func.lag(ClientUpdateRow.next_action_due, type_=Date)
        .over(partition_by=ClientUpdateRow.client_id, order_by=(ClientUpdateRow.sent_at, ClientUpdateRow.id))
        .label("previous_due")
    )
    timeline = (
        select(ClientUpdateRow.sender, ClientUpdateRow.sent_at, ClientUpdateRow.chat_id, previous_due)
        .where(ClientUpdateRow.client_id.is_not(None), ClientUpdateRow.sent_at < end)
        .subquery()
    )
    stmt = select(timeline.c.sender, timeline.c.sent_at, timeline.c.previous_due).where(
        timeline.c.sent_at >= start, timeline.c.previous_due.is_not(None)
    )
    if chat_ids is not None:
        stmt = stmt.where(timeline.c.chat_id.in_(sorted(chat_ids)))
    rows = session.execute(stmt)
    out: dict[str, tuple[int, int]] = {}
    for sender, sent_at, due in rows:
        on_time, late = out.get(sender, (0, 0))
        if sent_at.astimezone(tz).date() <= due:
            on_time += 1
        else:
            late += 1
        out[sender] = (on_time, late)
    return out


def overdue_follow_ups(
    session: Session, *, today: date, chat_id: str | None = None, limit: int = 10
) -> list[ClientRow]:
    """Clients whose planned next step is past due (before `today`), longest overdue first."""
    stmt = select(ClientRow).where(ClientRow.next_action_due.is_not(None), ClientRow.next_action_due < today)
    if chat_id is not None:
        stmt = stmt.where(ClientRow.chat_id == chat_id)
    return list(session.scalars(stmt.order_by(ClientRow.next_action_due, ClientRow.id).limit(limit)))


def posters(session: Session, *, chat_id: str, start: datetime, end: datetime) -> set[str]:
    """Who posted anything in the group in `[start, end)`: the group's active members."""
    stmt = (
        select(MessageRow.sender)
        .where(MessageRow.chat_id == chat_id, MessageRow.sent_at >= start, MessageRow.sent_at < end)
        .distinct()
    )
    return set(session.scalars(stmt))


def reporters(session: Session, *, chat_id: str, start: datetime, end: datetime) -> set[str]:
    """Who sent at least one follow-up report in the group in `[start, end)`."""
    stmt = (
        select(ClientUpdateRow.sender)
        .where(ClientUpdateRow.chat_id == chat_id, ClientUpdateRow.sent_at >= start, ClientUpdateRow.sent_at < end)
        .distinct()
    )
    return set(session.scalars(stmt))
