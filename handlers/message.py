"""One group message, judged and stored in one transaction: `handlers.batch` with a batch of one.

Decide, then act: the rule engine gives the verdict, `rules.policy` the action per violation and
whether the member is escalated; the batch handler writes the message (masked), the violations, the
escalation, the client update and the deal, asks `handlers.alerts` for the outbox rows, marks the
inbox row done, and commits once. `messages.msgid` is unique, so a message is stored exactly once
however often WeCom retries or however many replicas race for it. There is one path: the inbox
worker, replay --store and this function all go through `handlers.batch.handle_batch`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from handlers.batch import BatchItem, HandledMessage, handle_batch
from handlers.context import HandlerContext
from rules.model import GroupMessage

__all__ = ["HandledMessage", "handle_message"]


def handle_message(
    session: Session, ctx: HandlerContext, msg: GroupMessage, *, inbox_event_id: int | None = None
) -> HandledMessage:
    """Judge `msg`, store what the engine decided, queue alerts, commit once.

    An already stored msgid is judged again against the stored history (itself excluded), so a
    replayed file prints the same verdicts; nothing but the inbox row's completion is written.
    """
    return handle_batch(session, ctx, [BatchItem(msg, inbox_event_id)])[0]
