"""The durable outbox: rows written in the caller's transaction, sent later by the dispatcher."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import OutboxItem, utcnow


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    target: str,
    payload: dict[str, Any],
    not_before: datetime | None = None,
) -> OutboxItem | None:
    """Add an outgoing message unless one with the same idempotency key exists; never commits.

    Returns the new row, or None when the key was already queued (the caller's fact was already
    acted on, e.g. a replayed message).
    """
    if session.scalar(select(OutboxItem.id).where(OutboxItem.idempotency_key == key)) is not None:
        return None
    item = OutboxItem(
        idempotency_key=key,
        channel=channel,
        target=target,
        payload=payload,
        next_attempt_at=not_before or utcnow(),
    )
    session.add(item)
    return item
