"""One group message, judged and stored in one transaction: the live inbox worker and replay share it.

Decide, then act: the rule engine gives the verdict, `rules.policy` the action per violation and
whether the member is escalated; this handler writes the message (masked), the violations, the
escalation, the client update and the deal, asks `handlers.alerts` for the outbox rows, marks the
inbox row done, and commits once. `messages.msgid` is unique, so a message is stored exactly once
however often WeCom retries or however many replicas race for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handlers import alerts, wording
from handlers.context import HandlerContext
from rules.model import GroupMessage, Verdict
from rules.policy import decide
from storage import clients, deals, evidence, inbox, messages, violations
from storage.models import EscalationRow, ViolationRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HandledMessage:
    """The verdict, and whether this call stored the message (False: it was already stored)."""

    verdict: Verdict
    created: bool


def handle_message(
    session: Session, ctx: HandlerContext, msg: GroupMessage, *, inbox_event_id: int | None = None
) -> HandledMessage:
    """Judge `msg`, store what the engine decided, queue alerts, commit once.

    An already stored msgid is judged again against the stored history (itself excluded), so a
    replayed file prints the same verdicts; nothing but the inbox row's completion is written.
    """
    if messages.get_by_msgid(session, msgid=msg.msgid) is not None:
        verdict = _evaluate(session, ctx, msg, exclude_self=True)
        _finish_duplicate(session, ctx, inbox_event_id)
        return HandledMessage(verdict, created=False)

    verdict = _evaluate(session, ctx, msg, exclude_self=False)
    try:
        _store(session, ctx, msg, verdict)
        if inbox_event_id is not None:
            inbox.mark_done(session, inbox_event_id, now=ctx.clock())
        session.commit()
    except IntegrityError:
        # Another replica (or an earlier attempt under an expired lease) stored this msgid first.
        session.rollback()
        if messages.get_by_msgid(session, msgid=msg.msgid) is None:
            raise
        log.info("message already stored by a concurrent worker", extra={"msgid": msg.msgid})
        _finish_duplicate(session, ctx, inbox_event_id)
        return HandledMessage(verdict, created=False)
    except BaseException:
        session.rollback()
        raise
    return HandledMessage(verdict, created=True)


def _evaluate(session: Session, ctx: HandlerContext, msg: GroupMessage, *, exclude_self: bool) -> Verdict:
    prior = messages.recent_sent_at(
        session,
        chat_id=msg.chat_id,
        sender=msg.sender,
        since=msg.sent_at - ctx.engine.lookback(msg.chat_id),
        until=msg.sent_at,
        exclude_msgid=msg.msgid if exclude_self else None,
    )
    return ctx.engine.evaluate(msg, prior)


def _store(session: Session, ctx: HandlerContext, msg: GroupMessage, verdict: Verdict) -> None:
    # A message judged long after it was sent (a history import) is stored and counted like any
    # other, but pings nobody: a warning about February posted today helps no one.
    backfilled = ctx.clock() - msg.sent_at > ctx.config.ingest.alert_max_age
    message = messages.save_message(
        session, msg=msg, verdict=verdict, hmac_key=ctx.hmac_key, backfilled=backfilled
    )

    rows: list[ViolationRow] = []
    escalation: EscalationRow | None = None
    settings = ctx.engine.settings_for(msg.chat_id)
    if verdict.violations:
        window = settings.policy.escalation.days
        prior_count = violations.count_recent(
            session, sender=msg.sender, since=msg.sent_at - timedelta(days=window), until=msg.sent_at
        )
        decision = decide(settings, verdict.violations, prior_count)
        rows = [
            violations.save_violation(
                session, message=message, violation=violation, action=action,
                facts=wording.violation_facts(
                    ctx.config, rule=violation.rule, chat_id=msg.chat_id, occurred_at=msg.sent_at, rules=settings
                ),
            )
            for violation, action in decision.actions
        ]
        if decision.escalate and rows:
            escalation = violations.save_escalation(
                session, violation=rows[-1], count=prior_count + len(rows), window_days=window
            )
    # The messages around each violation, masked and frozen: fills open windows, opens this one's.
    evidence.capture(session, message=message, violated=bool(rows), size=ctx.config.dashboard.evidence_messages)

    if verdict.update is not None:
        clients.save_update(
            session,
            update=verdict.update,
            msgid=msg.msgid,
            chat_id=msg.chat_id,
            sender=msg.sender,
            sent_at=msg.sent_at,
        )
    if verdict.deal is not None:
        deals.save_deal(
            session, deal=verdict.deal, msgid=msg.msgid, chat_id=msg.chat_id, sender=msg.sender, sent_at=msg.sent_at
        )

    if rows and not backfilled:
        alerts.notify(
            session, ctx, msg=msg, verdict=verdict, settings=settings, violations=rows, escalation=escalation
        )


def _finish_duplicate(session: Session, ctx: HandlerContext, inbox_event_id: int | None) -> None:
    if inbox_event_id is not None:
        inbox.mark_done(session, inbox_event_id, now=ctx.clock())
    # Always end the transaction: on SQLite even a read-only one holds BEGIN IMMEDIATE's write lock.
    session.commit()
