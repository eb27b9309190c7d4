"""Deal reports (【成交】): one row per message, linked to the client when the report names one."""

from __future__ import annotations

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
