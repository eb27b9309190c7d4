"""Judged group messages: masked text plus a keyed hash of the original, and the history rules need.

The clear text never reaches a column: `save_message` stores `verdict.masked_text` and an
HMAC-SHA256 of the original keyed with the service secret, enough to prove later what was said
(given the text) and to spot duplicates, never to read a customer's number back.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.model import GroupMessage, Verdict
from storage.models import MessageRow


def text_hmac(text: str, key: bytes) -> str:
    """Hex HMAC-SHA256 of `text` keyed with `key`."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def get_by_msgid(session: Session, *, msgid: str) -> MessageRow | None:
    return session.scalar(select(MessageRow).where(MessageRow.msgid == msgid))


def save_message(
    session: Session, *, msg: GroupMessage, verdict: Verdict, hmac_key: bytes, backfilled: bool = False
) -> MessageRow:
    """Add the judged message and flush so that its id can be referenced; never commits.

    A concurrent writer of the same msgid makes the flush raise IntegrityError (msgid is
    unique); the handler rolls back and treats the message as already stored.
    """
    row = MessageRow(
        msgid=msg.msgid,
        chat_id=msg.chat_id,
        sender=msg.sender,
        sent_at=msg.sent_at,
        msgtype=msg.msgtype,
        source=msg.source,
        masked_text=verdict.masked_text,
        text_hmac=text_hmac(msg.text, hmac_key),
        is_report=verdict.update is not None,
        backfilled=backfilled,
    )
    session.add(row)
    session.flush()
    return row


def recent_sent_at(
    session: Session,
    *,
    chat_id: str,
    sender: str,
    since: datetime,
    until: datetime,
    exclude_msgid: str | None = None,
) -> list[datetime]:
    """`sent_at` of the sender's stored messages in the group within (since, until], oldest first.

    This is the `prior` the frequency rule needs; `exclude_msgid` leaves out the message being
    judged again when it is already stored (a replayed msgid gets the verdict it got the first time).
    Served by the (chat_id, sender, sent_at) index.
    """
    query = select(MessageRow.sent_at).where(
        MessageRow.chat_id == chat_id,
        MessageRow.sender == sender,
        MessageRow.sent_at > since,
        MessageRow.sent_at <= until,
    )
    if exclude_msgid is not None:
        query = query.where(MessageRow.msgid != exclude_msgid)
    return list(session.scalars(query.order_by(MessageRow.sent_at)))
