"""Deal reports (【成交】): one row per message, linked to the client when the report names one."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.model import Deal as ParsedDeal
from storage.clients import client_key
from storage.models import Client, Deal


def save_deal(session: Session, *, deal: ParsedDeal, msgid: str, chat_id: str, sender: str, sent_at: datetime) -> Deal:
    """Store a parsed deal; links it to the same group's client with the same normalized key."""
    key = client_key(deal.client_name, deal.company)
    client_id = session.scalar(select(Client.id).where(Client.chat_id == chat_id, Client.key == key)) if key else None
    row = Deal(
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


def list_deals(session: Session, *, since: datetime, until: datetime, chat_id: str | None = None) -> list[Deal]:
    """Deals with `sent_at` in [since, until), oldest first."""
    query = select(Deal).where(Deal.sent_at >= since, Deal.sent_at < until)
    if chat_id is not None:
        query = query.where(Deal.chat_id == chat_id)
    return list(session.scalars(query.order_by(Deal.sent_at, Deal.id)))


def totals_by_sender(
    session: Session, *, since: datetime, until: datetime, chat_id: str | None = None
) -> dict[str, tuple[int, int]]:
    """Per rep: (number of deals, sum of readable amounts in yuan) in [since, until)."""
    query = select(Deal.sender, func.count(Deal.id), func.coalesce(func.sum(Deal.amount_yuan), 0)).where(
        Deal.sent_at >= since, Deal.sent_at < until
    )
    if chat_id is not None:
        query = query.where(Deal.chat_id == chat_id)
    return {s: (int(n), int(total)) for s, n, total in session.execute(query.group_by(Deal.sender))}


def deals_in_scope(
    session: Session, *, scope: Collection[str] | None, pending_only: bool = False, limit: int = 200
) -> list[Deal]:
    """Deals in the viewer's groups (None: all), 金额待确认 ones first, newest first."""
    query = select(Deal)
    if scope is not None:
        query = query.where(Deal.chat_id.in_(list(scope)))
    if pending_only:
        query = query.where(Deal.amount_yuan.is_(None))
    query = query.order_by(Deal.amount_yuan.is_not(None), Deal.sent_at.desc(), Deal.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_deal(session: Session, *, deal_id: int, scope: Collection[str] | None) -> Deal | None:
    """One deal, only when it is in the viewer's groups (else None, as if it did not exist)."""
    query = select(Deal).where(Deal.id == deal_id)
    if scope is not None:
        query = query.where(Deal.chat_id.in_(list(scope)))
    return session.scalar(query.with_for_update())


def set_amount(*, deal: Deal, amount_yuan: int) -> int | None:
    """A manager's reading of an amount the parser could not read; returns the previous value."""
    previous = deal.amount_yuan
    deal.amount_yuan = amount_yuan
    return previous
