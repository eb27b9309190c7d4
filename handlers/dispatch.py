"""The outbox dispatcher: claims due rows, paces them, sends them through a Sender, records the outcome.

Exactly once, and where the window is. WeCom offers no idempotency key for robot posts, so a send
and its record can never be one atomic step. The dispatcher makes the gap as small as one HTTP call:

1. `claim_due` leases a batch (nothing sent yet; a dead dispatcher's lease simply expires).
2. Per row, one transaction takes the rate-limit slots and marks the row `sending` (commit).
3. The HTTP call.
4. One transaction records sent / retry / dead (commit).

A stop (service shutdown, `groupbot dispatch` interrupted, a restart) lets calls in flight finish and
be recorded, so restarts are exactly-once. Only a hard crash inside step 3 leaves a row `sending`;
`recover_in_doubt` then resends app messages (sent with WeCom's enable_duplicate_check, so WeCom
drops the repeat) and turns robot/appchat posts into dead letters saying the outcome is unknown:
at-most-once where a duplicate would be public, with a visible trace instead of a silent loss.

Errors: RetryableSendError backs off exponentially with jitter (45009 reschedules without using
up an attempt); PermanentSendError, an unknown channel or too many attempts make a dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.config import OutboxConfig
from bot.errors import PermanentSendError, RetryableSendError, TokenExpiredError
from handlers import wording
from handlers.context import Clock, system_clock
from storage import outbox, ratelimit
from storage.models import OutboxItemRow
from storage.ratelimit import Limit

log = logging.getLogger(__name__)

RATE_LIMITED = 45009


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message as a sender sees it: `body` is the WeCom body without groupbot's `_` keys."""

    id: int
    key: str
    channel: str
    target: str
    body: dict[str, Any]
    attempt: int
    #: Userids the message was rendered without a name for (the directory did not know them yet).
    unnamed: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: OutboxItemRow) -> Outgoing:
        body = {k: v for k, v in row.payload.items() if not k.startswith("_")}
        meta = row.payload.get("_meta") or {}
        unnamed = tuple(meta.get("unnamed", ())) if isinstance(meta, dict) else ()
        return cls(row.id, row.idempotency_key, row.channel, row.target, body, row.attempts, unnamed)

    def named(self, names: Mapping[str, str]) -> Outgoing:
        """This message with each known userid in its text replaced by the person's name."""
        kind = self.body.get("msgtype")
        part = self.body.get(kind) if isinstance(kind, str) else None
        if not names or not isinstance(part, dict) or not isinstance(part.get("content"), str):
            return self
        content = part["content"]
        for userid, name in names.items():
            shown = wording.md(name) if kind == "markdown" else name
            # ASCII boundaries: a userid is ASCII, and 「liuyang在」 must still match (\w would not).
            pattern = rf"(?<![A-Za-z0-9_.@-]){re.escape(userid)}(?![A-Za-z0-9_.@-])"
            content = re.sub(pattern, lambda _m, s=shown: s, content)
        body = {**self.body, kind: {**part, "content": content}}
        return replace(self, body=body, unnamed=())


class Sender(Protocol):
    """Delivers one channel's messages. `send` returns when WeCom accepted the message, or raises
    RetryableSendError / TokenExpiredError / PermanentSendError (bot/errors.py)."""

    kind: str

    def limits(self, item: Outgoing) -> Sequence[Limit]:
        """The rate limits this send counts against (checked across replicas before sending)."""
        ...

    async def send(self, item: Outgoing) -> None: ...


def backoff_seconds(attempt: int, config: OutboxConfig, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries spread out."""
    ceiling = min(config.backoff_max_seconds, config.backoff_base_seconds * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + rng.random() * ceiling / 2


@dataclass
class DispatchOutcome:
    sent: int = 0
    retried: int = 0
    deferred: int = 0
    dead: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.deferred + self.dead


class Dispatcher:
    """Sends outbox rows with the given senders (`{"robot": RobotSender(...), ...}`)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        senders: Mapping[str, Sender],
        config: OutboxConfig,
        *,
        owner: str | None = None,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
        concurrency: int = 8,
        resend_in_doubt: Sequence[str] = ("app",),
        names: Callable[[Sequence[str]], Awaitable[Mapping[str, str]]] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.senders = dict(senders)
        self.config = config
        self.owner = owner or f"dispatch-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self.rng = rng or random.Random()
        self.concurrency = concurrency
        self.resend_in_doubt = tuple(resend_in_doubt)
        #: Resolves names for messages rendered before the directory knew the rep (handlers.directory).
        self.names = names
        self._stop = asyncio.Event()
        #: Robot buckets the shared limiter said are full, until when (a local shortcut only).
        self._full_until: dict[str, datetime] = {}

    # The loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send until `stop()`; calls in flight finish and are recorded before this returns."""
        log.info("dispatcher started", extra={"owner": self.owner})
        last_recovery = None
        while not self._stop.is_set():
            now = self.clock()
            try:
                if last_recovery is None or now - last_recovery > timedelta(seconds=self.config.lease_seconds):
                    await asyncio.to_thread(self.recover, now)
                    last_recovery = now
                outcome = await self.run_once()
            except Exception:  # the database went away: log, wait, try again; never die
                log.exception("dispatcher round failed", extra={"owner": self.owner})
                outcome = DispatchOutcome()
            if outcome.total == 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_seconds)
                except TimeoutError:
                    pass
        log.info("dispatcher stopped", extra={"owner": self.owner})

    def stop(self) -> None:
        self._stop.set()

    def recover(self, now: datetime) -> tuple[list[int], list[int]]:
        with self.session_factory() as session:
            resent, dead = outbox.recover_in_doubt(session, now=now, resend_channels=self.resend_in_doubt)
            ratelimit.prune(session, older_than=now - timedelta(hours=2))
            session.commit()
        if resent or dead:
            log.warning("in-doubt outbox rows settled", extra={"resent": resent, "dead": dead})
        return resent, dead

    async def run_once(self) -> DispatchOutcome:
        """Claim one batch and deliver it; returns what happened to each row."""
        now = self.clock()
        items = await asyncio.to_thread(self._claim, now)
        outcome = DispatchOutcome()
        if not items:
            return outcome
        gate = asyncio.Semaphore(self.concurrency)
        # Rows for a robot already known to be full this minute are given back in one statement,
        # not one transaction each: a 10,000-row backlog would otherwise spend most of its time here.
        blocked: dict[datetime, list[int]] = defaultdict(list)

        async def one(item: Outgoing) -> None:
            async with gate:
                until = self._known_full(item, now)
                if until is not None:
                    blocked[until].append(item.id)
                    outcome.deferred += 1
                    return
                await self._deliver(item, outcome)

        async def batch() -> None:
            await asyncio.gather(*(one(i) for i in items))
            if blocked:
                await asyncio.to_thread(self._defer_many, blocked)

        # Shielded: a stop or cancellation never cuts a send off between WeCom and our record.
        await asyncio.shield(batch())
        return outcome

    # One row -------------------------------------------------------------------------------

    def _claim(self, now: datetime) -> list[Outgoing]:
        with self.session_factory() as session:
            rows = outbox.claim_due(
                session, owner=self.owner, limit=self.config.batch_size,
                lease_seconds=self.config.lease_seconds, now=now,
            )
            # A claimed row's payload no longer changes (alerts fold only into unclaimed rows).
            items = [Outgoing.of(row) for row in rows]
            session.commit()
        return items

    def _known_full(self, item: Outgoing, now: datetime) -> datetime | None:
        sender = self.senders.get(item.channel)
        limits = sender.limits(item) if sender is not None else ()
        if len(limits) != 1:
            return None
        until = self._full_until.get(limits[0].bucket)
        return until if until is not None and until > now else None

    def _defer_many(self, blocked: Mapping[datetime, list[int]]) -> None:
        with self.session_factory() as session:
            for until, ids in blocked.items():
                outbox.defer_many(session, ids=ids, owner=self.owner, not_before=until)
            session.commit()

    def _begin(self, item: Outgoing) -> tuple[str, Outgoing | None]:
        """('send', fresh item), ('deferred', None), ('lost', None) or ('no-sender', None)."""
        now = self.clock()
        sender = self.senders.get(item.channel)
        if sender is None:
            return "no-sender", None
        limits = sender.limits(item)
        with self.session_factory() as session:
            wait = ratelimit.acquire(session, limits=limits, now=now)
            if wait > 0:
                until = now + timedelta(seconds=wait)
                if len(limits) == 1:
                    self._full_until[limits[0].bucket] = until
                outbox.defer(session, item_id=item.id, owner=self.owner, not_before=until)
                session.commit()
                return "deferred", None
            row = outbox.begin_send(
                session, item_id=item.id, owner=self.owner, now=now, lease_seconds=self.config.lease_seconds
            )
            if row is None:
                session.rollback()  # also gives the rate-limit slots back
                return "lost", None
            if item.body != Outgoing.of(row).body:
                # Names filled in just now (`named`): the row records exactly what is sent.
                meta = {k: v for k, v in (row.payload.get("_meta") or {}).items() if k != "unnamed"}
                row.payload = {**item.body, "_meta": meta}
            fresh = Outgoing.of(row)
            session.commit()
        return "send", fresh

    def _record(self, fn: Callable[..., bool], **kwargs: Any) -> bool:
        with self.session_factory() as session:
            done = fn(session, **kwargs)
            session.commit()
        return done

    async def _deliver(self, claimed: Outgoing, outcome: DispatchOutcome) -> None:
        item_id = claimed.id
        if claimed.unnamed and self.names is not None:
            try:
                claimed = claimed.named(await self.names(claimed.unnamed))
            except Exception:  # a name is a nicety: never let it hold a warning back
                log.warning("name lookup before sending failed", extra={"outbox_id": claimed.id})
        state, item = await asyncio.to_thread(self._begin, claimed)
        if state == "deferred":
            outcome.deferred += 1
            return
        if state == "no-sender":
            await asyncio.to_thread(
                self._record, outbox.mark_dead, item_id=item_id, owner=self.owner,
                error="no sender configured for this channel",
            )
            outcome.dead += 1
            return
        if item is None:
            return
        try:
            await self.senders[item.channel].send(item)
        except PermanentSendError as exc:
            await self._dead(item, outcome, str(exc))
        except RetryableSendError as exc:
            await self._retry(item, outcome, exc)
        except Exception as exc:  # a bug in a sender: retried like a fault, then a dead letter
            log.exception("sender crashed", extra={"outbox_id": item.id, "channel": item.channel})
            await self._retry(item, outcome, RetryableSendError(f"sender error: {type(exc).__name__}"))
        else:
            await asyncio.to_thread(
                self._record, outbox.mark_sent, item_id=item.id, owner=self.owner, now=self.clock()
            )
            outcome.sent += 1

    async def _dead(self, item: Outgoing, outcome: DispatchOutcome, error: str) -> None:
        log.error("outbox dead letter", extra={"outbox_id": item.id, "channel": item.channel, "error": error})
        await asyncio.to_thread(self._record, outbox.mark_dead, item_id=item.id, owner=self.owner,
                                error=error)
        outcome.dead += 1

    async def _retry(self, item: Outgoing, outcome: DispatchOutcome, exc: RetryableSendError) -> None:
        now = self.clock()
        if exc.errcode == RATE_LIMITED:
            # Someone else posts through this robot too: wait out the minute, no attempt used up.
            delay = exc.retry_after or 60.0
            await asyncio.to_thread(
                self._record, outbox.schedule_retry, item_id=item.id, owner=self.owner,
                not_before=now + timedelta(seconds=delay), error=str(exc), refund=True,
            )
            outcome.deferred += 1
            return
        if item.attempt >= self.config.max_attempts:
            await self._dead(item, outcome, f"gave up after {item.attempt} attempts: {exc}")
            return
        delay = backoff_seconds(item.attempt, self.config, self.rng)
        if isinstance(exc, TokenExpiredError):
            delay = min(delay, 1.0)  # the token is already refreshed; only a revoked one lands here
        if exc.retry_after:
            delay = max(delay, exc.retry_after)
        await asyncio.to_thread(
            self._record, outbox.schedule_retry, item_id=item.id, owner=self.owner,
            not_before=now + timedelta(seconds=delay), error=str(exc),
        )
        outcome.retried += 1
