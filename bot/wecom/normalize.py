"""Every inbound shape → one `Inbound` row for the inbox, whose payload is `GroupMessage.to_payload()`.

Shapes: the self-built app's decrypted XML (a flat expat read, `crypto.xml_fields`), the AI bot's decrypted JSON,
and one item of a bridge batch in the replay input format. Messages dedupe on their msgid; events
on "evt:" + sha256 of the whole decrypted payload, because distinct events can share
FromUserName + CreateTime (batch approvals, several scans in one second).

Kinds: "message" (a group message for the rules), "command" (a direct message to the app or bot,
chat_id ""), "event" (msgaudit_notify and the like).

Every door refuses here what could not be stored or judged, with a reason naming the field (never
its value): ids (msgid, chat_id, sender, stream id) of at most 128 printable characters, names
without control characters, text that is valid Unicode (no lone surrogates), and a sent_at between
2000-01-01 and now + 1 day. The AI bot's JSON is read with strict pydantic models, so a field of the
wrong JSON type is a 400, never a 500.

Example::

    inbound = from_app_xml(xml)   # Inbound(dedupe_key="4561255354251345929", kind="command", ...)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from bot.errors import PayloadError
from bot.wecom.crypto import xml_fields
from handlers.context import system_clock
from rules.model import GroupMessage, Source

#: The chat-archive poller is told to pull by this event.
MSGAUDIT_NOTIFY = "msgaudit_notify"


#: Longest msgid, chat_id or sender accepted at any door (the inbox and message columns hold them).
MAX_ID_CHARS = 128
#: Oldest sent_at judged; newer than now + FUTURE_SLACK is refused too (a clock that far off is wrong).
EARLIEST_SENT_AT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
#: Characters no name may hold: C0/C1 controls, DEL, lone surrogates, line/paragraph separators.
_BAD_NAME_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def id_problem(value: str) -> str | None:
    """What is wrong with an id (msgid, chat_id, sender), or None. Never quotes the value."""
    if len(value) > MAX_ID_CHARS:
        return f"longer than {MAX_ID_CHARS} characters"
    # isprintable() is False for controls (NUL included), surrogates, format and unassigned
    # characters and non-ASCII spaces: none belongs in a machine-made WeCom or bridge id.
    if not value.isprintable():
        return "contains a control or non-printable character"
    return None


def name_problem(value: str) -> str | None:
    """What is wrong with a display name (sender_name, chat_name), or None."""
    if _BAD_NAME_CHARS.search(value):
        return "contains a control character or invalid Unicode"
    return None


def text_problem(value: str) -> str | None:
    """What is wrong with message text, or None: it must be valid Unicode (no lone surrogates)."""
    if not value.isascii() and _SURROGATE.search(value):
        return "is not valid Unicode (lone surrogate)"
    return None


def sent_at_problem(sent_at: datetime, now: datetime) -> str | None:
    if sent_at < EARLIEST_SENT_AT:
        return "is before 2000-01-01"
    if sent_at > now + FUTURE_SLACK:
        return "is more than one day in the future"
    return None


def check_id(value: str, where: str) -> str:
    if problem := id_problem(value):
        raise PayloadError(f"{where}: {problem}")
    return value


def _check(problem: str | None, where: str) -> None:
    if problem:
        raise PayloadError(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class Inbound:
    """What an adapter hands to `storage.inbox.record_event`."""

    dedupe_key: str
    source: str
    kind: str
    payload: dict[str, Any]

    @property
    def event(self) -> str | None:
        return self.payload.get("event") if self.kind == "event" else None


# C0 controls but tab, newline and CR, DEL and C1 controls: nothing a rep types, and they break
# exports (XLSX cannot hold them) and terminals. Ids are validated at the door instead.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def door_message(
    *,
    msgid: str,
    chat_id: str,
    sender: str,
    sent_at: datetime,
    text: str,
    msgtype: str = "text",
    source: Source,
    sender_name: str | None = None,
    chat_name: str | None = None,
) -> GroupMessage:
    """The GroupMessage a door stores (as `to_payload()`), once the door's checks pass.

    Raises PayloadError naming the field when an adapter hands over what cannot be judged; control
    characters are dropped from the text and names.
    """
    check_id(msgid, "msgid")
    check_id(chat_id, "chat_id")
    check_id(sender, "sender")
    check_id(msgtype, "msgtype")
    _check(text_problem(text), "text")
    for where, name in (("sender_name", sender_name), ("chat_name", chat_name)):
        if name:
            _check(name_problem(name), where)
    if sent_at.tzinfo is None:
        raise PayloadError("sent_at has no UTC offset")
    return GroupMessage(
        msgid=msgid,
        chat_id=chat_id,
        sender=sender,
        sent_at=sent_at,
        text=_CONTROL.sub("", text),
        msgtype=msgtype,
        source=source,
        sender_name=_CONTROL.sub("", sender_name) if sender_name else None,
        chat_name=_CONTROL.sub("", chat_name) if chat_name else None,
    )


def _message(msg: GroupMessage) -> Inbound:
    kind = "message" if msg.is_group else "command"
    return Inbound(dedupe_key=msg.msgid, source=msg.source, kind=kind, payload=msg.to_payload())


def _event(source: str, plaintext: str, event: str, sender: str, sent_at: datetime) -> Inbound:
    digest = hashlib.sha256(plaintext.encode("utf-8")).hexdigest()
    payload = {"event": event, "sender": sender, "sent_at": sent_at.isoformat(), "source": source}
    return Inbound(dedupe_key=f"evt:{digest}", source=source, kind="event", payload=payload)


def _epoch(seconds: Any, now: datetime) -> datetime:
    try:
        sent_at = datetime.fromtimestamp(int(seconds), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError("CreateTime is not a Unix timestamp") from None
    _check(sent_at_problem(sent_at, now), "CreateTime")
    return sent_at


# -- self-built app: decrypted XML ------------------------------------------------------------------


def from_app_xml(plaintext: str, *, now: datetime | None = None) -> Inbound:
    """The self-built app's decrypted XML. Users reach the app only 1:1, so messages are commands.

    `now` (the server clock; the caller's, defaulting to the system's) bounds CreateTime.
    """
    try:
        raw = xml_fields(plaintext)
    except PayloadError:
        raise PayloadError("decrypted XML is not a WeCom message") from None
    if not raw:
        raise PayloadError("decrypted XML is empty")
    if not raw.get("MsgType"):
        raise PayloadError("decrypted XML is not a WeCom message (no MsgType)")
    sent_at = _epoch(raw.get("CreateTime"), now or system_clock())
    sender = check_id(raw.get("FromUserName", ""), "FromUserName")
    msgtype = raw["MsgType"].lower()
    if msgtype == "event":
        event = check_id(raw.get("Event", "").lower(), "Event")
        return _event("callback", plaintext, event, sender, sent_at)
    msgid = raw.get("MsgId", "")
    if not msgid or not sender:
        raise PayloadError("message without MsgId or FromUserName")
    text = raw.get("Content", "") if msgtype == "text" else ""
    return _message(
        door_message(
            msgid=msgid, chat_id="", sender=sender, sent_at=sent_at, text=text, msgtype=msgtype, source="callback"
        )
    )


# -- AI bot (智能机器人): decrypted JSON ---------------------------------------------------------------


class _Strict(BaseModel):
    # strict: a JSON number where WeCom sends a string is refused, not coerced; unknown keys ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class _AiBotFrom(_Strict):
    userid: str | None = None


class _AiBotText(_Strict):
    content: str | None = None


class _AiBotStream(_Strict):
    id: str | None = None


class _AiBotEvent(_Strict):
    eventtype: str | None = None


class AiBotDoc(_Strict):
    """The fields we read from the AI bot's decrypted JSON (every msgtype: text, stream, event, …)."""

    msgid: str | None = None
    msgtype: str | None = None
    chatid: str | None = None
    chattype: str | None = None
    sender: _AiBotFrom | None = Field(None, alias="from")
    text: _AiBotText | None = None
    stream: _AiBotStream | None = None
    event: _AiBotEvent | None = None

    @property
    def stream_id(self) -> str:
        return (self.stream.id if self.stream else None) or ""


def parse_aibot_json(plaintext: str) -> AiBotDoc:
    """The AI bot's decrypted JSON, typed; PayloadError names the first field of the wrong type.

    pydantic-core's JSON parser bounds nesting, so a hostile depth is a 400, not a RecursionError.
    """
    try:
        doc = AiBotDoc.model_validate_json(plaintext)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":  # also a lone surrogate, or nesting past the parser's bound
            raise PayloadError(f"decrypted AI-bot payload is not JSON ({first['msg']})") from None
        if first["type"] == "model_type" and not first["loc"]:
            raise PayloadError("decrypted AI-bot payload is not a JSON object") from None
        where = ".".join("from" if p == "sender" else str(p) for p in first["loc"])
        raise PayloadError(f"{where}: {first['msg']}") from None
    if doc.stream_id:
        check_id(doc.stream_id, "stream.id")
    return doc


def from_aibot_json(plaintext: str, *, received_at: datetime) -> Inbound | None:
    """The AI bot's decrypted JSON; None for stream-refresh polls, which carry no new message."""
    return from_aibot_doc(parse_aibot_json(plaintext), plaintext, received_at=received_at)


def from_aibot_doc(doc: AiBotDoc, plaintext: str, *, received_at: datetime) -> Inbound | None:
    """A parsed AI-bot document → Inbound (None for stream refreshes).

    The AI bot's callback has no send time, so `received_at` (the server clock) stands in.
    """
    msgtype = doc.msgtype or ""
    sender = check_id((doc.sender.userid if doc.sender else None) or "", "from.userid")
    if msgtype == "stream":
        return None
    if msgtype == "event":
        event = check_id((doc.event.eventtype if doc.event else None) or "event", "event.eventtype")
        return _event("aibot", plaintext, event, sender, received_at)
    msgid = doc.msgid or ""
    if not msgid or not sender or not msgtype:
        raise PayloadError("AI-bot message without msgid, msgtype or from.userid")
    chat_id = (doc.chatid or "") if doc.chattype == "group" else ""
    text = ((doc.text.content if doc.text else None) or "") if msgtype == "text" else ""
    return _message(
        door_message(
            msgid=msgid, chat_id=chat_id, sender=sender, sent_at=received_at, text=text, msgtype=msgtype, source="aibot"
        )
    )


# -- bridge batch item (replay input format) ----------------------------------------------------------


def _validated(problem_of):
    def check(value: str | None) -> str | None:
        if value is not None and (problem := problem_of(value)):
            raise PydanticCustomError("groupbot_value", problem)
        return value

    return AfterValidator(check)


BridgeId = Annotated[str, Field(min_length=1), _validated(id_problem)]


class BridgeItem(BaseModel):
    """One message in the replay input format (shared/spec/replay.md)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    msgid: BridgeId
    chat_id: BridgeId
    sender: BridgeId
    sent_at: AwareDatetime
    text: Annotated[str, _validated(text_problem)]
    msgtype: Annotated[str, Field("text", min_length=1, max_length=32), _validated(id_problem)]
    sender_name: Annotated[str | None, Field(None, max_length=100), _validated(name_problem)]
    chat_name: Annotated[str | None, Field(None, max_length=200), _validated(name_problem)]


def from_bridge_item(item: Any, *, now: datetime | None = None) -> Inbound:
    """One batch item → Inbound; PayloadError names the first field that is wrong (never its value).

    `now` (the server clock; defaults to the system's) bounds sent_at.
    """
    if not isinstance(item, dict):
        raise PayloadError("item is not a JSON object")
    try:
        parsed = BridgeItem.model_validate(item)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "item"
        raise PayloadError(f"{where}: {first['msg']}") from None
    _check(sent_at_problem(parsed.sent_at, now or system_clock()), "sent_at")
    return _message(door_message(source="bridge", **parsed.model_dump()))
