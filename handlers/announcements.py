"""Scheduled announcements: a manager's message for their groups, once or on a cron, posted exactly
once per occurrence across replicas and only inside the groups' posting windows.

Every minute each replica's scheduler calls `post_due`. An occurrence is the announcement's `run_at`
(once) or its latest cron fire time; it is due while it lies within `GRACE` before now, and it is
posted when now falls inside the group's posting window (an occurrence at 08:00 waits for 09:00;
one missed for more than `GRACE` is dropped, not posted late). The occurrence claims
`job_runs ('announcement:<id>', '<occurrence ISO time>')` in the transaction that queues its posts,
so of several replicas exactly one posts it, and a crash leaves neither claim nor posts.

Text announcements go out as WeCom `text`; markdown ones as `markdown`, as the manager wrote them
(their own words, trusted-ish), after control characters are refused and the size checked.
The dashboard shows both escaped (Jinja autoescape), never as HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.errors import InputError
from rules.config import PostingWindowSettings
from rules.workdays import WorkCalendar
from storage import announcements as store
from storage.job_runs import claim_run, finish_run
from storage.models import AnnouncementRow
from storage.outbox import enqueue

log = logging.getLogger(__name__)

#: WeCom's group robot limits: text 2048 bytes, markdown 4096 bytes (UTF-8).
MAX_BYTES = {"text": 2048, "markdown": 4096}
#: An occurrence not posted within this long (e.g. it fell on a long holiday) is dropped.
GRACE = timedelta(hours=24)


class AnnouncementError(InputError):
    """Bad announcement input; the message names the field."""


def validate(
    config: AppConfig, *, title: str, body: str, fmt: str, chat_ids: Iterable[str], run_at: datetime | None,
    cron: str | None, allowed: Iterable[str] | None,
) -> dict[str, Any]:
    """Check a new announcement; return its column values or raise AnnouncementError naming the field."""
    # Browsers submit a textarea's line breaks as CRLF; WeCom wants LF.
    title, body = title.strip(), body.replace("\r\n", "\n").strip()
    if not 1 <= len(title) <= 100 or not title.isprintable():
        raise AnnouncementError("title: 1-100 printable characters")
    if fmt not in MAX_BYTES:
        raise AnnouncementError("format: must be text or markdown")
    if not body:
        raise AnnouncementError("body: empty")
    if any(ord(ch) < 32 and ch not in "\n\t" or ord(ch) == 127 for ch in body):
        raise AnnouncementError("body: contains control characters")
    if len(body.encode()) > MAX_BYTES[fmt]:
        raise AnnouncementError(f"body: {len(body.encode())} bytes; WeCom {fmt} takes at most {MAX_BYTES[fmt]}")
    chats = list(dict.fromkeys(chat_ids))
    if not chats:
        raise AnnouncementError("groups: choose at least one group")
    for chat_id in chats:
        group = config.group(chat_id)
        if group is None:
            raise AnnouncementError(f"groups: {chat_id[:64]!r} is not a configured group")
        if allowed is not None and chat_id not in set(allowed):
            raise AnnouncementError(f"groups: {chat_id[:64]!r} is not a group you manage")
        if not group.robot:
            raise AnnouncementError(f"groups: {group.name} has no robot to post with")
    if (run_at is None) == (not cron):
        raise AnnouncementError("schedule: give either a time (once) or a cron expression")
    if cron:
        try:
            CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise AnnouncementError(f"cron: {exc}") from None
    return {"title": title, "body": body, "format": fmt, "chat_ids": chats, "run_at": run_at,
            "cron": cron or None}


def payload(row: AnnouncementRow) -> dict[str, Any]:
    if row.format == "markdown":
        return {"msgtype": "markdown", "markdown": {"content": row.body}}
    return {"msgtype": "text", "text": {"content": row.body}}


def occurrence(row: AnnouncementRow, *, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The occurrence due at `now` (within GRACE before it), or None."""
    if row.run_at is not None:
        return row.run_at if now - GRACE <= row.run_at <= now else None
    trigger = CronTrigger.from_crontab(row.cron or "", timezone=tz)
    latest, fire = None, trigger.get_next_fire_time(None, now - GRACE)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


def next_occurrence(row: AnnouncementRow, *, now: datetime, tz: ZoneInfo) -> datetime | None:
    """When the announcement fires next (the dashboard's "下次发送"), None when never again."""
    if row.run_at is not None:
        return row.run_at if row.run_at > now else None
    return CronTrigger.from_crontab(row.cron or "", timezone=tz).get_next_fire_time(None, now)


def in_window(settings: PostingWindowSettings, calendar: WorkCalendar, now: datetime) -> bool:
    """Whether the bot may post now by the group's posting-window rule (always, when it is off)."""
    if not settings.enabled:
        return True
    local = now.astimezone(ZoneInfo(settings.timezone))
    if settings.workdays_only and not calendar.is_workday(local.date()):
        return False
    return any(w.start <= local.time() < w.end for w in settings.windows)


def post_due(
    session_factory: sessionmaker[Session], config: AppConfig, *, now: datetime, owner: str,
) -> int:
    """Post every due occurrence this replica wins; returns how many announcements it posted."""
    tz = ZoneInfo(config.schedules.timezone)
    pw = config.rules.posting_window
    calendar = WorkCalendar(pw.extra_holidays, pw.extra_workdays)
    posted = 0
    with session_factory() as session:
        rows = store.active(session)  # detached with their loaded values when the session closes
    for row in rows:
        when = occurrence(row, now=now, tz=tz)
        if when is None:
            continue
        groups = [g for c in row.chat_ids if (g := config.group(c)) is not None and g.robot]
        window = [g for g in groups if in_window(config.rules.with_overrides(g.rules).posting_window, calendar, now)]
        if len(window) < len(groups):
            continue  # wait until every target group may be posted to: one occurrence, one claim
        period = when.astimezone(tz).isoformat(timespec="minutes")
        with session_factory() as session:
            if not claim_run(session, job=f"announcement:{row.id}", period=period, owner=owner, now=now):
                session.rollback()
                continue
            current = session.get(AnnouncementRow, row.id)
            if current is None or current.status != "active":  # paused or deleted meanwhile
                session.rollback()
                continue
            for group in groups:
                enqueue(session, key=f"announcement:{row.id}:{period}:{group.chat_id}", channel="robot",
                        target=group.robot or "", payload=payload(current), now=now)
            finish_run(session, job=f"announcement:{row.id}", period=period, now=now, detail=f"{len(groups)} group(s)")
            session.commit()
        posted += 1
        log.info("announcement %d occurrence %s posted by %s to %d group(s)", row.id, period, owner, len(groups))
    return posted
