"""Rolling-window rate limits shared by every replica, counted in the database (`rate_events`).

WeCom counts on a rolling minute: 20 posts per group robot (45009 beyond), and for app messages
30 per minute and 1,000 per hour per member (silently dropped beyond). `acquire` checks every limit
a send touches and records one event in each, or records nothing and says how long to wait. Call it
right before the send and commit at once: the slot is taken whether or not the send then works,
which errs on the side WeCom counts on too.

Replicas serialize on the buckets: a transaction-scoped advisory lock per bucket on PostgreSQL,
BEGIN IMMEDIATE (one writer at a time) on SQLite.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import RateEventRow


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` events in bucket `bucket` in any `window`, e.g. Limit("robot:east", 20, 60s)."""

    bucket: str
    count: int
    window: timedelta


def acquire(session: Session, *, limits: Sequence[Limit], now: datetime) -> float:
    """Take one slot in every limit and return 0.0, or take none and return seconds to wait."""
    if not limits:
        return 0.0
    if session.get_bind().dialect.name == "postgresql":
        for bucket in sorted({limit.bucket for limit in limits}):  # sorted: no lock-order deadlocks
            session.execute(select(func.pg_advisory_xact_lock(zlib.crc32(bucket.encode()))))
    wait = 0.0
    for limit in limits:
        wait = max(wait, _wait_for(session, limit, now))
    if wait > 0:
        return wait
    session.add_all(RateEventRow(bucket=limit.bucket, at=now) for limit in limits)
    return 0.0


def _wait_for(session: Session, limit: Limit, now: datetime) -> float:
    """0 if one more event fits in (now - window, now]; else when the oldest that blocks it expires."""
    since = now - limit.window
    times = list(
        session.scalars(
            select(RateEventRow.at)
            .where(RateEventRow.bucket == limit.bucket, RateEventRow.at > since)
            .order_by(RateEventRow.at.desc())
            .limit(limit.count)
        )
    )
    if len(times) < limit.count:
        return 0.0
    # The count-th newest event must leave the window before another one fits.
    return max((times[-1] + limit.window - now).total_seconds(), 0.001)


def prune(session: Session, *, older_than: datetime) -> int:
    """Forget events no limit can still see (the longest window is an hour)."""
    result = session.execute(delete(RateEventRow).where(RateEventRow.at < older_than))
    return result.rowcount or 0
