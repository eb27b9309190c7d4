"""Queries the dashboard and exports need that no other storage module provides.

storage.violations and storage.clients filter by one group; these filter by a viewer's set of groups.

Every query takes `scope`: the chat ids the viewer may see, or None for an admin (all groups).
Scoping happens here, in SQL, so a manager typing another group's URL finds nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Client, ClientUpdate, Message, OutboxItem, Violation
from storage.outbox import count_by_status

Scope = Collection[str] | None


def _scoped(stmt: Select, column: ColumnElement, scope: Scope) -> Select:
    return stmt if scope is None else stmt.where(column.in_(list(scope)))


@dataclass(frozen=True)
class ViolationFilter:
    chat_id: str | None = None
    sender: str | None = None
    rule: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_violations(
    session: Session, *, scope: Scope, filt: ViolationFilter, limit: int = 200, offset: int = 0
) -> list[Violation]:
    stmt = _scoped(select(Violation), Violation.chat_id, scope)
    if filt.chat_id:
        stmt = stmt.where(Violation.chat_id == filt.chat_id)
    if filt.sender:
        stmt = stmt.where(Violation.sender == filt.sender)
    if filt.rule:
        stmt = stmt.where(Violation.rule == filt.rule)
    if filt.status:
        stmt = stmt.where(Violation.status == filt.status)
    if filt.since:
        stmt = stmt.where(Violation.occurred_at >= filt.since)
    if filt.until:
        stmt = stmt.where(Violation.occurred_at < filt.until)
    stmt = stmt.order_by(Violation.occurred_at.desc(), Violation.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def get_violation(session: Session, *, violation_id: int, scope: Scope) -> Violation | None:
    stmt = _scoped(select(Violation).where(Violation.id == violation_id), Violation.chat_id, scope)
    return session.scalar(stmt)


def message_context(session: Session, *, message_id: int, around: int = 3) -> list[Message]:
    """The message and up to `around` messages before and after it in the same group."""
    msg = session.get(Message, message_id)
    if msg is None:
        return []
    base = select(Message).where(Message.chat_id == msg.chat_id)
    before = session.scalars(
        base.where(or_(Message.sent_at < msg.sent_at, (Message.sent_at == msg.sent_at) & (Message.id < msg.id)))
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(around)
    )
    after = session.scalars(
        base.where(or_(Message.sent_at > msg.sent_at, (Message.sent_at == msg.sent_at) & (Message.id > msg.id)))
        .order_by(Message.sent_at, Message.id)
        .limit(around)
    )
    return [*reversed(list(before)), msg, *after]


def counts_by_rule(session: Session, *, scope: Scope, since: datetime, until: datetime) -> dict[str, int]:
    """Non-void violations per rule with `since <= occurred_at < until`."""
    stmt = _scoped(
        select(Violation.rule, func.count())
        .where(Violation.occurred_at >= since, Violation.occurred_at < until, Violation.status != "void")
        .group_by(Violation.rule),
        Violation.chat_id,
        scope,
    )
    return dict(session.execute(stmt).all())


def senders_in_scope(session: Session, *, scope: Scope) -> list[str]:
    stmt = _scoped(select(Violation.sender).distinct(), Violation.chat_id, scope).order_by(Violation.sender)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class OutboxHealth:
    pending: int
    dead: int
    oldest_pending_at: datetime | None


def outbox_health(session: Session) -> OutboxHealth:
    counts = count_by_status(session)
    waiting = ("pending", "sending")
    oldest = session.scalar(select(func.min(OutboxItem.created_at)).where(OutboxItem.status.in_(waiting)))
    return OutboxHealth(pending=sum(counts.get(s, 0) for s in waiting), dead=counts.get("dead", 0),
                        oldest_pending_at=oldest)


def search_clients(
    session: Session, *, scope: Scope, query: str = "", grade: str | None = None, limit: int = 200
) -> list[Client]:
    stmt = _scoped(select(Client), Client.chat_id, scope)
    if query:
        like = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Client.name.ilike(like, escape="\\"), Client.company.ilike(like, escape="\\")))
    if grade:
        stmt = stmt.where(Client.grade == grade)
    stmt = stmt.order_by(Client.next_action_due.is_(None), Client.next_action_due, Client.id).limit(limit)
    return list(session.scalars(stmt))


def get_client(session: Session, *, client_id: int, scope: Scope) -> Client | None:
    return session.scalar(_scoped(select(Client).where(Client.id == client_id), Client.chat_id, scope))


def clients_since(session: Session, *, scope: Scope, since: datetime) -> list[Client]:
    stmt = _scoped(select(Client), Client.chat_id, scope)
    stmt = stmt.where(or_(Client.last_update_at >= since, Client.created_at >= since)).order_by(Client.id)
    return list(session.scalars(stmt))


def updates_since(session: Session, *, scope: Scope, since: datetime) -> list[ClientUpdate]:
    stmt = _scoped(select(ClientUpdate), ClientUpdate.chat_id, scope)
    return list(session.scalars(stmt.where(ClientUpdate.sent_at >= since).order_by(ClientUpdate.sent_at)))


def violations_since(session: Session, *, scope: Scope, since: datetime) -> list[Violation]:
    stmt = _scoped(select(Violation), Violation.chat_id, scope)
    return list(session.scalars(stmt.where(Violation.occurred_at >= since).order_by(Violation.occurred_at)))


def messages_between(
    session: Session, *, scope: Scope, since: datetime, until: datetime, limit: int = 5000
) -> list[Message]:
    """Stored (masked) messages in a time range, oldest first, for what-if replays."""
    stmt = _scoped(select(Message), Message.chat_id, scope)
    stmt = stmt.where(Message.sent_at >= since, Message.sent_at < until).order_by(Message.sent_at, Message.id)
    return list(session.scalars(stmt.limit(limit)))

