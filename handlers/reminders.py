"""Follow-up reminders: each morning every rep gets, in one app message, the clients whose planned
next step is due today or overdue, with the step itself.

Example: `【今日待跟进】1. 华星科技 王总：发送报价单（今天到期）`
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import AppConfig
from handlers.periods import truncate_utf8
from storage.clients import due_follow_ups
from storage.models import ClientRow
from storage.outbox import enqueue

#: message/send text content limit (bytes).
MAX_TEXT_BYTES = 2048


def client_title(client: ClientRow) -> str:
    parts = [p for p in (client.company, client.name) if p]
    return " ".join(parts) or f"客户#{client.id}"


def due_note(due: date, today: date) -> str:
    late = (today - due).days
    return "今天到期" if late == 0 else f"已逾期{late}天，原定{due:%m月%d日}"


def follow_up_line(index: int, client: ClientRow, today: date) -> str:
    plan = client.next_action or "（未写下一步计划）"
    return f"{index}. {client_title(client)}：{plan}（{due_note(client.next_action_due, today)}）"


def reminder_text(clients: Sequence[ClientRow], today: date) -> str:
    """The rep's list, most overdue first."""
    lines = [f"【今日待跟进】你有 {len(clients)} 个客户需要跟进："]
    lines += [follow_up_line(i, c, today) for i, c in enumerate(clients, 1)]
    lines.append("跟进后请在群里按模板发【跟进】报告，提醒会自动更新。")
    return truncate_utf8("\n".join(lines), MAX_TEXT_BYTES)


def by_owner(clients: Sequence[ClientRow]) -> dict[str, list[ClientRow]]:
    out: dict[str, list[ClientRow]] = {}
    for c in clients:
        if c.owner:
            out.setdefault(c.owner, []).append(c)
    return out


def send_reminders(session: Session, config: AppConfig, *, now: datetime) -> int:
    """Queue one reminder per rep with follow-ups due on or before today (local date)."""
    today = now.astimezone(ZoneInfo(config.schedules.timezone)).date()
    queued = 0
    for owner, clients in by_owner(due_follow_ups(session, on_or_before=today)).items():
        payload = {"msgtype": "text", "text": {"content": reminder_text(clients, today)}}
        item = enqueue(session, key=f"reminders:{today}:{owner}", channel="app", target=owner, payload=payload, now=now)
        queued += item is not None
    return queued
