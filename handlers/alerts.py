"""What the bot says about a violation, and to whom: Chinese texts from config.yaml into outbox rows.

Called by handlers/message.py inside its transaction (so the violation and its alert commit
together, or neither does); `notify` never commits. Per violation `action`:

- ``record``: nothing is sent.
- ``warn_member``: one friendly sentence in the group, @-mentioning the rep (the group's robot; a
  direct app message when the group has no robot). Managers are not told: warnings are the rep's
  business, the dashboard and digest show them, and managers who get every late post stop reading.
- ``alert_managers``: an app message to the group's managers: who, which group, when, which rule,
  why, the masked snippet and a link to the dashboard entry.

Burst protection (one member breaking rules many times in a few minutes) is keyed on time buckets
of `outbox.burst_minutes` by `sent_at`, per (group, member):

- the first alert in a bucket goes out at once (key ``alert:{chat}:{member}:{bucket}``);
- later ones fold into one grouped alert (key ``alert-burst:...``) due at the bucket's end. Folding
  rewrites that row only while no dispatcher has ever claimed it (`attempts == 0`, no lease), under
  a row lock, so every violation is in exactly one sent message; once claimed, a late violation
  gets its own alert (``alert:msg:{msgid}``) instead;
- warnings: at most one per rule per member per bucket (the rest are recorded, not posted);
- escalations: at most one per member per group per day.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined, Template
from sqlalchemy.orm import Session

from bot.config import AppConfig, GroupConfig
from handlers.context import HandlerContext
from handlers.directory import Person, person
from rules.config import RulesConfig
from rules.model import GroupMessage
from storage import members, outbox
from storage.models import Escalation, Message, Violation

log = logging.getLogger(__name__)

WEEKDAYS = "一二三四五六日"
SNIPPET_CHARS = 60
#: message/send markdown limit (WeCom answers 45002 beyond it).
MARKDOWN_BYTES = 2048


def notify(
    session: Session,
    ctx: HandlerContext,
    *,
    msg: GroupMessage,
    violations: Sequence[Violation],
    escalation: Escalation | None,
) -> None:
    """Queue the warnings, alerts and escalation that `violations` call for; never commits."""
    if not violations and escalation is None:
        return
    if any(v.id is None for v in violations):
        session.flush()  # the dashboard links need the violations' ids
    members.note_seen(session, userid=msg.sender)
    text = AlertText(ctx.config, ctx.public_url, chat_id=msg.chat_id, chat_name=msg.chat_name)
    rep = person(session, ctx.config, msg.sender)
    bucket = Bucket.of(msg.sent_at, ctx.config.outbox.burst_minutes)
    warn = [v for v in violations if v.action == "warn_member"]
    alert = [v for v in violations if v.action == "alert_managers"]
    if warn:
        _warn_member(session, text, rep=rep, msg=msg, violations=warn, bucket=bucket)
    if alert:
        _alert_managers(session, text, rep=rep, msg=msg, violations=alert, bucket=bucket)
    if escalation is not None:
        _escalate(session, text, rep=rep, msg=msg, escalation=escalation)


# Plain text and WeCom markdown, never HTML: no autoescape; StrictUndefined so a typo in a template
# fails the test suite instead of sending a blank.
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """Compiling a template costs more than rendering it; templates come from config and are few."""
    return _ENV.from_string(source)


class Bucket:
    """A fixed window of `minutes` that `sent_at` falls in; its start names it in outbox keys."""

    def __init__(self, start: datetime, minutes: int) -> None:
        self.start = start
        self.end = start + timedelta(minutes=minutes)

    @classmethod
    def of(cls, sent_at: datetime, minutes: int) -> Bucket:
        epoch = int(sent_at.astimezone(UTC).timestamp())
        size = minutes * 60
        return cls(datetime.fromtimestamp(epoch - epoch % size, UTC), minutes)

    @property
    def name(self) -> str:
        return self.start.strftime("%Y%m%dT%H%M")


class AlertText:
    """Renders the config's templates for one group; every user-facing word comes from config."""

    def __init__(self, config: AppConfig, public_url: str, *, chat_id: str, chat_name: str | None) -> None:
        self.config = config
        self.templates = config.templates
        self.group: GroupConfig | None = config.group(chat_id)
        self.group_name = self.group.name if self.group else (chat_name or chat_id)
        overrides = self.group.rules if self.group else {}
        self.rules: RulesConfig = config.rules.with_overrides(overrides) if overrides else config.rules
        self.zone = ZoneInfo(config.timezone)
        self.public_url = public_url.rstrip("/")

    def render(self, source: str, **values: Any) -> str:
        return _compiled(source).render(**values).strip()

    def when(self, at: datetime) -> str:
        local = at.astimezone(self.zone)
        return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"

    def rule_name(self, rule: str) -> str:
        return self.templates.rule_names.get(rule, rule)

    def _rule_values(self, violation: Violation) -> dict[str, Any]:
        local = violation.occurred_at.astimezone(self.zone)
        fields = self.rules.template.fields
        return {
            "sent": f"周{WEEKDAYS[local.weekday()]} {local:%H:%M}",
            "windows": "、".join(str(w) for w in self.rules.posting_window.windows),
            "limit": self.rules.frequency.limit,
            "window_minutes": self.rules.frequency.window_minutes,
            "missing": "、".join(fields[m].label if m in fields else m for m in violation.missing or ()),
            "kinds": "、".join(self.templates.kind_names.get(k, k) for k in violation.kinds or ()),
        }

    def why(self, violation: Violation) -> str:
        source = self.templates.reasons.get(violation.rule)
        return self.render(source, **self._rule_values(violation)) if source else self.rule_name(violation.rule)

    def hint(self, violation: Violation) -> str:
        source = self.templates.hints.get(violation.rule)
        return self.render(source, **self._rule_values(violation)) if source else self.why(violation)

    def link(self, violation: Violation) -> str:
        return f"{self.public_url}/violations/{violation.id}"


def _snippet(session: Session, violation: Violation) -> str:
    """The stored (masked) text, on one line and short; the clear text is never read here."""
    message = session.get(Message, violation.message_id)
    if message is None:
        return ""
    flat = " ".join(message.masked_text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS] + "…"


def _markdown(content: str, meta: dict[str, Any]) -> dict[str, Any]:
    # `_meta` is groupbot's own bookkeeping; senders strip keys starting with "_".
    return {"msgtype": "markdown", "markdown": {"content": content}, "_meta": meta}


def _warn_member(
    session: Session,
    text: AlertText,
    *,
    rep: Person,
    msg: GroupMessage,
    violations: Sequence[Violation],
    bucket: Bucket,
) -> None:
    robot = text.group.robot if text.group else None
    for violation in violations:
        key = f"warn:{msg.chat_id}:{msg.sender}:{bucket.name}:{violation.rule}"
        content = text.render(text.templates.member_warning, name=rep.name, hint=text.hint(violation))
        meta = {"violation_ids": [violation.id]}
        if robot:
            body = {"msgtype": "text", "text": {"content": content, "mentioned_list": [msg.sender]}}
            outbox.enqueue(session, key=key, channel="robot", target=robot, payload={**body, "_meta": meta})
        else:
            body = {"msgtype": "text", "text": {"content": content}}
            outbox.enqueue(session, key=key, channel="app", target=msg.sender, payload={**body, "_meta": meta})


def _alert_managers(
    session: Session,
    text: AlertText,
    *,
    rep: Person,
    msg: GroupMessage,
    violations: Sequence[Violation],
    bucket: Bucket,
) -> None:
    managers = text.group.managers if text.group else ()
    if not managers:
        log.warning("no managers to alert", extra={"chat_id": msg.chat_id, "msgid": msg.msgid})
        return
    target = "|".join(managers)
    first = violations[0]
    item = {
        "when": text.when(first.occurred_at),
        "rule": "、".join(dict.fromkeys(text.rule_name(v.rule) for v in violations)),
        "why": "；".join(text.why(v) for v in violations),
        "snippet": _snippet(session, first),
        "link": text.link(first),
        "violation_ids": [v.id for v in violations],
    }
    first_key = f"alert:{msg.chat_id}:{msg.sender}:{bucket.name}"
    if outbox.get_by_key(session, key=first_key) is None:
        _single_alert(session, text, rep=rep, key=first_key, target=target, item=item)
        return
    burst_key = f"alert-burst:{msg.chat_id}:{msg.sender}:{bucket.name}"
    grouped = outbox.get_by_key(session, key=burst_key, for_update=True)
    if grouped is None:
        items = [item]
    elif outbox.never_claimed(grouped):
        items = [*grouped.payload["_meta"]["items"], item]
    else:
        # The grouped alert is already on its way: this one must not ride on it, nor be lost.
        _single_alert(session, text, rep=rep, key=f"alert:msg:{msg.msgid}", target=target, item=item)
        return
    shown = items
    while True:
        content = text.render(
            text.templates.manager_alert_grouped,
            group=text.group_name,
            name=rep.name,
            department=rep.department,
            since=f"{bucket.start.astimezone(text.zone):%H:%M}",
            until=f"{bucket.end.astimezone(text.zone):%H:%M}",
            items=shown,
            more=len(items) - len(shown),
        )
        # WeCom refuses app markdown over 2,048 bytes: show the latest items, count the rest.
        if len(content.encode()) <= MARKDOWN_BYTES or len(shown) == 1:
            break
        shown = shown[1:]
    payload = _markdown(content, {"items": items})
    if grouped is None:
        outbox.enqueue(session, key=burst_key, channel="app", target=target, payload=payload, not_before=bucket.end)
    else:
        grouped.payload = payload  # a new dict, so the JSON column sees the change


def _single_alert(
    session: Session, text: AlertText, *, rep: Person, key: str, target: str, item: dict[str, Any]
) -> None:
    content = text.render(
        text.templates.manager_alert,
        group=text.group_name,
        name=rep.name,
        department=rep.department,
        when=item["when"],
        rule=item["rule"],
        why=item["why"],
        snippet=item["snippet"],
        link=item["link"],
    )
    meta = {"violation_ids": item["violation_ids"]}
    outbox.enqueue(session, key=key, channel="app", target=target, payload=_markdown(content, meta))


def _escalate(
    session: Session, text: AlertText, *, rep: Person, msg: GroupMessage, escalation: Escalation
) -> None:
    contacts: tuple[str, ...] = ()
    if text.group is not None:
        contacts = text.group.escalation_contacts or text.group.managers
    if not contacts:
        log.warning("no escalation contacts", extra={"chat_id": msg.chat_id, "msgid": msg.msgid})
        return
    violation = session.get(Violation, escalation.violation_id)
    day = msg.sent_at.astimezone(text.zone).date().isoformat()
    content = text.render(
        text.templates.escalation,
        group=text.group_name,
        name=rep.name,
        department=rep.department,
        days=escalation.window_days,
        count=escalation.count,
        when=text.when(violation.occurred_at) if violation else text.when(msg.sent_at),
        rule=text.rule_name(violation.rule) if violation else "",
        why=text.why(violation) if violation else "",
        link=text.link(violation) if violation else text.public_url,
    )
    outbox.enqueue(
        session,
        key=f"escalation:{msg.chat_id}:{msg.sender}:{day}",
        channel="app",
        target="|".join(contacts),
        payload=_markdown(content, {"escalation_id": escalation.id}),
    )
