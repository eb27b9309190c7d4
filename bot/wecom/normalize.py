"""Every inbound shape → one `Inbound` row for the inbox, whose payload builds a `GroupMessage`.

Shapes: the self-built app's decrypted XML (wechatpy `parse_message`), the AI bot's decrypted JSON,
and one item of a bridge batch in the replay input format. Messages dedupe on their msgid; events
on "evt:" + sha256 of the whole decrypted payload, because distinct events can share
FromUserName + CreateTime (batch approvals, several scans in one second).

Kinds: "message" (a group message for the rules), "command" (a direct message to the app or bot,
chat_id ""), "event" (msgaudit_notify and the like).

Example::

    inbound = from_app_xml(xml)   # Inbound(dedupe_key="4561255354251345929", kind="command", ...)
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from wechatpy.enterprise import parse_message

from bot.errors import PayloadError

#: The chat-archive poller is told to pull by this event.
MSGAUDIT_NOTIFY = "msgaudit_notify"


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


def message_payload(
    *,
    msgid: str,
    chat_id: str,
    sender: str,
    sent_at: datetime,
    text: str,
    msgtype: str = "text",
    source: str,
    sender_name: str | None = None,
    chat_name: str | None = None,
) -> dict[str, Any]:
    """The JSON-safe dict `handlers.inbox_worker` turns back into a `GroupMessage`."""
    if sent_at.tzinfo is None:
        raise PayloadError(f"msgid {msgid}: sent_at has no UTC offset")
    payload: dict[str, Any] = {
        "msgid": msgid,
        "chat_id": chat_id,
        "sender": sender,
        "sent_at": sent_at.isoformat(),
        "text": _CONTROL.sub("", text),
        "msgtype": msgtype,
        "source": source,
    }
    if sender_name:
        payload["sender_name"] = _CONTROL.sub("", sender_name)
    if chat_name:
        payload["chat_name"] = _CONTROL.sub("", chat_name)
    return payload


def _message(payload: dict[str, Any]) -> Inbound:
    kind = "message" if payload["chat_id"] else "command"
    return Inbound(dedupe_key=payload["msgid"], source=payload["source"], kind=kind, payload=payload)


def _event(source: str, plaintext: str, event: str, sender: str, sent_at: datetime) -> Inbound:
    digest = hashlib.sha256(plaintext.encode("utf-8")).hexdigest()
    payload = {"event": event, "sender": sender, "sent_at": sent_at.isoformat(), "source": source}
    return Inbound(dedupe_key=f"evt:{digest}", source=source, kind="event", payload=payload)


def _epoch(seconds: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError("CreateTime is not a Unix timestamp") from None


# -- self-built app: decrypted XML ------------------------------------------------------------------


def from_app_xml(plaintext: str) -> Inbound:
    """The self-built app's decrypted XML. Users reach the app only 1:1, so messages are commands."""
    try:
        parsed = parse_message(plaintext)
    except Exception:  # xmltodict/expat errors, KeyError on a missing MsgType: all "unreadable"
        raise PayloadError("decrypted XML is not a WeCom message") from None
    if parsed is None:
        raise PayloadError("decrypted XML is empty")
    # wechatpy keeps the parsed dict in `_data`; events it has no class for (msgaudit_notify) are
    # readable only there.
    raw: dict[str, Any] = parsed._data
    sent_at = _epoch(raw.get("CreateTime"))
    sender = str(raw.get("FromUserName") or "")
    if str(raw.get("MsgType", "")).lower() == "event":
        return _event("callback", plaintext, str(raw.get("Event") or "").lower(), sender, sent_at)
    msgid = str(raw.get("MsgId") or "")
    if not msgid or not sender:
        raise PayloadError("message without MsgId or FromUserName")
    msgtype = str(raw.get("MsgType") or "text").lower()
    text = str(raw.get("Content") or "") if msgtype == "text" else ""
    return _message(
        message_payload(
            msgid=msgid, chat_id="", sender=sender, sent_at=sent_at, text=text, msgtype=msgtype, source="callback"
        )
    )


# -- AI bot (智能机器人): decrypted JSON ---------------------------------------------------------------


def from_aibot_json(plaintext: str, *, received_at: datetime) -> Inbound | None:
    """The AI bot's decrypted JSON; None for stream-refresh polls, which carry no new message.

    The AI bot's callback has no send time, so `received_at` (the server clock) stands in.
    """
    try:
        doc = json.loads(plaintext)
    except ValueError:
        raise PayloadError("decrypted AI-bot payload is not JSON") from None
    if not isinstance(doc, dict):
        raise PayloadError("decrypted AI-bot payload is not a JSON object")
    msgtype = str(doc.get("msgtype") or "")
    sender = str((doc.get("from") or {}).get("userid") or "") if isinstance(doc.get("from"), dict) else ""
    if msgtype == "stream":
        return None
    if msgtype == "event":
        event = doc.get("event") if isinstance(doc.get("event"), dict) else {}
        return _event("aibot", plaintext, str(event.get("eventtype") or "event"), sender, received_at)
    msgid = str(doc.get("msgid") or "")
    if not msgid or not sender or not msgtype:
        raise PayloadError("AI-bot message without msgid, msgtype or from.userid")
    chat_id = str(doc.get("chatid") or "") if doc.get("chattype") == "group" else ""
    text = ""
    if msgtype == "text" and isinstance(doc.get("text"), dict):
        text = str(doc["text"].get("content") or "")
    return _message(
        message_payload(
            msgid=msgid, chat_id=chat_id, sender=sender, sent_at=received_at, text=text, msgtype=msgtype, source="aibot"
        )
    )


# -- bridge batch item (replay input format) ----------------------------------------------------------


class BridgeItem(BaseModel):
    """One message in the replay input format (shared/spec/replay.md)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    msgid: str = Field(min_length=1, max_length=128)
    chat_id: str = Field(min_length=1, max_length=128)
    sender: str = Field(min_length=1, max_length=128)
    sent_at: AwareDatetime
    text: str
    msgtype: str = Field("text", min_length=1, max_length=32)
    sender_name: str | None = Field(None, max_length=100)
    chat_name: str | None = Field(None, max_length=200)


def from_bridge_item(item: Any) -> Inbound:
    """One batch item → Inbound; PayloadError names the first field that is wrong."""
    if not isinstance(item, dict):
        raise PayloadError("item is not a JSON object")
    try:
        parsed = BridgeItem.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "item"
        raise PayloadError(f"{where}: {first['msg']}") from None
    return _message(message_payload(source="bridge", **parsed.model_dump()))
