"""The vocabulary of the rule engine: a normalized message in, a verdict out.

Every ingest path (self-built app callback, AI-bot callback, JSON bridge, chat archive, replay file)
turns its input into one `GroupMessage`; the engine answers with one `Verdict`. Both are frozen
dataclasses so that a verdict can be compared whole in tests and shared across threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

RuleName = Literal["posting_window", "frequency", "template", "sensitive", "content_type"]
Action = Literal["record", "warn_member", "alert_managers"]
SensitiveKind = Literal["mobile", "id_card", "bank_card", "email", "im_account", "financial"]
Source = Literal["callback", "aibot", "bridge", "archive", "replay", "app"]
SOURCES: frozenset[str] = frozenset(get_args(Source))

#: Message types whose text is a rep's writing: parsed for reports and deals, never judged by
#: `content_type`. Every other msgtype (card, redpacket, link, file, weapp, image...) is judged on
#: its time, frequency and, when enabled, `content_type`; its text is empty or a description.
WRITTEN_MSGTYPES = frozenset({"text", "markdown"})

#: The six follow-up fields in the order the contract lists them (missing fields keep this order).
FOLLOW_UP_FIELDS: tuple[str, ...] = (
    "client_name",
    "company",
    "contact",
    "need",
    "last_contact_at",
    "next_action",
)


class RuleSettings(BaseModel):
    """Settings every rule block in config.yaml has; each rule extends it with its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    action: Action = "record"
    #: Members exempt from this rule only, in addition to the managers and exempt members when the
    #: rule honours those (`exemptible` in rules/registry.py). The only way to exempt anyone from
    #: `sensitive`. A group's override replaces the company-wide list, as every override does.
    exempt_members: tuple[Annotated[str, Field(min_length=1, max_length=128)], ...] = ()


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """One chat message, whatever door it came in by.

    `sent_at` is timezone-aware; `chat_id` is the group's id (WeCom roomid/chatid), or "" for a
    direct message to the app, which the rules do not judge.
    """

    msgid: str
    chat_id: str
    sender: str
    sent_at: datetime
    text: str
    msgtype: str = "text"
    source: Source = "replay"
    sender_name: str | None = None
    chat_name: str | None = None

    def __post_init__(self) -> None:
        if self.sent_at.tzinfo is None or self.sent_at.utcoffset() is None:
            raise ValueError(f"msgid {self.msgid}: sent_at must carry a UTC offset")

    @property
    def is_group(self) -> bool:
        return bool(self.chat_id)

    def to_payload(self) -> dict[str, Any]:
        """The one stored shape of a message (the inbox payload; the replay input format plus
        `msgtype` and `source`): JSON-safe, key order fixed, names only when known.

        Every door validates its input, builds a GroupMessage and stores this; the inbox worker and
        replay read it back with `from_payload`.
        """
        payload: dict[str, Any] = {
            "msgid": self.msgid,
            "chat_id": self.chat_id,
            "sender": self.sender,
            "sent_at": self.sent_at.isoformat(),
            "text": self.text,
            "msgtype": self.msgtype,
            "source": self.source,
        }
        if self.sender_name:
            payload["sender_name"] = self.sender_name
        if self.chat_name:
            payload["chat_name"] = self.chat_name
        return payload

    @classmethod
    def from_payload(cls, data: Any, *, source: Source | None = None) -> GroupMessage:
        """Read back what `to_payload` wrote, or one line of a replay file (parsed JSON).

        `source` overrides the payload's own (replay judges every line as "replay"); without it the
        payload must name a known source. Raises MessageFieldError naming the first field that is
        missing, of the wrong type or unreadable, checked in the order the replay contract lists
        them; only a sent_at that does not parse is quoted (its first 40 characters).
        """
        if not isinstance(data, Mapping):
            raise MessageFieldError("", "expected a JSON object")
        for name in _REQUIRED_FIELDS:
            if name not in data:
                raise MessageFieldError(name, f"missing field {name!r}")
            if not isinstance(data[name], str):
                raise MessageFieldError(name, f"field {name!r} must be a string")
        for name in ("msgid", "sender"):
            if not data[name]:
                raise MessageFieldError(name, f"field {name!r} is empty")
        for name in _OPTIONAL_FIELDS:
            if data.get(name) is not None and not isinstance(data[name], str):
                raise MessageFieldError(name, f"field {name!r} must be a string")
        if source is None:
            source = data.get("source")
            if source not in SOURCES:
                raise MessageFieldError("source", "field 'source' is not a known source")
        return cls(
            msgid=data["msgid"],
            chat_id=data["chat_id"],
            sender=data["sender"],
            sent_at=_aware_time(data["sent_at"]),
            text=data["text"],
            msgtype=data.get("msgtype") or "text",
            source=source,
            sender_name=data.get("sender_name"),
            chat_name=data.get("chat_name"),
        )


class MessageFieldError(ValueError):
    """Raised by `GroupMessage.from_payload` when a field cannot be read; `field` names it ("" when
    the payload is not an object at all). `reason` never quotes a value; the message quotes only an
    unreadable sent_at (the replay file's author is shown their own line)."""

    def __init__(self, field: str, reason: str, *, quoted: str | None = None) -> None:
        self.field = field
        self.reason = reason
        super().__init__(reason if quoted is None else f"{reason}: {quoted[:40]!r}")


_REQUIRED_FIELDS = ("msgid", "chat_id", "sender", "sent_at", "text")
_OPTIONAL_FIELDS = ("sender_name", "chat_name", "msgtype")


def _aware_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MessageFieldError("sent_at", "sent_at is not an ISO 8601 time", quoted=value) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise MessageFieldError("sent_at", "sent_at has no UTC offset", quoted=value)
    return parsed


@dataclass(frozen=True, slots=True)
class Finding:
    """A detected personal identifier or financial statement: where it is and how it is masked.

    The clear value is never copied here; `start`/`end` index the message text the finding
    belongs to, and `mask` is what replaces it (None for kinds that are flagged, not masked).
    """

    kind: SensitiveKind
    start: int
    end: int
    mask: str | None


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule broken by one message, with an explanation a rep would understand."""

    rule: RuleName
    detail: str
    kinds: tuple[SensitiveKind, ...] = ()
    missing: tuple[str, ...] = ()
    #: template: the canonical fields that were read (contract order), for the rep's warning.
    recognised: tuple[str, ...] = ()
    #: template: client_name/company written but not readable (a colon or label left inside).
    unreadable: tuple[str, ...] = ()
    #: template: the expected report on one line, built from the configured prefix and labels.
    expected_format: str = ""

    def to_contract(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        if self.rule == "sensitive":
            out["kinds"] = sorted(self.kinds)
        if self.rule == "template":
            out["missing"] = list(self.missing)
        out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class ClientUpdate:
    """A parsed follow-up report. Missing fields are None; `contact` is as it reads masked."""

    client_name: str | None = None
    company: str | None = None
    contact: str | None = None
    need: str | None = None
    last_contact_at: date | None = None
    next_action: str | None = None
    next_action_due: date | None = None
    #: The canonical names of fields that were absent or empty (contract order).
    missing: tuple[str, ...] = ()
    #: client_name/company that were written but still held a colon or a label, so were not read:
    #: they are None here and listed in `missing` too, and no client is created from them.
    unreadable: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def recognised(self) -> tuple[str, ...]:
        """The canonical names of the fields that were read, in contract order."""
        return tuple(name for name in FOLLOW_UP_FIELDS if name not in self.missing)

    def to_contract(self) -> dict[str, Any]:
        return {
            "client_name": self.client_name,
            "company": self.company,
            "contact": self.contact,
            "need": self.need,
            "last_contact_at": self.last_contact_at.isoformat() if self.last_contact_at else None,
            "next_action": self.next_action,
            "next_action_due": self.next_action_due.isoformat() if self.next_action_due else None,
        }


@dataclass(frozen=True, slots=True)
class Deal:
    """A parsed deal report; `amount_yuan` is None when the amount cannot be read."""

    client_name: str | None
    company: str | None
    amount_yuan: int | None

    def to_contract(self) -> dict[str, Any]:
        return {"client_name": self.client_name, "company": self.company, "amount_yuan": self.amount_yuan}


@dataclass(frozen=True, slots=True)
class Facts:
    """What the engine learns about one message before any rule runs, computed once per message.

    Every rule's `check` reads from here instead of scanning or parsing again: the findings and the
    masked text come from the sensitive scan (run even when that rule is off, so masking always
    happens), `update` / `deal` from parsing the masked text of written messages, `prior` is the
    sender's earlier posts in the group within the frequency window (none after `sent_at`).
    """

    findings: tuple[Finding, ...] = ()
    masked_text: str = ""
    update: ClientUpdate | None = None
    deal: Deal | None = None
    prior: Sequence[datetime] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the engine concluded about one message."""

    msgid: str
    violations: tuple[Violation, ...]
    masked_text: str
    update: ClientUpdate | None = None
    deal: Deal | None = None
    findings: tuple[Finding, ...] = field(default=(), repr=False)

    def to_contract(self) -> dict[str, Any]:
        """The replay output line (shared/spec/replay.md), key order included."""
        return {
            "msgid": self.msgid,
            "violations": [v.to_contract() for v in self.violations],
            "update": self.update.to_contract() if self.update else None,
            "deal": self.deal.to_contract() if self.deal else None,
            "masked_text": self.masked_text,
        }
