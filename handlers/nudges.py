"""Nudges to reps: clients left too long without an update (by grade), and a missing daily report.

Stale clients: A-grade after 3 days, B after 7, C after 14 (config `schedules.stale_clients.
days_by_grade`), one message per rep listing them. Missing report: a rep active in a group lately
who has sent no follow-up report today gets one reminder before the afternoon window closes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import AppConfig
from handlers.periods import day_range, truncate_utf8
from handlers.reminders import MAX_TEXT_BYTES, by_owner, client_title
from storage import reports
from storage.clients import stale_clients
from storage.models import ClientRow
from storage.outbox import enqueue

#: A member who posted in the group within this many days counts as one of its reps.
ACTIVE_DAYS = 14


def stale_text(clients: list[ClientRow], now: datetime, days_by_grade: dict[str, int], tz: ZoneInfo) -> str:
    lines = [f"【客户久未跟进】以下 {len(clients)} 个客户超过规定天数没有跟进记录："]
    for i, c in enumerate(clients, 1):
        silent = (now.astimezone(tz).date() - c.last_update_at.astimezone(tz).date()).days
        lines.append(f"{i}. {client_title(c)}（{c.grade}级，{silent}天未跟进，要求{days_by_grade[c.grade]}天内）")
    lines.append("请尽快联系客户，并在群里发【跟进】报告。")
    return truncate_utf8("\n".join(lines), MAX_TEXT_BYTES)


def nudge_stale_clients(session: Session, config: AppConfig, *, now: datetime) -> int:
    """Queue one message per rep listing their clients past the grade's silence limit."""
    tz = ZoneInfo(config.schedules.timezone)
    days = dict(config.schedules.stale_clients.days_by_grade)
    today = now.astimezone(tz).date()
    queued = 0
    for owner, clients in by_owner(stale_clients(session, days_by_grade=days, now=now)).items():
        payload = {"msgtype": "text", "text": {"content": stale_text(clients, now, days, tz)}}
        item = enqueue(
            session, key=f"stale_clients:{today}:{owner}", channel="app", target=owner, payload=payload, now=now
        )
        queued += item is not None
    return queued


def missing_report_text(group_names: list[str], deadline: str) -> str:
    where = "、".join(f"「{n}」" for n in group_names)
    return (
        f"【跟进报告提醒】今天还没有收到你在{where}的客户跟进报告。"
        f"请在 {deadline} 前按模板发送：客户姓名、公司名称、联系方式、需求描述、上次沟通时间、下一步行动计划。"
    )


def nudge_missing_reports(session: Session, config: AppConfig, *, now: datetime) -> int:
    """Queue one reminder per rep who was active lately but has sent no report today, in any group."""
    tz = ZoneInfo(config.schedules.timezone)
    today = now.astimezone(tz).date()
    start, end = day_range(today, tz)
    missing: dict[str, list[str]] = {}
    for group in config.groups:
        exempt = set(group.managers) | set(group.exempt) | set(config.rules.policy.exempt_members)
        active = reports.posters(session, chat_id=group.chat_id, start=start - timedelta(days=ACTIVE_DAYS), end=end)
        done = reports.reporters(session, chat_id=group.chat_id, start=start, end=end)
        for userid in sorted(active - done - exempt):
            missing.setdefault(userid, []).append(group.name)
    windows = config.rules.posting_window.windows
    deadline = f"{windows[-1].end:%H:%M}" if windows else "下班"
    queued = 0
    for userid, names in missing.items():
        payload = {"msgtype": "text", "text": {"content": missing_report_text(names, deadline)}}
        item = enqueue(
            session, key=f"missing_report:{today}:{userid}", channel="app", target=userid, payload=payload, now=now
        )
        queued += item is not None
    return queued
