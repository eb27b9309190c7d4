"""Targets set on the dashboard (per period) and the one aggregate targets need beyond
`storage.reports`: new clients, counted by the sender of each client's first follow-up report.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import ClientUpdateRow, TargetRow

METRIC_COLUMNS = ("deal_amount", "deal_count", "new_clients", "complete_reports")


def overrides_for(session: Session, *, periods: Iterable[str]) -> list[TargetRow]:
    """Dashboard targets for these periods ('2026-11', '2026-Q4')."""
    return list(session.scalars(select(TargetRow).where(TargetRow.period.in_(list(periods))).order_by(TargetRow.id)))


def get_override(session: Session, *, scope: str, subject: str, period: str) -> TargetRow | None:
    return session.scalar(
        select(TargetRow).where(TargetRow.scope == scope, TargetRow.subject == subject, TargetRow.period == period)
    )


def set_override(
    session: Session, *, scope: str, subject: str, period: str, metrics: dict[str, int | None], by: str,
    now: datetime,
) -> TargetRow:
    """Create or replace the target of (scope, subject, period); metrics missing from `metrics` are cleared."""
    row = get_override(session, scope=scope, subject=subject, period=period)
    if row is None:
        row = TargetRow(scope=scope, subject=subject, period=period, updated_by=by, updated_at=now)
        session.add(row)
    for column in METRIC_COLUMNS:
        setattr(row, column, metrics.get(column))
    row.updated_by, row.updated_at = by, now
    session.flush()
    return row


def delete_override(session: Session, *, scope: str, subject: str, period: str) -> bool:
    row = get_override(session, scope=scope, subject=subject, period=period)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def new_clients(
    session: Session, *, start: datetime, end: datetime, chat_id: str | None = None
) -> dict[str, int]:
    """Per rep: clients whose first follow-up report (in any group) was sent by them in `[start, end)`,
    counted in `chat_id` when given (the group the first report was posted in)."""
    first = (
        select(ClientUpdateRow.client_id, func.min(ClientUpdateRow.sent_at).label("first_at"))
        .where(ClientUpdateRow.client_id.is_not(None))
        .group_by(ClientUpdateRow.client_id)
        .subquery()
    )
    stmt = (
        select(ClientUpdateRow.sender, func.count(func.distinct(ClientUpdateRow.client_id)))
        .join(first, (first.c.client_id == ClientUpdateRow.client_id) & (first.c.first_at == ClientUpdateRow.sent_at))
        .where(first.c.first_at >= start, first.c.first_at < end)
    )
    if chat_id is not None:
        stmt = stmt.where(ClientUpdateRow.chat_id == chat_id)
    return {sender: int(n) for sender, n in session.execute(stmt.group_by(ClientUpdateRow.sender))}
