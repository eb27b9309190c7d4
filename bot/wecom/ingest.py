"""What the ingest routes share: the crypto per callback, the session factory, wake-up hooks, and
the one way to commit an accepted event (`IngestState.record`).

Routes stay thin: read the body (bounded), verify and decrypt, normalize, `record`, answer. The DB
work runs in a worker thread, where each payload is also sealed (AES-GCM, `storage.sealing`) so the
inbox never holds clear text. A database outage becomes `StorageUnavailable` (→ 503), so WeCom
retries and the retry is stored once the database is back; a database that refuses one event (a
value the door should have refused) fails that request alone (→ 400), never its batch-mates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.errors import PayloadError, StorageUnavailable
from bot.settings import Settings
from bot.wecom.crypto import DEFAULT_MAX_BODY, CallbackCrypto
from bot.wecom.normalize import MSGAUDIT_NOTIFY, Inbound
from handlers.context import Clock
from storage import inbox
from storage.db import KeptConnection
from storage.sealing import PayloadSealer

log = logging.getLogger(__name__)


@dataclass
class IngestState:
    """Held by the app as `app.state.ingest`; built by `bot.app.create_app`."""

    sessions: sessionmaker[Session]
    clock: Clock
    #: Seals every payload before it is written (key derived once, at app creation).
    sealer: PayloadSealer
    app_crypto: CallbackCrypto | None = None
    aibot_crypto: CallbackCrypto | None = None
    ingest_token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    #: Set when a msgaudit_notify arrives: the chat-archive poller waits on it to pull at once.
    archive_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set after every accepted event: the inbox worker waits on it instead of sleeping a full poll.
    inbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    #: Shared with the inbox worker: on SQLite, callbacks write before the worker's next row.
    write_gate: inbox.WriteGate = field(default_factory=lambda: inbox.WriteGate(False))
    _group_commit: GroupCommit = field(init=False, repr=False)
    _writer: KeptConnection = field(init=False, repr=False)
    _last_request: float = field(default=float("-inf"), init=False, repr=False)

    def __post_init__(self) -> None:
        self._group_commit = GroupCommit(self.record_sync)
        # The group commit's own connection (one INSERT per batch; autocommit on PostgreSQL).
        self._writer = KeptConnection(self.sessions.kw["bind"])

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Clock,
        max_body_bytes: int,
        sealer: PayloadSealer,
        write_gate: inbox.WriteGate | None = None,
    ) -> IngestState:
        def crypto(token, key, receive_id: str) -> CallbackCrypto | None:
            if token is None or key is None:
                return None
            return CallbackCrypto(
                token.get_secret_value(), key.get_secret_value(), receive_id, max_body_bytes=max_body_bytes
            )

        return cls(
            sessions=sessions,
            clock=clock,
            sealer=sealer,
            app_crypto=crypto(settings.callback_token, settings.encoding_aes_key, settings.corp_id)
            if settings.corp_id
            else None,
            aibot_crypto=crypto(settings.aibot_token, settings.aibot_encoding_aes_key, ""),
            ingest_token=settings.ingest_token.get_secret_value() if settings.ingest_token else None,
            max_body_bytes=max_body_bytes,
            write_gate=write_gate or inbox.WriteGate(False),
        )

    def record_sync(self, events: Sequence[Inbound]) -> list[bool]:
        """Commit `events` in one transaction; per event, True when new (False: a retry/duplicate).

        Raises StorageUnavailable for an outage (every request waits for WeCom's retry) and
        EventRefused when the database (or sealing) refused the data itself.
        """
        try:
            rows = [
                {
                    "dedupe_key": e.dedupe_key,
                    "source": e.source,
                    "kind": e.kind,
                    "payload": self.sealer.seal(e.payload, aad=e.dedupe_key),
                }
                for e in events
            ]
            with self.write_gate.urgent(), self._writer.session() as session:
                created = inbox.record_events(session, events=rows, now=self.clock())
                session.commit()
                return created
        except SQLAlchemyError as exc:
            # The driver's message may quote parameters (message text): log the type only.
            log.warning("inbox commit failed: %s", type(exc).__name__)
            if refused_data(exc):
                raise EventRefused(f"the database refused this event ({type(exc).__name__})") from None
            raise StorageUnavailable(f"database unavailable ({type(exc).__name__})") from None
        except (ValueError, TypeError) as exc:  # UnicodeEncodeError (a lone surrogate), unserializable
            log.warning("inbox commit failed: %s", type(exc).__name__)
            raise EventRefused(f"the event cannot be stored ({type(exc).__name__})") from None

    def close(self) -> None:
        """Release the group commit's connection (the app's shutdown)."""
        self._writer.close()

    def recently_busy(self, window: float = 1.0) -> bool:
        """True when a WeCom callback was recorded within `window` seconds (the inbox worker then yields).

        Only requests with a `budget` count: WeCom gives up after 5 s, so its callbacks must not wait
        behind judging. A bridge's bulk post has no such deadline, and yielding to it would only slow
        the judging of the very messages it brings."""
        return time.monotonic() - self._last_request < window

    async def record(self, events: Sequence[Inbound], *, budget: float | None = None) -> list[bool]:
        """Commit `events` before answering; concurrent requests share one commit (group commit).

        Past `budget` seconds (a locked or slow database) the caller gets StorageUnavailable → 503
        while there is still time to answer, and WeCom retries; should the commit land after all,
        the retry is absorbed by the dedupe key.
        """
        if budget is not None:
            self._last_request = time.monotonic()
        try:
            async with asyncio.timeout(budget):  # a timer, not wait_for's extra task and callbacks
                created = await self._group_commit.submit(list(events))
        except TimeoutError:
            raise StorageUnavailable(f"inbox commit took longer than {budget:g} s") from None
        if any(created):
            self.inbox_wakeup.set()
        if any(e.event == MSGAUDIT_NOTIFY for e in events):
            self.archive_wakeup.set()
        return created


class EventRefused(PayloadError):
    """Raised when the database refuses an event's data (not an outage): that request alone gets 400."""


def refused_data(exc: SQLAlchemyError) -> bool:
    """True when the database refused the values themselves (NUL in text, a value too long for its
    column): retrying will not help, and the other requests of the batch may well be fine.

    Anything else (unreachable, busy, a missing table) counts as an outage: 503, so WeCom retries.
    """
    return isinstance(exc, DataError | IntegrityError)


class GroupCommit:
    """Requests that arrive while a commit is in flight are written together in the next one.

    One writer at a time: a lone request commits at once (no added latency); under load, each commit
    carries everything that queued up meanwhile, so throughput is bounded by commits per second
    times the batch size instead of one commit (and one thread hop) per request. Every caller is
    answered only after its own rows are durable. If the batch fails for an outage, every caller in
    it gets 503; if the database refused some data (EventRefused), the members are retried one by
    one, so a bad request fails only itself.
    """

    def __init__(self, write: Callable[[Sequence[Inbound]], list[bool]], max_batch: int = 512) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: list[tuple[list[Inbound], asyncio.Future[list[bool]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, events: list[Inbound]) -> list[bool]:
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._queue.append((events, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch: list[tuple[list[Inbound], asyncio.Future[list[bool]]]] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0][0]) <= self._max_batch):
                events, future = self._queue.pop(0)
                batch.append((events, future))
                size += len(events)
            flat = [event for events, _ in batch for event in events]
            try:
                created = await run_in_threadpool(self._write, flat)
            except EventRefused as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                for events, future in batch:  # one by one: only the bad request fails
                    try:
                        _settle(future, await run_in_threadpool(self._write, events))
                    except Exception as single:  # noqa: BLE001 - handed to that request's waiter
                        _settle(future, single)
                continue
            except Exception as exc:  # StorageUnavailable, or a bug: every waiter hears about it
                for _, future in batch:
                    _settle(future, exc)
                continue
            offset = 0
            for events, future in batch:
                _settle(future, created[offset : offset + len(events)])
                offset += len(events)


def _settle(future: asyncio.Future[list[bool]], outcome: list[bool] | BaseException) -> None:
    if future.done():  # the caller gave up (its budget ran out)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def get_ingest(request: Request) -> IngestState:
    return request.app.state.ingest


IngestDep = Annotated[IngestState, Depends(get_ingest)]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds `limit` (Content-Length or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise PayloadError(f"body of {declared} bytes exceeds the {limit}-byte limit", 413)
        body = await request.body()  # the server stops at Content-Length
        if len(body) > limit:
            raise PayloadError(f"body exceeds the {limit}-byte limit", 413)
        return body
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadError(f"body exceeds the {limit}-byte limit", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def query(request: Request, name: str) -> str:
    return request.query_params.get(name, "")


def signature(request: Request) -> dict[str, str]:
    """WeCom's signing parameters from the query string, as keyword arguments for CallbackCrypto."""
    return {name: query(request, name) for name in ("msg_signature", "timestamp", "nonce")}


def echo_url_check(crypto: CallbackCrypto, request: Request) -> str:
    """WeCom's URL check (app and AI bot alike): the decrypted echostr, nothing else."""
    return crypto.verify_url(**signature(request), echostr=query(request, "echostr"))
