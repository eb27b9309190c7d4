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

from storage.models import ClientRow, ClientUpdateRow, MessageRow, OutboxItemRow, ViolationRow
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
) -> list[ViolationRow]:
    stmt = _scoped(select(ViolationRow), ViolationRow.chat_id, scope)
    if filt.chat_id:
        stmt = stmt.where(ViolationRow.chat_id == filt.chat_id)
    if filt.sender:
        stmt = stmt.where(ViolationRow.sender == filt.sender)
    if filt.rule:
        stmt = stmt.where(ViolationRow.rule == filt.rule)
    if filt.status:
        stmt = stmt.where(ViolationRow.status == filt.status)
    if filt.since:
        stmt = stmt.where(ViolationRow.occurred_at >= filt.since)
    if filt.until:
        stmt = stmt.where(ViolationRow.occurred_at < filt.until)
    stmt = stmt.order_by(ViolationRow.occurred_at.desc(), ViolationRow.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def get_violation(session: Session, *, violation_id: int, scope: Scope) -> ViolationRow | None:
    stmt = _scoped(select(ViolationRow).where(ViolationRow.id == violation_id), ViolationRow.chat_id, scope)
    return session.scalar(stmt)


def message_context(session: Session, *, message_id: int, around: int = 3) -> list[MessageRow]:
    """The message and up to `around` messages before and after it in the same group."""
    msg = session.get(MessageRow, message_id)
    if msg is None:
        return []
    base = select(MessageRow).where(MessageRow.chat_id == msg.chat_id)
    before = session.scalars(
        base.where(
            or_(MessageRow.sent_at < msg.sent_at, (MessageRow.sent_at == msg.sent_at) & (MessageRow.id < msg.id))
        )
        .order_by(MessageRow.sent_at.desc(), MessageRow.id.desc())
        .limit(around)
    )
    after = session.scalars(
        base.where(
            or_(MessageRow.sent_at > msg.sent_at, (MessageRow.sent_at == msg.sent_at) & (MessageRow.id > msg.id))
        )
        .order_by(MessageRow.sent_at, MessageRow.id)
        .limit(around)
    )
    return [*reversed(list(before)), msg, *after]


def counts_by_rule(session: Session, *, scope: Scope, since: datetime, until: datetime) -> dict[str, int]:
    """Non-void violations per rule with `since <= occurred_at < until`."""
    stmt = _scoped(
        select(ViolationRow.rule, func.count())
        .where(ViolationRow.occurred_at >= since, ViolationRow.occurred_at < until, ViolationRow.status != "void")
        .group_by(ViolationRow.rule),
        ViolationRow.chat_id,
        scope,
    )
    return dict(session.execute(stmt).all())


def senders_in_scope(session: Session, *, scope: Scope) -> list[str]:
    stmt = _scoped(select(ViolationRow.sender).distinct(), ViolationRow.chat_id, scope).order_by(ViolationRow.sender)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class OutboxHealth:
    pending: int
    dead: int
    oldest_pending_at: datetime | None


def outbox_health(session: Session) -> OutboxHealth:
    counts = count_by_status(session)
    waiting = ("pending", "sending")
    oldest = session.scalar(select(func.min(OutboxItemRow.created_at)).where(OutboxItemRow.status.in_(waiting)))
    return OutboxHealth(
        pending=sum(counts.get(s, 0) for s in waiting), dead=counts.get("dead", 0), oldest_pending_at=oldest
    )


def search_clients(
    session: Session, *, scope: Scope, query: str = "", grade: str | None = None, limit: int = 200
) -> list[ClientRow]:
    stmt = _scoped(select(ClientRow), ClientRow.chat_id, scope)
    if query:
        like = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(ClientRow.name.ilike(like, escape="\\"), ClientRow.company.ilike(like, escape="\\")))
    if grade:
        stmt = stmt.where(ClientRow.grade == grade)
    stmt = stmt.order_by(ClientRow.next_action_due.is_(None), ClientRow.next_action_due, ClientRow.id).limit(limit)
    return list(session.scalars(stmt))


def get_client(session: Session, *, client_id: int, scope: Scope) -> ClientRow | None:
    return session.scalar(_scoped(select(ClientRow).where(ClientRow.id == client_id), ClientRow.chat_id, scope))


def clients_since(session: Session, *, scope: Scope, since: datetime) -> list[ClientRow]:
    stmt = _scoped(select(ClientRow), ClientRow.chat_id, scope)
    stmt = stmt.where(or_(ClientRow.last_update_at >= since, ClientRow.created_at >= since)).order_by(ClientRow.id)
    return list(session.scalars(stmt))


def updates_since(session: Session, *, scope: Scope, since: datetime) -> list[ClientUpdateRow]:
    stmt = _scoped(select(ClientUpdateRow), ClientUpdateRow.chat_id, scope)
    return list(session.scalars(stmt.where(ClientUpdateRow.sent_at >= since).order_by(ClientUpdateRow.sent_at)))


def violations_since(session: Session, *, scope: Scope, since: datetime) -> list[ViolationRow]:
    stmt = _scoped(select(ViolationRow), ViolationRow.chat_id, scope)
    return list(session.scalars(stmt.where(ViolationRow.occurred_at >= since).order_by(ViolationRow.occurred_at)))


def messages_between(
    session: Session, *, scope: Scope, since: datetime, until: datetime, limit: int = 5000
) -> list[MessageRow]:
    """Stored (masked) messages in a time range, oldest first, for what-if replays."""
    stmt = _scoped(select(MessageRow), MessageRow.chat_id, scope)
    stmt = stmt.where(MessageRow.sent_at >= since, MessageRow.sent_at < until).order_by(
        MessageRow.sent_at, MessageRow.id
    )
    return list(session.scalars(stmt.limit(limit)))
