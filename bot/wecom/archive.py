"""The 会话内容存档 (chat archive) poller: every group message, pulled by seq into the inbox.

WeCom keeps the archive; we pull batches after the last seq we stored (`GetChatData`), unwrap each
message's random key with our RSA private key for its `publickey_ver` (PKCS#1 v1.5), let the SDK
decrypt the message (`DecryptData`), and record group text messages in the inbox exactly as the
callback does. The cursor advances in the same transaction as the inbox rows of its batch, so a
crash never loses or skips a message; replays of a batch are absorbed by the inbox's msgid dedupe.

The SDK is passed in (`ArchiveSdk`): `make_archive_sdk(settings)` builds the real one from the
optional `pywecomarchive` extra; tests and the demo pass objects with the same two methods.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib.util
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import ConfigError, PayloadError
from bot.settings import Settings
from bot.wecom.archive_process import IsolatedArchiveSdk
from bot.wecom.normalize import door_message, sent_at_problem
from handlers.context import Clock, system_clock
from storage import inbox
from storage.models import CursorRow
from storage.sealing import PayloadSealer

log = logging.getLogger(__name__)

CURSOR = "archive.seq"
KEYS_VARIABLE = "GROUPBOT_ARCHIVE_PRIVATE_KEYS"
# The decrypted message as a plain dict: a msgtype WeCom adds next year must not stall the cursor
# on the SDK's strict models, and we read only a handful of fields.
RAW_MESSAGE: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class EncryptedItem(Protocol):
    """One `chatdata[]` entry (pywecomarchive.EncryptedChatData)."""

    seq: int
    msgid: str
    publickey_ver: int
    encrypt_random_key: str
    encrypt_chat_msg: str


class ChatBatch(Protocol):
    """A `GetChatData` answer (pywecomarchive.ChatDataResponse); errors are raised, not returned."""

    chatdata: Sequence[EncryptedItem]


class ArchiveSdk(Protocol):
    """What the poller needs of pywecomarchive.WecomArchiveSdk (the simulator provides the same)."""

    def get_chat_data(self, seq: int = 0, limit: int = 1000) -> ChatBatch: ...

    def decrypt_data(self, encrypt_key: str, encrypt_msg: str, *, adapter: TypeAdapter[Any]) -> Any: ...


def make_archive_sdk(settings: Settings) -> ArchiveSdk:
    """The real SDK, logged in with the corp id and the archive secret."""
    if not settings.corp_id or settings.archive_secret is None:
        raise ConfigError(
            [("GROUPBOT_ARCHIVE_SECRET", "the chat archive needs GROUPBOT_CORP_ID and GROUPBOT_ARCHIVE_SECRET")],
            source="environment",
        )
    if importlib.util.find_spec("pywecomarchive") is None:
        raise ConfigError(
            [("ingest.archive.enabled", "needs the archive extra: pip install 'groupbot[archive]'")]
        )
    # The native SDK cannot share a process with matplotlib's C++ extensions: see archive_process.
    return IsolatedArchiveSdk(settings.corp_id, settings.archive_secret.get_secret_value())


class ArchiveKeys:
    """Our RSA private keys by `publickey_ver`, unwrapping each message's random key."""

    def __init__(self, pems: Mapping[str, str]) -> None:
        self._keys: dict[int, RSAPrivateKey] = {}
        for ver, pem in pems.items():
            where = f"{KEYS_VARIABLE}[{ver}]"
            try:
                key = load_pem_private_key(pem.encode(), password=None)
                version = int(ver)
            except ValueError:
                raise ConfigError([(where, "not an unencrypted PEM RSA private key")], "environment") from None
            if not isinstance(key, RSAPrivateKey):
                raise ConfigError([(where, "not an RSA key")], "environment")
            self._keys[version] = key

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveKeys:
        pems = settings.archive_keys()
        if not pems:
            raise ConfigError([(KEYS_VARIABLE, 'not set; e.g. {"1": "-----BEGIN PRIVATE KEY-----..."}')], "environment")
        return cls(pems)

    def unwrap(self, item: EncryptedItem) -> str:
        """The message's random key; a missing or wrong private key is a ConfigError naming the version."""
        key = self._keys.get(item.publickey_ver)
        where = f"{KEYS_VARIABLE}[{item.publickey_ver}]"
        if key is None:
            raise ConfigError([(where, f"no private key for publickey_ver {item.publickey_ver}")], "environment")
        try:
            random_key = key.decrypt(base64.b64decode(item.encrypt_random_key), padding.PKCS1v15()).decode("ascii")
            # OpenSSL's implicit rejection answers a wrong private key with random bytes, not an error
            # (a defence against padding oracles), so the key's shape is the check: WeCom's random keys
            # are printable ASCII tokens. Random bytes pass that with a chance of (94/256)**16 at most.
            if len(random_key) < 16 or not random_key.isprintable() or " " in random_key:
                raise ValueError("not a random key")
            return random_key
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ConfigError(
                [(where, f"does not decrypt the random key of seq {item.seq}: wrong key for this version?")],
                "environment",
            ) from None


@dataclass
class PollResult:
    """What one pull did: the seq range covered and why messages were not recorded."""

    seq_before: int
    seq_after: int
    fetched: int = 0
    recorded: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


#: Only group robots post these (our own warnings included): never a member's message to judge.
_ROBOT_MSGTYPES = frozenset({"markdown", "news"})


def normalize(message: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, Any] | None:
    """An inbox payload (the replay input shape) for a member's group message, else None.

    The msgtype is kept exactly as the archive writes it (text, image, voice, video, card, link,
    file, weapp, redpacket, external_redpacket, ...): the `content_type` rule's `allowed` lists use
    these names. Only text carries text; other types are judged on time, frequency and content_type.

    Raises ValueError (the message is skipped as malformed) for what the doors refuse too: ids
    that are too long or hold control characters, text that is not valid Unicode, a sent_at
    outside 2000-01-01 .. now + 1 day.
    """
    msgtype = message.get("msgtype")
    if message.get("action") != "send" or not message.get("roomid"):
        return None
    if not isinstance(msgtype, str) or not msgtype or msgtype in _ROBOT_MSGTYPES:
        return None
    text = (message.get("text") or {}).get("content") if msgtype == "text" else ""
    if not isinstance(text, str):
        return None
    sent_at = datetime.fromtimestamp(int(message["msgtime"]) / 1000, UTC)
    try:
        msg = door_message(
            msgid=str(message["msgid"]),
            chat_id=str(message["roomid"]),
            sender=str(message["from"]),
            sent_at=sent_at,
            text=text,
            msgtype=msgtype,
            source="archive",
        )
    except PayloadError as exc:
        raise ValueError(exc.reason) from None
    if problem := sent_at_problem(sent_at, now or system_clock()):
        raise ValueError(f"msgtime {problem}")
    return msg.to_payload()


def _skip_reason(message: Mapping[str, Any]) -> str:
    action = message.get("action")
    if action != "send":
        return str(action)  # recall | switch
    if not message.get("roomid"):
        return "direct"
    return f"msgtype:{message.get('msgtype')}"


class ArchivePoller:
    """Pulls the archive after the stored seq and records group text messages in the inbox."""

    def __init__(
        self,
        sdk: ArchiveSdk,
        keys: ArchiveKeys,
        sessions: sessionmaker[Session],
        *,
        limit: int = 1000,
        clock: Clock = system_clock,
        sealer: PayloadSealer | None = None,
    ) -> None:
        self.sdk = sdk
        #: Seals payloads at rest (the app passes its sealer; None only in tests of the SDK path).
        self.sealer = sealer
        self.keys = keys
        self.sessions = sessions
        self.limit = limit
        self.clock = clock

    def cursor(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(CursorRow.value).where(CursorRow.name == CURSOR)) or 0

    def poll_once(self) -> PollResult:
        """Fetch one batch, record it and advance the cursor in one transaction."""
        seq = self.cursor()
        batch = self.sdk.get_chat_data(seq, self.limit)
        result = PollResult(seq_before=seq, seq_after=seq, fetched=len(batch.chatdata))
        payloads: list[dict[str, Any]] = []
        for item in batch.chatdata:
            random_key = self.keys.unwrap(item)
            try:
                message = self.sdk.decrypt_data(random_key, item.encrypt_chat_msg, adapter=RAW_MESSAGE)
            except Exception as exc:  # DecryptData is local and deterministic: retrying cannot help
                log.error("archive message undecryptable: %s", type(exc).__name__, extra={"seq": item.seq})
                result.skipped["undecryptable"] += 1
                result.seq_after = max(result.seq_after, item.seq)
                continue
            try:
                payload = normalize(message, now=self.clock())
            # A text message missing msgtime/from/msgid, or holding what the doors refuse.
            except (KeyError, TypeError, ValueError, OverflowError, OSError):
                log.error("archive message malformed", extra={"seq": item.seq})
                result.skipped["malformed"] += 1
                result.seq_after = max(result.seq_after, item.seq)
                continue
            if payload is None:
                result.skipped[_skip_reason(message)] += 1
                if message.get("action") == "recall":
                    # The recalled message was judged when it was sent; recalling does not undo a leak.
                    log.info("archive recall", extra={"msgid": item.msgid, "seq": item.seq})
            else:
                payloads.append(payload)
            result.seq_after = max(result.seq_after, item.seq)
        if result.seq_after == seq:
            return result
        with self.sessions() as session:
            for payload in payloads:
                created = inbox.record_event(
                    session,
                    dedupe_key=payload["msgid"],
                    source="archive",
                    kind="message",
                    payload=self.sealer.seal(payload, aad=payload["msgid"]) if self.sealer else payload,
                    now=self.clock(),
                )
                result.recorded += bool(created)
                result.duplicates += not created
            _advance(session, result.seq_after, self.clock())
            session.commit()
        # Routine: one line per poll (every second in the demo) would bury everything else at INFO.
        log.debug(
            "archive pulled",
            extra={
                "seq": result.seq_after,
                "fetched": result.fetched,
                "recorded": result.recorded,
                "skipped": dict(result.skipped),
            },
        )
        return result

    def drain(self) -> list[PollResult]:
        """Pull until a batch comes back short (the archive has nothing more for now)."""
        results = [self.poll_once()]
        while results[-1].fetched >= self.limit:
            results.append(self.poll_once())
        return results


def _advance(session: Session, seq: int, now: datetime) -> None:
    """Move the cursor forward, never back: two replicas pulling the same batch agree on the max."""
    cursor = session.scalars(select(CursorRow).where(CursorRow.name == CURSOR).with_for_update()).one_or_none()
    if cursor is None:
        session.add(CursorRow(name=CURSOR, value=seq, updated_at=now))
    elif seq > cursor.value:
        cursor.value = seq
        cursor.updated_at = now
    session.flush()


async def run_poller(
    poller: ArchivePoller, *, wakeup: asyncio.Event, poll_seconds: float, stop: asyncio.Event | None = None
) -> None:
    """Pull every `poll_seconds`, and at once when `wakeup` is set (a `msgaudit_notify` callback).

    The SDK is blocking native code, so each pull runs in a thread. A failed pull is logged
    (type and seq only: SDK messages may quote payloads) and retried at the next tick.
    """
    stop = stop or asyncio.Event()
    while not stop.is_set():
        wakeup.clear()
        try:
            await asyncio.to_thread(poller.drain)
        except ConfigError as exc:
            log.error("archive poller stopped at a key problem: %s", exc)
        except Exception as exc:  # the loop must survive SDK and database faults
            log.warning("archive pull failed: %s", type(exc).__name__)
        waiters = {asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(stop.wait())}
        _, pending = await asyncio.wait(waiters, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()


async def run_archive_task(app: Any, stop: asyncio.Event) -> None:
    """The app's background task: polls when `ingest.archive.enabled`, or when a demo injected
    `app.state.archive_sdk` (and `app.state.archive_keys`); woken by `app.state.ingest.archive_wakeup`."""
    cfg = app.state.config.ingest.archive
    sdk = getattr(app.state, "archive_sdk", None)
    if sdk is None and not cfg.enabled:
        return
    settings = app.state.settings
    try:
        if sdk is None:
            sdk = await asyncio.to_thread(make_archive_sdk, settings)  # native login: blocking
        keys = getattr(app.state, "archive_keys", None) or ArchiveKeys.from_settings(settings)
    except ConfigError as exc:
        log.error("chat archive not started: %s", exc)
        return
    poller = ArchivePoller(
        sdk, keys, app.state.sessions, limit=cfg.limit, clock=app.state.clock, sealer=app.state.ingest.sealer
    )
    await run_poller(poller, wakeup=app.state.ingest.archive_wakeup, poll_seconds=cfg.poll_seconds, stop=stop)
