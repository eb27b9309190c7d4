"""Queries behind trends and rep scorecards; every one takes the viewer's `scope` (chat ids, or None
for an admin) and filters by it in SQL, like storage.dashboard."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.dashboard import Scope, _scoped
from storage.models import AppealRow, ClientRow, MessageRow, ViolationRow


def violation_times(
    session: Session, *, scope: Scope, since: datetime, until: datetime, sender: str | None = None
) -> list[tuple[datetime, str]]:
    """(occurred_at, rule) of non-void violations in `[since, until)`; the caller buckets them by week."""
    stmt = select(ViolationRow.occurred_at, ViolationRow.rule).where(
        ViolationRow.occurred_at >= since, ViolationRow.occurred_at < until, ViolationRow.status != "void"
    )
    if sender is not None:
        stmt = stmt.where(ViolationRow.sender == sender)
    return [(at, rule) for at, rule in session.execute(_scoped(stmt, ViolationRow.chat_id, scope))]


def pending_appeals(session: Session, *, scope: Scope, sender: str | None = None) -> int:
    stmt = (
        select(func.count())
        .select_from(AppealRow)
        .join(ViolationRow, ViolationRow.id == AppealRow.violation_id)
        .where(AppealRow.status == "pending")
    )
    if sender is not None:
        stmt = stmt.where(AppealRow.sender == sender)
    return int(session.scalar(_scoped(stmt, ViolationRow.chat_id, scope)) or 0)


def rep_appeals(
    session: Session, *, scope: Scope, sender: str, limit: int = 20
) -> list[tuple[AppealRow, ViolationRow]]:
    stmt = (
        select(AppealRow, ViolationRow)
        .join(ViolationRow, ViolationRow.id == AppealRow.violation_id)
        .where(AppealRow.sender == sender)
        .order_by(AppealRow.created_at.desc(), AppealRow.id.desc())
        .limit(limit)
    )
    return [(a, v) for a, v in session.execute(_scoped(stmt, ViolationRow.chat_id, scope))]


def overdue_clients(session: Session, *, scope: Scope, owner: str, today: date, limit: int = 50) -> list[ClientRow]:
    stmt = select(ClientRow).where(ClientRow.owner == owner, ClientRow.next_action_due < today)
    stmt = _scoped(stmt, ClientRow.chat_id, scope).order_by(ClientRow.next_action_due, ClientRow.id).limit(limit)
    return list(session.scalars(stmt))


def rep_posted_in_scope(session: Session, *, scope: Scope, sender: str) -> bool:
    """Whether the rep ever posted in the viewer's groups (who a manager may look at)."""
    stmt = _scoped(select(MessageRow.id).where(MessageRow.sender == sender), MessageRow.chat_id, scope).limit(1)
    return session.scalar(stmt) is not None
