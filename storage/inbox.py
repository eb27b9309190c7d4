"""The durable inbox: every accepted inbound event, committed before WeCom gets its answer.

A callback calls `record_event` and commits; the inbox worker `claim`s due rows, processes each in its
own transaction and `mark_done`s it (which clears the payload: clear text lives here only until the
message is judged). Payloads are sealed by the writers (`storage.sealing`: AES-GCM, bound to the
dedupe key) and opened by the worker with `open_payload` right after the claim. Claims are
exclusive: `FOR UPDATE SKIP LOCKED` on PostgreSQL, and on SQLite the engine's `BEGIN IMMEDIATE`
serializes claimers; on both, a lease (`lease_owner`, `lease_until`) lets another worker take over
a row whose worker died. Nothing here commits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, func, null, or_, select, update
from sqlalchemy.orm import Session

from storage.db import insert_ignoring_conflict, insert_many
from storage.models import InboxEventRow
from storage.sealing import PayloadSealer, SealError


class WriteGate:
    """Orders this process's inbox writers on SQLite: callbacks first, the worker between them.

    SQLite has one writer at a time and its busy handler waits by sleeping (up to 100 ms a try), so
    a callback queued behind the worker's judging transactions could wait longer than WeCom's
    budget. Callbacks pass `urgent()`; the worker passes `background()` only while no callback
    waits. On PostgreSQL (row locks, no single writer) the gate is open.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._cond = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0

    @contextmanager
    def urgent(self) -> Iterator[None]:
        with self._passage(urgent=True):
            yield

    @contextmanager
    def background(self) -> Iterator[None]:
        with self._passage(urgent=False):
            yield

    @contextmanager
    def _passage(self, *, urgent: bool) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._cond:
            self._urgent_waiting += urgent
            while self._busy or (not urgent and self._urgent_waiting):
                self._cond.wait()
            self._urgent_waiting -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


#: Longest error text kept on a failed row (a traceback summary, never message text).
MAX_ERROR_CHARS = 2000


def record_event(
    session: Session,
    *,
    dedupe_key: str,
    source: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Insert the event unless its dedupe key is already there; True when this call inserted it.

    WeCom retries and replicas race here, so the insert is one `ON CONFLICT DO NOTHING` statement
    rather than a read-then-write.
    """
    return insert_ignoring_conflict(
        session,
        InboxEventRow,
        conflict=["dedupe_key"],
        dedupe_key=dedupe_key,
        source=source,
        kind=kind,
        payload=payload,
        received_at=now,
        attempts=0,
    )


def record_events(session: Session, *, events: Sequence[Mapping[str, Any]], now: datetime) -> list[bool]:
    """Insert many events with one statement per chunk; per event, True when this call inserted it.

    Each event is a mapping with dedupe_key, source, kind and payload. A key repeated within
    `events` counts as inserted once (its first occurrence). The callback's group commit uses this,
    so concurrent requests share one transaction and one round trip.
    """
    table = InboxEventRow.__table__
    first: dict[str, int] = {}
    for index, event in enumerate(events):
        first.setdefault(event["dedupe_key"], index)
    unique = [events[i] for i in sorted(first.values())]
    rows = [
        {"dedupe_key": e["dedupe_key"], "source": e["source"], "kind": e["kind"], "payload": e["payload"]}
        for e in unique
    ]
    # One statement whatever the count (storage.db.insert_many): no VALUES list per group commit.
    inserted: set[str] = set()
    if rows:
        stmt, params = insert_many(
            session, table, rows, conflict=["dedupe_key"], same={"received_at": now, "attempts": 0},
            returning=["dedupe_key"],
        )
        inserted.update(session.connection().execute(stmt, params).scalars())
    return [event["dedupe_key"] in inserted and first[event["dedupe_key"]] == i for i, event in enumerate(events)]


def _due(now: datetime):
    return and_(
        InboxEventRow.processed_at.is_(None),
        InboxEventRow.error.is_(None),
        or_(InboxEventRow.lease_until.is_(None), InboxEventRow.lease_until < now),
    )


def due_ids(*, now: datetime, limit: int) -> Select[tuple[int]]:
    """The ids of the oldest `limit` due rows, locked; read through the partial index ix_inbox_due,
    so a claim costs one batch whatever the backlog or the rows processed before."""
    return (
        select(InboxEventRow.id)
        .where(_due(now))
        .order_by(InboxEventRow.id)
        .limit(limit)
        # PostgreSQL: concurrent claimers skip each other's rows. SQLite ignores the clause;
        # BEGIN IMMEDIATE already made this transaction the only writer.
        .with_for_update(skip_locked=True)
    )


def claim(session: Session, *, owner: str, limit: int, lease_seconds: float, now: datetime) -> list[Row]:
    """Lease up to `limit` due rows (oldest first) to `owner` until now + lease_seconds.

    Due: not processed, not failed for good, and unleased or with an expired lease (its worker
    died between claim and processing). One UPDATE ... RETURNING; the rows come back as light
    tuples (id, dedupe_key, source, kind, payload, attempts, lease_owner, lease_until), oldest
    first. The caller commits to make the lease visible.
    """
    table = InboxEventRow.__table__
    stmt = (
        update(table)
        .where(table.c.id.in_(due_ids(now=now, limit=limit).scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds), attempts=table.c.attempts + 1)
        .returning(table.c.id, table.c.dedupe_key, table.c.source, table.c.kind, table.c.payload, table.c.attempts,
                   table.c.lease_owner, table.c.lease_until)
    )
    # RETURNING keeps no order: oldest first is the worker's arrival order.
    return sorted(session.connection().execute(stmt).all(), key=lambda row: row.id)


def open_payload(sealer: PayloadSealer | None, *, dedupe_key: str, stored: Any) -> dict[str, Any]:
    """The clear payload of a claimed row: the one decrypt step between the inbox and the handlers.

    Raises SealError (the row cannot be judged: park it with that reason) when the payload was
    sealed with another key, is corrupt, or is sealed and no key is configured.
    """
    if sealer is None:
        if isinstance(stored, dict) and "sealed" not in stored:
            return stored
        raise SealError("inbox payload is sealed but no payload key is configured")
    return sealer.open(stored, aad=dedupe_key)


def mark_done(session: Session, event_id: int, *, now: datetime) -> None:
    """Mark the row processed and drop its payload (the judged message lives on masked).

    SQL NULL, not JSON null: the clear text must be gone from the row, not just read as None.
    """
    session.execute(
        update(InboxEventRow)
        .where(InboxEventRow.id == event_id)
        .values(processed_at=now, payload=null(), lease_owner=None, lease_until=None, error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed(
    session: Session, event_id: int, *, error: str, now: datetime, max_attempts: int, retry_seconds: float
) -> bool:
    """Record a failed attempt; True when the row has used up `max_attempts` and is parked.

    A parked row keeps its payload (sealed) and `error` so an admin can see it, masked, on the
    dead-letter page; it is never claimed again. Otherwise the row is released and becomes due again
    after `retry_seconds`.
    """
    row = session.get(InboxEventRow, event_id, populate_existing=True)
    if row is None:
        return False
    parked = row.attempts >= max_attempts
    session.execute(
        update(InboxEventRow)
        .where(InboxEventRow.id == event_id)
        .values(
            error=error[:MAX_ERROR_CHARS] if parked else None,
            lease_owner=None,
            lease_until=now + timedelta(seconds=retry_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    return parked


def pending_lag(session: Session, *, now: datetime) -> float:
    """Seconds since the oldest event still waiting to be processed was received (0 when none)."""
    oldest = session.scalar(
        select(func.min(InboxEventRow.received_at)).where(
            InboxEventRow.processed_at.is_(None), InboxEventRow.error.is_(None)
        )
    )
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # defensive: aggregate results may skip the column type's processor
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


def list_parked(session: Session, *, limit: int = 50) -> list[InboxEventRow]:
    """Parked rows (failed for good), newest first; their payloads are still sealed."""
    return list(
        session.scalars(
            select(InboxEventRow).where(InboxEventRow.error.is_not(None)).order_by(InboxEventRow.id.desc()).limit(limit)
        )
    )


def counts(session: Session) -> dict[str, int]:
    """How many rows are pending, done and parked (for /healthz and the dashboard)."""
    pending = session.scalar(
        select(func.count()).where(InboxEventRow.processed_at.is_(None), InboxEventRow.error.is_(None))
    )
    failed = session.scalar(select(func.count()).where(InboxEventRow.error.is_not(None)))
    return {"pending": int(pending or 0), "failed": int(failed or 0)}
