"""Parked inbox rows (failed for good) as an admin may see them: opened and masked, never clear.

A parked row keeps its sealed payload so an admin can see what failed; this is the one place it is
shown, and it goes through the same masking the engine applies before storing a message
(`RuleEngine.evaluate(...).masked_text`). A row that cannot be opened (sealed with an older key)
or not even masked shows no text, only its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.context import HandlerContext
from rules.model import GroupMessage
from storage import inbox
from storage.sealing import SealError

log = logging.getLogger(__name__)

#: Characters of masked text shown per row.
PREVIEW_CHARS = 200


@dataclass(frozen=True, slots=True)
class ParkedRow:
    id: int
    source: str
    kind: str
    received_at: datetime
    attempts: int
    error: str
    sender: str | None
    chat_id: str | None
    #: The masked text, or None when it cannot be shown (unreadable payload, or masking failed).
    masked_text: str | None


def list_parked(session: Session, ctx: HandlerContext | None, *, limit: int = 100) -> list[ParkedRow]:
    """The newest parked rows, masked. `ctx` None (a dashboard without the engine): no text at all."""
    return [_shown(row, ctx) for row in inbox.list_parked(session, limit=limit)]


def _shown(row, ctx: HandlerContext | None) -> ParkedRow:
    sender = chat_id = masked = None
    if ctx is not None:
        try:
            payload = inbox.open_payload(ctx.sealer, dedupe_key=row.dedupe_key, stored=row.payload)
        except SealError:
            payload = {}
        sender = _short(payload.get("sender"))
        chat_id = _short(payload.get("chat_id"))
        masked = _masked(ctx, payload) if "text" in payload else None
    return ParkedRow(
        id=row.id,
        source=row.source,
        kind=row.kind,
        received_at=row.received_at,
        attempts=row.attempts,
        error=row.error or "",
        sender=sender,
        chat_id=chat_id,
        masked_text=masked,
    )


def _short(value) -> str | None:
    return str(value)[:128] if value else None


def _masked(ctx: HandlerContext, payload: dict) -> str | None:
    """The text as the engine would store it; None when even that fails (never the clear text)."""
    try:
        msg = GroupMessage(
            msgid=str(payload.get("msgid") or "parked"),
            chat_id=str(payload.get("chat_id") or ""),
            sender=str(payload.get("sender") or ""),
            sent_at=datetime.fromisoformat(str(payload["sent_at"])),
            text=str(payload.get("text") or ""),
            msgtype=str(payload.get("msgtype") or "text"),
            source=payload.get("source") or "callback",
        )
        masked = ctx.engine.evaluate(msg, ()).masked_text
    except Exception as exc:  # a row parked for being unjudgeable may not mask either: show nothing
        log.info("parked inbox row not maskable: %s", type(exc).__name__)
        return None
    return masked[:PREVIEW_CHARS]
