"""Violations and escalations: saved by the message handler, counted for escalation, reviewed by managers.

A violation is `open` when stored; a manager marks it `handled` (with a note) or `void` (an appeal
was accepted). Void violations leave escalation counts and rankings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.model import Action, Violation
from storage.models import EscalationRow, MessageRow, ViolationRow

Status = Literal["open", "handled", "void"]
STATUSES: tuple[str, ...] = ("open", "handled", "void")


def new_violation(
    *,
    message_id: int,
    msgid: str,
    chat_id: str,
    sender: str,
    violation: Violation,
    action: Action,
    facts: dict[str, Any] | None,
    backfilled: bool,
    occurred_at: datetime,
    now: datetime | None = None,
) -> ViolationRow:
    """An open violation row for one broken rule of a stored message (not yet added to a session).

    `facts` is the structured data the Chinese wording is rendered from (handlers/wording.py).
    """
    row = ViolationRow(
        message_id=message_id,
        msgid=msgid,
        chat_id=chat_id,
        sender=sender,
        rule=violation.rule,
        detail=violation.detail,
        kinds=list(violation.kinds),
        missing=list(violation.missing),
        action=action,
        facts=dict(facts or {}),
        backfilled=backfilled,
        occurred_at=occurred_at,
        status="open",
    )
    if now is not None:
        row.created_at = now
    return row


def save_violation(
    session: Session,
    *,
    message: MessageRow,
    violation: Violation,
    action: Action,
    facts: dict[str, Any] | None = None,
) -> ViolationRow:
    """Add one broken rule of a stored message; flushes so alerts can reference the row's id."""
    row = new_violation(
        message_id=message.id, msgid=message.msgid, chat_id=message.chat_id, sender=message.sender,
        violation=violation, action=action, facts=facts, backfilled=bool(message.backfilled),
        occurred_at=message.sent_at,
    )
    session.add(row)
    session.flush()
    return row


def count_recent(session: Session, *, sender: str, since: datetime, until: datetime | None = None) -> int:
    """The member's non-void violations in every group with `occurred_at` in (since, until]."""
    query = select(func.count(ViolationRow.id)).where(
        ViolationRow.sender == sender, ViolationRow.occurred_at > since, ViolationRow.status != "void"
    )
    if until is not None:
        query = query.where(ViolationRow.occurred_at <= until)
    return session.scalar(query) or 0


def save_escalation(session: Session, *, violation: ViolationRow, count: int, window_days: int) -> EscalationRow:
    """Record that `violation` took its sender to `count` violations within `window_days` days."""
    row = EscalationRow(
        sender=violation.sender,
        chat_id=violation.chat_id,
        violation_id=violation.id,
        count=count,
        window_days=window_days,
    )
    session.add(row)
    session.flush()
    return row


def set_status(
    session: Session, *, violation_id: int, status: Status, by: str, now: datetime, note: str | None = None
) -> ViolationRow:
    """Mark a violation handled or void (or reopen it), recording who did it and why."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {list(STATUSES)}, got {status!r}")
    row = session.get(ViolationRow, violation_id)
    if row is None:
        raise LookupError(f"violation {violation_id} does not exist")
    row.status = status
    row.note = note
    row.handled_by = by
    row.handled_at = now
    return row
