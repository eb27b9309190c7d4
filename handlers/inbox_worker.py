"""The inbox worker: claim accepted events, judge the group messages as one batch, the rest by kind.

The callback only records; this worker does the judging, so WeCom's 5-second budget holds however
slow the rules get. Exactly-once: a claim leases rows to one worker (SKIP LOCKED on PostgreSQL, a
lease on SQLite); a worker that dies leaves its lease to expire and another worker re-claims the row;
and if two workers ever judge the same message, `messages.msgid` being unique rolls the second back
(`handle_message` then only marks the row done). A restart simply claims what is still pending.

Example::

    worker = InboxWorker(session_factory, ctx, owner="web-1")
    worker.run_once()     # -> number of rows handled
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InputError
from handlers.batch import BatchItem, handle_batch
from handlers.commands import handle_command
from handlers.context import HandlerContext
from handlers.message import handle_message
from rules.model import GroupMessage, MessageFieldError
from storage import inbox
from storage.sealing import SealError

log = logging.getLogger(__name__)

#: In-place retries after a unique-constraint race before the row waits for `retry_seconds`.
IMMEDIATE_RETRIES = 2


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """A claimed inbox row, copied out of the claiming session."""

    id: int
    kind: str
    source: str
    payload: dict[str, Any]
    attempts: int
    #: Why the stored payload could not be opened (old key, corrupt); the row is then parked.
    unreadable: str | None = None


#: A kind handler processes one claimed row and commits; raising leaves the row for a retry.
KindHandler = Callable[[Session, HandlerContext, ClaimedEvent], None]


@dataclass(frozen=True, slots=True)
class _Judged:
    """Inbox rows a batch transaction completed."""

    done: frozenset[int]


class BadPayload(InputError):
    """Raised when an inbox payload cannot become a GroupMessage; the row is parked at once."""


def payload_to_message(payload: dict[str, Any]) -> GroupMessage:
    """The GroupMessage an adapter stored with `GroupMessage.to_payload`."""
    try:
        return GroupMessage.from_payload(payload)
    except MessageFieldError as exc:
        # `reason`, never quoting a value: it is stored on the row and logged.
        raise BadPayload(f"payload cannot become a GroupMessage: {exc.reason}") from None


def handle_group_message(session: Session, ctx: HandlerContext, event: ClaimedEvent) -> None:
    handle_message(session, ctx, payload_to_message(event.payload), inbox_event_id=event.id)


def acknowledge(session: Session, ctx: HandlerContext, event: ClaimedEvent) -> None:
    """Mark the row done with nothing else to do (events; commands when nobody answers them)."""
    inbox.mark_done(session, event.id, now=ctx.clock())
    session.commit()


def handle_direct_message(session: Session, ctx: HandlerContext, event: ClaimedEvent) -> None:
    """A direct message (chat_id "") is a command: handlers.commands answers it."""
    handle_command(session, ctx, payload_to_message(event.payload), inbox_event_id=event.id)


def default_handlers() -> dict[str, KindHandler]:
    """The explicit kind → handler table. Events (msgaudit_notify …) have already woken their
    consumer at receipt, so the worker only acknowledges them."""
    return {
        "message": handle_group_message,
        "command": handle_direct_message,
        "event": acknowledge,
        # An AI-bot @-mention of a group message the chat archive also delivers (judged from there).
        "mention": acknowledge,
    }


def opened(row: Row, ctx: HandlerContext) -> ClaimedEvent:
    """A claimed row with its payload decrypted (the only place the worker sees a sealed payload)."""
    try:
        payload = dict(inbox.open_payload(ctx.sealer, dedupe_key=row.dedupe_key, stored=row.payload))
    except SealError as exc:
        return ClaimedEvent(row.id, row.kind, row.source, {}, row.attempts, unreadable=str(exc))
    return ClaimedEvent(row.id, row.kind, row.source, payload, row.attempts)


def default_owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@dataclass
class InboxWorker:
    session_factory: sessionmaker[Session]
    ctx: HandlerContext
    owner: str = field(default_factory=default_owner)
    batch_size: int = 500
    lease_seconds: float = 15
    #: Attempts before a row is parked with its error for an admin to look at.
    max_attempts: int = 5
    retry_seconds: float = 30
    handlers: dict[str, KindHandler] = field(default_factory=default_handlers)
    #: Shared with the callbacks (bot.wecom.ingest): on SQLite they write first.
    write_gate: inbox.WriteGate = field(default_factory=lambda: inbox.WriteGate(False))
    #: Most of the process's time the worker may take while `contended()` says callbacks are
    #: arriving: judging is CPU work under the same GIL as the callbacks, and WeCom's answer must stay
    #: fast; the inbox absorbs the backlog (its lag shows in /healthz). 1.0 = never hold back.
    max_share: float = 1.0
    contended: Callable[[], bool] = field(default=lambda: False)
    #: Rows claimed at a time while `contended()`: judging a batch holds the GIL, so a callback
    #: waits for at most about one small batch instead of a full one (p99 target: 50 ms).
    contended_batch_size: int = 50

    def claim(self) -> list[ClaimedEvent]:
        limit = self.batch_size
        if self.max_share < 1.0 and self.contended():
            limit = min(limit, self.contended_batch_size)
        with self.write_gate.background(), self.session_factory() as session:
            rows = inbox.claim(
                session,
                owner=self.owner,
                limit=limit,
                lease_seconds=self.lease_seconds,
                now=self.ctx.clock(),
            )
            claimed = [opened(r, self.ctx) for r in rows]
            session.commit()
        return claimed

    def run_once(self) -> int:
        """Claim one batch and process it; the number of rows handled (done or failed).

        The group messages of the batch are judged together in one transaction (handlers.batch);
        if that fails, each is retried alone so that one bad message never holds up the others.
        """
        claimed = self.claim()
        rest = self._judge_together([e for e in claimed if e.kind == "message" and e.unreadable is None])
        for event in claimed:
            if event.id in rest.done:
                continue
            started = time.perf_counter()
            self.process(event)
            self._yield_share(started)
        return len(claimed)

    def _judge_together(self, events: list[ClaimedEvent]) -> _Judged:
        """Judge the batch's group messages in one transaction; on any failure judge none here."""
        items: list[BatchItem] = []
        for event in events:
            try:
                items.append(BatchItem(payload_to_message(event.payload), event.id))
            except BadPayload:
                continue  # parked by `process`, alone
        if len(items) < 2:
            return _Judged(frozenset())
        started = time.perf_counter()
        with self.write_gate.background(), self.session_factory() as session:
            try:
                handle_batch(session, self.ctx, items)
            except Exception as exc:
                # Rolled back whole: the rows are judged one by one next, each with its own retries.
                log.info("batch of %s failed (%s); judging its messages one by one", len(items), type(exc).__name__)
                return _Judged(frozenset())
        self._yield_share(started)
        return _Judged(frozenset(item.inbox_event_id for item in items if item.inbox_event_id is not None))

    def _yield_share(self, started: float) -> None:
        if self.max_share < 1.0 and self.contended():
            # Sleep (releasing the GIL) in proportion to the work just done.
            time.sleep((time.perf_counter() - started) * (1.0 - self.max_share) / self.max_share)

    def process(self, event: ClaimedEvent) -> None:
        handler = self.handlers.get(event.kind)
        with self.write_gate.background(), self.session_factory() as session:
            if event.unreadable is not None:
                self._failed(session, event, BadPayload(event.unreadable))
                return
            for attempt in range(1, IMMEDIATE_RETRIES + 2):
                try:
                    if handler is None:
                        raise BadPayload(f"no handler for inbox kind {event.kind!r}")
                    handler(session, self.ctx, event)
                    return
                except IntegrityError as exc:
                    # Two workers inserting the same new member/client at once: one loses the race,
                    # and a second try sees the winner's row. Anything else waits for a later retry.
                    session.rollback()
                    if attempt > IMMEDIATE_RETRIES:
                        self._failed(session, event, exc)
                except Exception as exc:
                    session.rollback()
                    self._failed(session, event, exc)
                    return

    def _failed(self, session: Session, event: ClaimedEvent, exc: Exception) -> None:
        # Only the exception type and our own reason: a driver message could quote message text.
        reason = str(exc) if isinstance(exc, BadPayload) else type(exc).__name__
        try:
            parked = inbox.mark_failed(
                session,
                event.id,
                error=reason,
                now=self.ctx.clock(),
                max_attempts=1 if isinstance(exc, BadPayload) else self.max_attempts,
                retry_seconds=self.retry_seconds,
            )
            session.commit()
        except Exception:
            session.rollback()
            log.warning("inbox row %s failed and could not be released; its lease will expire", event.id)
            return
        log.log(
            logging.ERROR if parked else logging.WARNING,
            "inbox row %s (%s) failed on attempt %s: %s%s",
            event.id,
            event.kind,
            event.attempts,
            reason,
            "; parked" if parked else "; will retry",
        )

    async def run_forever(
        self, stop: asyncio.Event, *, poll_seconds: float = 0.5, wake: asyncio.Event | None = None
    ) -> None:
        """Process batches until `stop` is set; the DB work runs in a thread, off the event loop.

        Sleeps `poll_seconds` between empty batches unless `wake` is set (a callback just recorded).
        """
        while not stop.is_set():
            try:
                handled = await asyncio.to_thread(self.run_once)
            except Exception as exc:  # the database is down, most likely: keep the loop alive
                log.warning("inbox worker batch failed (%s); retrying in %.1fs", type(exc).__name__, poll_seconds)
                handled = 0
            if handled:
                continue
            await _wait_any(stop, wake, poll_seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        if wake is not None:
            wake.clear()
