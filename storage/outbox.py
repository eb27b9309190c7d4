"""The durable outbox: rows written in the caller's transaction, sent later by the dispatcher.

A row moves pending -> sending -> sent, or back to pending (retry, deferral) or to dead:

- `claim_due` leases due rows to one dispatcher (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite
  the engine's BEGIN IMMEDIATE serializes claimers). A lease only says "mine to try": nothing has
  been sent, so an expired lease is simply claimed again.
- `begin_send` commits `sending` right before the HTTP call, one row at a time. It is the marker that
  keeps a crash from double-sending: a row found `sending` with an expired lease was maybe delivered,
  and `recover_in_doubt` decides (see there) instead of blindly sending it again.
- `mark_sent`, `schedule_retry`, `defer` and `mark_dead` record the outcome, guarded by the owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from storage.db import one_of
from storage.models import OutboxItemRow

#: Keys per IN list (SQLite allows 32766 bound parameters).
_CHUNK = 500

#: `session.info` entry appended to every idempotency key enqueued in that session (bot.scheduler).
KEY_SUFFIX = "outbox_key_suffix"
#: `session.info` entry: idempotency key -> its row, or None when known not to exist (`remember`).
KNOWN = "outbox_known_keys"


def remember(session: Session, keys: Iterable[str]) -> None:
    """Read (and lock) the rows of many idempotency keys at once; `enqueue` and `get_by_key` then
    answer from memory for these keys until `forget`. One query for a whole batch of alerts instead
    of two or three each: the rows are locked until the transaction ends, so the answers stay true,
    and a concurrent insert of the same key still fails on the unique index, as without it."""
    known: dict[str, OutboxItemRow | None] = session.info.setdefault(KNOWN, {})
    suffix = session.info.get(KEY_SUFFIX, "")
    wanted = sorted({key + suffix for key in keys} - known.keys())
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        known.update(dict.fromkeys(part))
        query = select(OutboxItemRow).where(one_of(session, OutboxItemRow.idempotency_key, part)).with_for_update()
        known.update((row.idempotency_key, row) for row in session.scalars(query))


def forget(session: Session) -> None:
    session.info.pop(KNOWN, None)


def _lookup(session: Session, key: str, *, for_update: bool = False) -> OutboxItemRow | None:
    known = session.info.get(KNOWN)
    if known is not None and key in known:
        return known[key]
    query = select(OutboxItemRow).where(OutboxItemRow.idempotency_key == key)
    return session.scalar(query.with_for_update() if for_update else query)


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    target: str,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
) -> OutboxItemRow | None:
    """Add an outgoing message unless one with the same idempotency key exists; never commits.

    Returns the new row, or None when the key was already queued (the caller's fact was already
    acted on, e.g. a replayed message). A forced re-run of a scheduled job sets
    `session.info[KEY_SUFFIX]` (e.g. '#rerun-1') so its posts get keys of their own.
    """
    key += session.info.get(KEY_SUFFIX, "")
    if _lookup(session, key) is not None:
        return None
    item = OutboxItemRow(
        idempotency_key=key,
        channel=channel,
        target=target,
        payload=payload,
        next_attempt_at=not_before or now,
        created_at=now,
    )
    session.add(item)
    if KNOWN in session.info:
        session.info[KNOWN][key] = item
    return item


PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"


def get_by_key(session: Session, *, key: str, for_update: bool = False) -> OutboxItemRow | None:
    return _lookup(session, key, for_update=for_update)


def never_claimed(item: OutboxItemRow) -> bool:
    """True while no dispatcher holds or has tried the row, so its payload may still change."""
    return item.status == PENDING and item.attempts == 0 and item.lease_owner is None


def claim_due(
    session: Session, *, owner: str, limit: int, lease_seconds: float, now: datetime
) -> list[OutboxItemRow]:
    """Lease up to `limit` due rows to `owner`, oldest first; the caller commits at once."""
    query = (
        select(OutboxItemRow)
        .where(
            OutboxItemRow.status == PENDING,
            OutboxItemRow.next_attempt_at <= now,
            or_(OutboxItemRow.lease_until.is_(None), OutboxItemRow.lease_until < now),
        )
        .order_by(OutboxItemRow.next_attempt_at, OutboxItemRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    items = list(session.scalars(query))
    for item in items:
        item.lease_owner = owner
        item.lease_until = now + timedelta(seconds=lease_seconds)
    return items


def _owned(session: Session, item_id: int, owner: str, status: str) -> OutboxItemRow | None:
    query = select(OutboxItemRow).where(
        OutboxItemRow.id == item_id, OutboxItemRow.lease_owner == owner, OutboxItemRow.status == status
    )
    return session.scalar(query.with_for_update())


def begin_send(
    session: Session, *, item_id: int, owner: str, now: datetime, lease_seconds: float
) -> OutboxItemRow | None:
    """Mark a leased row `sending` (commit before calling WeCom); None if the lease was lost."""
    item = _owned(session, item_id, owner, PENDING)
    if item is None:
        return None
    item.status = SENDING
    item.attempts += 1
    item.lease_until = now + timedelta(seconds=lease_seconds)
    return item


def mark_sent(session: Session, *, item_id: int, owner: str, now: datetime) -> bool:
    item = _owned(session, item_id, owner, SENDING)
    if item is None:
        return False
    item.status, item.sent_at, item.last_error = SENT, now, None
    item.lease_owner = item.lease_until = None
    return True


def schedule_retry(
    session: Session, *, item_id: int, owner: str, not_before: datetime, error: str, refund: bool = False
) -> bool:
    """Back to pending after a failed attempt; `refund` un-counts it (WeCom said "later", 45009)."""
    item = _owned(session, item_id, owner, SENDING)
    if item is None:
        return False
    if refund:
        item.attempts -= 1
    item.status, item.next_attempt_at, item.last_error = PENDING, not_before, error
    item.lease_owner = item.lease_until = None
    return True


def defer(session: Session, *, item_id: int, owner: str, not_before: datetime) -> bool:
    """Give back a leased row that may not be sent yet (rate limit); no attempt is counted."""
    item = _owned(session, item_id, owner, PENDING)
    if item is None:
        return False
    item.next_attempt_at = not_before
    item.lease_owner = item.lease_until = None
    return True


def defer_many(session: Session, *, ids: Iterable[int], owner: str, not_before: datetime) -> int:
    """`defer` for many leased rows in one statement (a robot known to be full this minute)."""
    result = session.execute(
        update(OutboxItemRow)
        .where(OutboxItemRow.id.in_(list(ids)), OutboxItemRow.lease_owner == owner, OutboxItemRow.status == PENDING)
        .values(next_attempt_at=not_before, lease_owner=None, lease_until=None)
    )
    return result.rowcount or 0


def mark_dead(session: Session, *, item_id: int, owner: str | None, error: str) -> bool:
    """A dead letter: never retried by itself, listed by `groupbot outbox dead`, re-queueable."""
    item = session.get(OutboxItemRow, item_id, with_for_update=True)
    if item is None or item.status in (SENT, DEAD) or (owner is not None and item.lease_owner != owner):
        return False
    item.status, item.last_error = DEAD, error
    item.lease_owner = item.lease_until = None
    return True


def recover_in_doubt(
    session: Session, *, now: datetime, resend_channels: Iterable[str]
) -> tuple[list[int], list[int]]:
    """Settle rows left `sending` by a dispatcher that died mid-call; returns (resent, dead) ids.

    WeCom's answer never reached us, so the message may or may not have been delivered. Channels
    in `resend_channels` are ones where WeCom itself drops a repeat (message/send with
    enable_duplicate_check), so sending again is safe. Any other row becomes a dead letter saying
    the outcome is unknown: a person checks the group and re-queues it, rather than the bot
    posting the same warning twice.
    """
    resend = set(resend_channels)
    query = (
        select(OutboxItemRow)
        .where(OutboxItemRow.status == SENDING, OutboxItemRow.lease_until < now)
        .with_for_update(skip_locked=True)
    )
    resent: list[int] = []
    dead: list[int] = []
    for item in session.scalars(query):
        item.lease_owner = item.lease_until = None
        if item.channel in resend:
            item.status, item.next_attempt_at = PENDING, now
            item.last_error = "dispatcher stopped mid-send; sent again (WeCom drops the duplicate)"
            resent.append(item.id)
        else:
            item.status = DEAD
            item.last_error = (
                "outcome unknown: the dispatcher stopped while sending. Check whether the message "
                "arrived; if not, run `groupbot outbox requeue` with this id."
            )
            dead.append(item.id)
    return resent, dead


def requeue(session: Session, *, item_id: int, now: datetime) -> OutboxItemRow | None:
    """Send a dead letter again from scratch; None when there is no dead row with that id."""
    item = session.get(OutboxItemRow, item_id, with_for_update=True)
    if item is None or item.status != DEAD:
        return None
    item.status, item.attempts, item.next_attempt_at = PENDING, 0, now
    item.lease_owner = item.lease_until = None
    return item


def list_dead(session: Session, *, limit: int = 100) -> list[OutboxItemRow]:
    query = select(OutboxItemRow).where(OutboxItemRow.status == DEAD).order_by(OutboxItemRow.id.desc()).limit(limit)
    return list(session.scalars(query))


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxItemRow.status, func.count()).group_by(OutboxItemRow.status))
    return dict(rows.all())


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending row falls due, so an idle dispatcher knows how long to sleep."""
    return session.scalar(select(func.min(OutboxItemRow.next_attempt_at)).where(OutboxItemRow.status == PENDING))
