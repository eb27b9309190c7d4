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

Quiet hours (`outbox.quiet_hours`): a warning the group robot would post outside the posting windows
(the same windows and work calendar the posting_window rule uses) is `hold`: folded into one post per
member, due at the next window (key ``quiet:{chat}:{member}:{window start}``; folding follows the
same never-claimed rule as grouped alerts, so each warning is in exactly one post); or `private`: sent
to the rep as an app message at once; or `off`: posted at once. Managers' private alerts always go at
once.

Every user-supplied value in a markdown message (the snippet, names, group names) is escaped by
handlers.wording (no planted link or <font> survives); a rep whose name the directory does not know
yet is listed in `_meta.unnamed`, and the dispatcher puts the name in before sending.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import AppConfig, GroupConfig
from handlers import wording
from handlers.context import HandlerContext
from handlers.directory import Person, person
from handlers.wording import WEEKDAYS, Trusted
from rules.config import PostingWindowSettings, RulesConfig
from rules.model import ClientUpdate, GroupMessage, Verdict
from rules.workdays import WorkCalendar
from storage import members, outbox
from storage.models import EscalationRow, OutboxItemRow, ViolationRow

log = logging.getLogger(__name__)

SNIPPET_CHARS = 60
#: message/send markdown limit (WeCom answers 45002 beyond it).
MARKDOWN_BYTES = 2048


def notify(
    session: Session,
    ctx: HandlerContext,
    *,
    msg: GroupMessage,
    verdict: Verdict,
    settings: RulesConfig,
    violations: Sequence[ViolationRow],
    escalation: EscalationRow | None,
) -> None:
    """Queue the warnings, alerts and escalation that `violations` call for; never commits.

    Takes what the message handler already has instead of deriving it again: the engine's `verdict`
    (the masked text for the snippet; the parsed report, whose recognised fields the rep's warning
    lists), the group's effective `settings` the message was judged by, and the violation rows it
    just stored (`escalation` points at one of them).
    """
    if not violations and escalation is None:
        return
    if any(v.id is None for v in violations):
        session.flush()  # the dashboard links need the violations' ids
    now = ctx.clock()
    members.note_seen(session, userid=msg.sender, now=now)
    rep = person(session, ctx.config, msg.sender)
    text = AlertText(ctx.config, ctx.public_url, msg=msg, rep=rep, verdict=verdict, settings=settings, now=now)
    bucket = Bucket.of(msg.sent_at, ctx.config.outbox.burst_minutes)
    warn = [v for v in violations if v.action == "warn_member"]
    if verdict.update is not None:
        # A follow-up report with a customer's clear number: managers are alerted, and the rep is told
        # what to write in 联系方式 instead (templates.contact_hint), or the next report repeats it.
        warn += [v for v in violations if v.rule == "sensitive" and v.action == "alert_managers"]
    alert = [v for v in violations if v.action == "alert_managers"]
    if warn:
        _warn_member(session, text, violations=warn, bucket=bucket, now=ctx.clock())
    if alert:
        _alert_managers(session, text, violations=alert, bucket=bucket)
    if escalation is not None:
        violation = next((v for v in violations if v.id == escalation.violation_id), None)
        _escalate(session, text, escalation=escalation, violation=violation)


def outbox_keys(ctx: HandlerContext, *, msg: GroupMessage, violations: Sequence[ViolationRow],
                settings: RulesConfig) -> list[str]:
    """Every idempotency key `notify` looks up for this message, so that a batch reads them all in
    one query (storage.outbox.remember) instead of two or three per alert."""
    bucket = Bucket.of(msg.sent_at, ctx.config.outbox.burst_minutes)
    keys = [_alert_key(msg, bucket), _burst_key(msg, bucket), _escalation_key(msg, ZoneInfo(ctx.config.timezone))]
    keys += [_warn_key(msg, bucket, v.rule) for v in violations]
    if ctx.config.outbox.quiet_hours == "hold":
        due = next_window_start(settings.posting_window, ctx.clock())
        if due is not None:
            keys.append(_quiet_key(msg, due))
    return keys


def _alert_key(msg: GroupMessage, bucket: Bucket) -> str:
    return f"alert:{msg.chat_id}:{msg.sender}:{bucket.name}"


def _burst_key(msg: GroupMessage, bucket: Bucket) -> str:
    return f"alert-burst:{msg.chat_id}:{msg.sender}:{bucket.name}"


def _warn_key(msg: GroupMessage, bucket: Bucket, rule: str) -> str:
    return f"warn:{msg.chat_id}:{msg.sender}:{bucket.name}:{rule}"


def _quiet_key(msg: GroupMessage, due: datetime) -> str:
    return f"quiet:{msg.chat_id}:{msg.sender}:{due.astimezone(UTC):%Y%m%dT%H%M}"


def _escalation_key(msg: GroupMessage, zone: ZoneInfo) -> str:
    return f"escalation:{msg.chat_id}:{msg.sender}:{msg.sent_at.astimezone(zone).date().isoformat()}"


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
    """Renders the config's templates about one message and its rep; every user-facing word comes
    from config, every fact from what the message handler handed to `notify`."""

    def __init__(
        self,
        config: AppConfig,
        public_url: str,
        *,
        msg: GroupMessage,
        rep: Person,
        verdict: Verdict,
        settings: RulesConfig,
        now: datetime,
    ) -> None:
        self.config = config
        self.templates = config.templates
        self.msg = msg
        self.rep = rep
        self.group: GroupConfig | None = config.group(msg.chat_id)
        self.group_name = self.group.name if self.group else (msg.chat_name or msg.chat_id)
        #: The group's effective settings, as the engine judged the message by them.
        self.rules = settings
        self.zone = ZoneInfo(config.timezone)
        self.public_url = public_url.rstrip("/")
        #: The parsed follow-up report, if the message was one: the warning lists what was read.
        self.update: ClientUpdate | None = verdict.update
        #: The message's masked text, short and on one line, for managers' alerts.
        self.snippet = _snippet(verdict.masked_text)
        #: Processing time (the handler's clock): immediate messages are due from then.
        self.now = now

    def render(self, source: str, **values: Any) -> str:
        """A WeCom markdown message: every value not marked Trusted is escaped (handlers.wording)."""
        return wording.render(source, markdown=True, **values)

    def render_text(self, source: str, **values: Any) -> str:
        """A plain-text message (WeCom shows it literally; nothing to escape)."""
        return wording.render(source, markdown=False, **values)

    def when(self, at: datetime) -> str:
        local = at.astimezone(self.zone)
        return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"

    def rule_name(self, rule: str) -> str:
        return Trusted(wording.rule_name(self.config, rule))

    def why(self, violation: ViolationRow) -> str:
        # Config wording filled with our own facts (times, limits, field labels): nothing from the rep.
        return Trusted(wording.reason(self.config, violation, self.rules))

    def hint(self, violation: ViolationRow) -> str:
        extra: dict[str, Any] = {}
        if self.update is not None and violation.rule == "template":
            extra["recognised"] = wording.recognised_fields(
                self.config, violation.chat_id, self.update.missing, self.rules
            )
        return wording.hint(self.config, violation, extra, self.rules)

    def link(self, violation: ViolationRow) -> str:
        return Trusted(f"{self.public_url}/violations/{violation.id}")


def _snippet(masked_text: str) -> str:
    """The masked text (as stored), on one line and short; the clear text is never shown."""
    flat = " ".join(masked_text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS] + "…"


def _markdown(content: str, meta: dict[str, Any]) -> dict[str, Any]:
    # `_meta` is groupbot's own bookkeeping; senders strip keys starting with "_".
    return {"msgtype": "markdown", "markdown": {"content": content}, "_meta": meta}


def _unnamed(config: AppConfig, rep: Person) -> dict[str, Any]:
    """`_meta` marking a rep the directory has no name for yet: the dispatcher resolves it (user/get)."""
    return {"unnamed": [rep.userid]} if rep.name == rep.userid and rep.userid not in config.members else {}


# Quiet hours -----------------------------------------------------------------------------------------

_CALENDARS: dict[tuple[frozenset[date], frozenset[date]], WorkCalendar] = {}


def _calendar(settings: PostingWindowSettings) -> WorkCalendar:
    key = (frozenset(settings.extra_holidays), frozenset(settings.extra_workdays))
    if key not in _CALENDARS:
        _CALENDARS[key] = WorkCalendar(settings.extra_holidays, settings.extra_workdays)
    return _CALENDARS[key]


def next_window_start(settings: PostingWindowSettings, now: datetime) -> datetime | None:
    """None when `now` is inside a posting window, else when the next one opens (the same windows
    and work calendar the posting_window rule judges reps by)."""
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    calendar = _calendar(settings)
    for offset in range(0, 60):
        day = local.date() + timedelta(days=offset)
        if settings.workdays_only and not calendar.is_workday(day):
            continue
        for window in settings.windows:
            start = datetime.combine(day, window.start, tzinfo=zone)
            end = datetime.combine(day, window.end, tzinfo=zone)
            if offset == 0 and start <= local < end:
                return None
            if start > local:
                return start
    return None  # no window within 60 days: do not hold a warning that long


def _day_label(sent: datetime, posted: date) -> str:
    """How the rep reads the day of the first held post: 今天, 昨晚 (昨天 before noon), or 11月28日."""
    if sent.date() == posted:
        return "今天"
    if sent.date() == posted - timedelta(days=1):
        return "昨晚" if sent.hour >= 12 else "昨天"
    return f"{sent.month}月{sent.day}日"


def _fold(session: Session, key: str, item: dict[str, Any]) -> tuple[list[dict[str, Any]], OutboxItemRow | None] | None:
    """`item` added to the items of the folded post at `key`, and that row (None: no row yet); None
    when the row has been claimed by a dispatcher: it may be on its way, so nothing rides on it."""
    row = outbox.get_by_key(session, key=key, for_update=True)
    if row is None:
        return [item], None
    if outbox.never_claimed(row):
        return [*row.payload["_meta"]["items"], item], row
    return None


def _hold_warning(session: Session, text: AlertText, *, violation: ViolationRow, robot: str, due: datetime) -> None:
    """Fold one warning into the member's held post for the window opening at `due`."""
    msg, rep = text.msg, text.rep
    item = {
        "msgid": msg.msgid,
        "sent_at": msg.sent_at.astimezone(UTC).isoformat(),
        "rule": violation.rule,
        "hint": text.hint(violation),
        "violation_id": violation.id,
    }
    key = _quiet_key(msg, due)
    folded = _fold(session, key, item)
    if folded is None:
        # Already on its way (the window opened): this warning goes in a post of its own.
        items, key, held = [item], f"quiet:msg:{msg.msgid}:{violation.rule}", None
    else:
        items, held = folded
    # UTC ISO strings order as the times do: parse only the first and the last (a member held all
    # night can have hundreds of items, and every fold renders the post again).
    sent = sorted(i["sent_at"] for i in items)
    first, last = (datetime.fromisoformat(t).astimezone(text.zone) for t in (sent[0], sent[-1]))
    content = text.render_text(
        text.templates.quiet_warning,
        name=rep.name,
        day=_day_label(first, due.astimezone(text.zone).date()),
        since=f"{first:%H:%M}",
        # Held over a weekend the span crosses days: the end then says which day.
        until=f"{last:%H:%M}" if last.date() == first.date() else f"{last.month}月{last.day}日 {last:%H:%M}",
        count=len({i["msgid"] for i in items}),
        hints=list(dict.fromkeys(i["hint"] for i in items)),
    )
    meta = {"items": items, "violation_ids": [i["violation_id"] for i in items], **_unnamed(text.config, rep)}
    payload = {"msgtype": "text", "text": {"content": content, "mentioned_list": [msg.sender]}, "_meta": meta}
    if held is None:
        outbox.enqueue(session, key=key, channel="robot", target=robot, payload=payload, now=text.now, not_before=due)
    else:
        held.payload = payload  # a new dict, so the JSON column sees the change


def _warn_member(
    session: Session, text: AlertText, *, violations: Sequence[ViolationRow], bucket: Bucket, now: datetime
) -> None:
    msg, rep = text.msg, text.rep
    robot = text.group.robot if text.group else None
    mode = text.config.outbox.quiet_hours
    due = next_window_start(text.rules.posting_window, now) if robot and mode != "off" else None
    for violation in violations:
        key = _warn_key(msg, bucket, violation.rule)
        if due is not None and mode == "hold":
            _hold_warning(session, text, violation=violation, robot=robot or "", due=due)
            continue
        if due is not None:  # quiet hours, private: say when, since the rep reads it on their own
            sent = msg.sent_at.astimezone(text.zone)
            content = text.render_text(
                text.templates.quiet_warning, name=rep.name, day=_day_label(sent, now.astimezone(text.zone).date()),
                since=f"{sent:%H:%M}", until=f"{sent:%H:%M}", count=1, hints=[text.hint(violation)],
            )
        else:
            content = text.render_text(text.templates.member_warning, name=rep.name, hint=text.hint(violation))
        meta = {"violation_ids": [violation.id], **_unnamed(text.config, rep)}
        if robot and due is None:
            body = {"msgtype": "text", "text": {"content": content, "mentioned_list": [msg.sender]}}
            outbox.enqueue(session, key=key, channel="robot", target=robot, payload={**body, "_meta": meta},
                           now=text.now, not_before=text.now)
        else:
            body = {"msgtype": "text", "text": {"content": content}}
            outbox.enqueue(session, key=key, channel="app", target=msg.sender, payload={**body, "_meta": meta},
                           now=text.now, not_before=text.now)


def _alert_managers(session: Session, text: AlertText, *, violations: Sequence[ViolationRow], bucket: Bucket) -> None:
    msg, rep = text.msg, text.rep
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
        "snippet": text.snippet,
        "link": text.link(first),
        "violation_ids": [v.id for v in violations],
    }
    first_key = _alert_key(msg, bucket)
    if outbox.get_by_key(session, key=first_key) is None:
        _single_alert(session, text, key=first_key, target=target, item=item)
        return
    burst_key = _burst_key(msg, bucket)
    folded = _fold(session, burst_key, item)
    if folded is None:
        # The grouped alert is already on its way: this one must not ride on it, nor be lost.
        _single_alert(session, text, key=f"alert:msg:{msg.msgid}", target=target, item=item)
        return
    items, grouped = folded
    shown = items
    while True:
        content = text.render(
            text.templates.manager_alert_grouped,
            group=text.group_name,
            name=rep.name,
            department=rep.department,
            since=f"{bucket.start.astimezone(text.zone):%H:%M}",
            until=f"{bucket.end.astimezone(text.zone):%H:%M}",
            items=[_trusted_item(i) for i in shown],
            more=len(items) - len(shown),
        )
        # WeCom refuses app markdown over 2,048 bytes: show the latest items, count the rest.
        if len(content.encode()) <= MARKDOWN_BYTES or len(shown) == 1:
            break
        shown = shown[1:]
    payload = _markdown(content, {"items": items, **_unnamed(text.config, rep)})
    if grouped is None:
        outbox.enqueue(
            session, key=burst_key, channel="app", target=target, payload=payload, now=text.now, not_before=bucket.end
        )
    else:
        grouped.payload = payload  # a new dict, so the JSON column sees the change


def _trusted_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item read back from `_meta` (plain JSON): our own parts are Trusted again, the snippet not."""
    return {**item, **{k: Trusted(item[k]) for k in ("rule", "why", "link") if k in item}}


def _single_alert(session: Session, text: AlertText, *, key: str, target: str, item: dict[str, Any]) -> None:
    rep = text.rep
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
    meta = {"violation_ids": item["violation_ids"], **_unnamed(text.config, rep)}
    outbox.enqueue(session, key=key, channel="app", target=target, payload=_markdown(content, meta),
                   now=text.now, not_before=text.now)


def _escalate(session: Session, text: AlertText, *, escalation: EscalationRow, violation: ViolationRow | None) -> None:
    msg, rep = text.msg, text.rep
    contacts: tuple[str, ...] = ()
    if text.group is not None:
        contacts = text.group.escalation_contacts or text.group.managers
    if not contacts:
        log.warning("no escalation contacts", extra={"chat_id": msg.chat_id, "msgid": msg.msgid})
        return
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
        link=text.link(violation) if violation else Trusted(text.public_url),
    )
    outbox.enqueue(
        session,
        key=_escalation_key(msg, text.zone),
        channel="app",
        target="|".join(contacts),
        payload=_markdown(content, {"escalation_id": escalation.id, **_unnamed(text.config, rep)}),
        now=text.now, not_before=text.now,
    )
