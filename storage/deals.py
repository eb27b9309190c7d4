"""Deal reports (【成交】): one row per message, linked to the client when the report names one."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.model import Deal
from storage.clients import client_key
from storage.models import ClientRow, DealRow


def save_deal(session: Session, *, deal: Deal, msgid: str, chat_id: str, sender: str, sent_at: datetime) -> DealRow:
    """Store a parsed deal; links it to the same group's client with the same normalized key."""
    key = client_key(deal.client_name, deal.company)
    client_id = (
        session.scalar(select(ClientRow.id).where(ClientRow.chat_id == chat_id, ClientRow.key == key)) if key else None
    )
    row = DealRow(
        msgid=msgid,
        client_id=client_id,
        chat_id=chat_id,
        sender=sender,
        sent_at=sent_at,
        client_name=deal.client_name,
        company=deal.company,
        amount_yuan=deal.amount_yuan,
    )
    session.add(row)
    session.flush()
    return row


def deals_in_scope(
    session: Session, *, scope: Collection[str] | None, pending_only: bool = False, limit: int = 200
) -> list[DealRow]:
    """Deals in the viewer's groups (None: all), 金额待确认 ones first, newest first."""
    query = select(DealRow)
    if scope is not None:
        query = query.where(DealRow.chat_id.in_(list(scope)))
    if pending_only:
        query = query.where(DealRow.amount_yuan.is_(None))
    query = query.order_by(DealRow.amount_yuan.is_not(None), DealRow.sent_at.desc(), DealRow.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_deal(session: Session, *, deal_id: int, scope: Collection[str] | None) -> DealRow | None:
    """One deal, only when it is in the viewer's groups (else None, as if it did not exist)."""
    query = select(DealRow).where(DealRow.id == deal_id)
    if scope is not None:
        query = query.where(DealRow.chat_id.in_(list(scope)))
    return session.scalar(query.with_for_update())


def set_amount(*, deal: DealRow, amount_yuan: int) -> int | None:
    """A manager's reading of an amount the parser could not read; returns the previous value."""
    previous = deal.amount_yuan
    deal.amount_yuan = amount_yuan
    return previous
