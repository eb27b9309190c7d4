"""The inbox worker: claim accepted events, judge the group messages as one batch, the rest by kind.

The callback only records; this worker does the judging, so WeCom's 5-second budget holds however
slow the rules get. Exactly-once: a claim leases rows to one worker (SKIP LOCKED on PostgreSQL, a
lease on SQLite); a worker that dies leaves its lease to expire and another worker re-claims the row;
and if two workers ever judge the same message, `messages.msgid` being unique rolls the second back
(`handle_message` then only marks the row done). A restart simply claims what is still pending.
On PostgreSQL the next batch is claimed and read (decrypted, parsed, scanned) on a reader thread
while one is stored; a stopping worker gives it back (`close`), a killed one leaves its lease to expire.

Example::

    worker = InboxWorker(session_factory, ctx, owner="web-1")
    worker.run_once()     # -> number of rows handled
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
class _Claimed:
    """A claimed batch, read: every row opened, the group messages parsed with their facts."""

    events: list[ClaimedEvent]
    #: The readable group messages, in claim (arrival) order, with `engine.facts` already read.
    messages: list[BatchItem]

    def split(self, size: int) -> tuple[_Claimed, _Claimed]:
        """The first `size` rows and the rest, each with its messages."""
        head = {event.id for event in self.events[:size]}
        return (
            _Claimed(self.events[:size], [m for m in self.messages if m.inbox_event_id in head]),
            _Claimed(self.events[size:], [m for m in self.messages if m.inbox_event_id not in head]),
        )


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
    #: Claim and read the next batch on a second thread while this one is stored: its decrypting,
    #: parsing and scanning then run while this thread waits for the database. None: on PostgreSQL
    #: only (on SQLite the claim would wait for the judging transaction's write lock anyway).
    read_ahead: bool | None = None
    _ahead: Future[_Claimed] | None = field(default=None, init=False, repr=False)
    _left: _Claimed | None = field(default=None, init=False, repr=False)
    _reader: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    #: `close` waits for a `run_once` still running (a cancelled `run_forever` leaves its thread going).
    _serial: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.read_ahead is None:
            self.read_ahead = self.session_factory.kw["bind"].dialect.name == "postgresql"

    def _holding_back(self) -> bool:
        return self.max_share < 1.0 and self.contended()

    def claim(self) -> list[ClaimedEvent]:
        limit = self.batch_size
        if self._holding_back():
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
        With `read_ahead`, the next batch is claimed and read meanwhile on the reader thread.
        """
        with self._serial:
            return self._run_once()

    def _run_once(self) -> int:
        batch = self._take_ahead()
        if batch is None or not batch.events:  # claimed before rows arrived (or became due again)
            batch = self._claim_and_read()
        if len(batch.events) > self.contended_batch_size and self._holding_back():
            # Read ahead at full size before the callbacks came: judged in small pieces all the same.
            batch, self._left = batch.split(self.contended_batch_size)
        elif batch.events and self.read_ahead and not self._holding_back():
            # Not while callbacks arrive: the reader's CPU work would compete with them for the GIL.
            self._reader = self._reader or ThreadPoolExecutor(1, thread_name_prefix="inbox-read-ahead")
            self._ahead = self._reader.submit(self._claim_and_read)
        rest = self._judge_together(batch.messages)
        for event in batch.events:
            if event.id in rest.done:
                continue
            started = time.perf_counter()
            self.process(event)
            self._yield_share(started)
        return len(batch.events)

    def _claim_and_read(self) -> _Claimed:
        events = self.claim()
        messages: list[BatchItem] = []
        for event in events:
            if event.kind != "message" or event.unreadable is not None:
                continue
            try:
                msg = payload_to_message(event.payload)
            except BadPayload:
                continue  # parked by `process`, alone
            messages.append(BatchItem(msg, event.id, self.ctx.engine.facts(msg)))
        return _Claimed(events, messages)

    def _take_ahead(self) -> _Claimed | None:
        """The rest of a split batch first (older rows), else the batch read ahead, else None."""
        if self._left is not None:
            left, self._left = self._left, None
            return left
        ahead, self._ahead = self._ahead, None
        return ahead.result() if ahead is not None else None

    def close(self) -> None:
        """Give back what was claimed ahead and not judged (due again at once), stop the reader."""
        with self._serial:
            self._close()

    def _close(self) -> None:
        unjudged: list[int] = []
        while True:
            try:
                batch = self._take_ahead()
            except Exception:  # the claim itself failed: nothing was leased
                continue
            if batch is None:
                break
            unjudged.extend(e.id for e in batch.events)
        if unjudged:
            with self.session_factory() as session:
                inbox.release(session, unjudged, owner=self.owner)
                session.commit()
        if self._reader is not None:
            self._reader.shutdown()
            self._reader = None

    def _judge_together(self, items: list[BatchItem]) -> _Judged:
        """Judge the batch's group messages in one transaction; on any failure judge none here."""
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
        if self._holding_back():
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
        try:
            while not stop.is_set():
                try:
                    handled = await asyncio.to_thread(self.run_once)
                except Exception as exc:  # the database is down, most likely: keep the loop alive
                    log.warning("inbox worker batch failed (%s); retrying in %.1fs", type(exc).__name__, poll_seconds)
                    handled = 0
                if handled:
                    continue
                await _wait_any(stop, wake, poll_seconds)
        finally:
            try:
                await asyncio.to_thread(self.close)
            except Exception as exc:  # the rows claimed ahead wait for their lease to expire instead
                log.warning("inbox worker could not give back its read-ahead batch (%s)", type(exc).__name__)


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
