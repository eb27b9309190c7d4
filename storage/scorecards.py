"""Queries behind trends and rep scorecards; every one takes the viewer's `scope` (chat ids, or None
for an admin) and filters by it in SQL, like storage.dashboard."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.dashboard import Scope, _scoped
from storage.models import Appeal, Client, Message, Violation


def violation_times(
    session: Session, *, scope: Scope, since: datetime, until: datetime, sender: str | None = None
) -> list[tuple[datetime, str]]:
    """(occurred_at, rule) of non-void violations in `[since, until)`; the caller buckets them by week."""
    stmt = select(Violation.occurred_at, Violation.rule).where(
        Violation.occurred_at >= since, Violation.occurred_at < until, Violation.status != "void"
    )
    if sender is not None:
        stmt = stmt.where(Violation.sender == sender)
    return [(at, rule) for at, rule in session.execute(_scoped(stmt, Violation.chat_id, scope))]


def pending_appeals(session: Session, *, scope: Scope, sender: str | None = None) -> int:
    stmt = (
        select(func.count())
        .select_from(Appeal)
        .join(Violation, Violation.id == Appeal.violation_id)
        .where(Appeal.status == "pending")
    )
    if sender is not None:
        stmt = stmt.where(Appeal.sender == sender)
    return int(session.scalar(_scoped(stmt, Violation.chat_id, scope)) or 0)


def rep_appeals(session: Session, *, scope: Scope, sender: str, limit: int = 20) -> list[tuple[Appeal, Violation]]:
    stmt = (
        select(Appeal, Violation)
        .join(Violation, Violation.id == Appeal.violation_id)
        .where(Appeal.sender == sender)
        .order_by(Appeal.created_at.desc(), Appeal.id.desc())
        .limit(limit)
    )
    return [(a, v) for a, v in session.execute(_scoped(stmt, Violation.chat_id, scope))]


def overdue_clients(session: Session, *, scope: Scope, owner: str, today: date, limit: int = 50) -> list[Client]:
    stmt = select(Client).where(Client.owner == owner, Client.next_action_due < today)
    stmt = _scoped(stmt, Client.chat_id, scope).order_by(Client.next_action_due, Client.id).limit(limit)
    return list(session.scalars(stmt))


def rep_posted_in_scope(session: Session, *, scope: Scope, sender: str) -> bool:
    """Whether the rep ever posted in the viewer's groups (who a manager may look at)."""
    stmt = _scoped(select(Message.id).where(Message.sender == sender), Message.chat_id, scope).limit(1)
    return session.scalar(stmt) is not None
