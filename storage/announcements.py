"""Scheduled announcements (handlers.announcements decides what is due and posts it)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AnnouncementRow


def add(session: Session, **values) -> AnnouncementRow:
    row = AnnouncementRow(**values)
    session.add(row)
    session.flush()
    return row


def active(session: Session) -> list[AnnouncementRow]:
    return list(
        session.scalars(select(AnnouncementRow).where(AnnouncementRow.status == "active").order_by(AnnouncementRow.id))
    )


def visible(session: Session, *, scope: Iterable[str] | None) -> list[AnnouncementRow]:
    """Every announcement (admins, scope None), or those whose groups all lie in `scope` (a manager's)."""
    rows = list(session.scalars(select(AnnouncementRow).order_by(AnnouncementRow.id.desc())))
    if scope is None:
        return rows
    allowed = set(scope)
    return [r for r in rows if set(r.chat_ids) <= allowed]


def set_status(session: Session, row: AnnouncementRow, *, status: str, now: datetime) -> None:
    row.status, row.updated_at = status, now
    session.flush()
