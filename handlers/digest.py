"""The daily digest to each group's managers (default 17:30): today's violations by rule and by
member, the follow-up reports received, and the longest-overdue follow-ups.

Example opening: `### 华东销售群 今日汇总 11月23日`
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import AppConfig, GroupConfig
from handlers import targets
from handlers.directory import people
from handlers.periods import day_range, truncate_utf8
from handlers.reminders import client_title
from handlers.wording import AMOUNT_PENDING, md, rule_name
from storage import reports
from storage.outbox import enqueue

#: message/send markdown content limit (bytes).
MAX_MARKDOWN_BYTES = 2048
TOP_OVERDUE = 5


def digest_markdown(session: Session, config: AppConfig, group: GroupConfig, *, now: datetime) -> str:
    tz = ZoneInfo(config.schedules.timezone)
    today = now.astimezone(tz).date()
    start, end = day_range(today, tz)
    violations = reports.violation_counts(session, start=start, end=end, chat_id=group.chat_id)
    activity = reports.rep_activity(session, start=start, end=end, chat_id=group.chat_id)
    overdue = reports.overdue_follow_ups(session, today=today, chat_id=group.chat_id, limit=TOP_OVERDUE)
    ids = {s for s, _, _ in violations} | set(activity) | {c.owner for c in overdue if c.owner}
    # Names, client titles and plans come from reps and WeCom: escaped for WeCom markdown.
    names = {u: md(p.name) for u, p in people(session, config, ids).items()}

    lines = [f"### {md(group.name)} 今日汇总 {today:%m月%d日}"]
    by_rule: Counter[str] = Counter()
    by_member: Counter[str] = Counter()
    for sender, rule, count in violations:
        by_rule[rule] += count
        by_member[sender] += count
    total = sum(by_rule.values())
    lines.append(f"**违规** {total} 条")
    if total:
        lines.append("> 按规则：" + "，".join(f"{rule_name(config, r)} {n}" for r, n in by_rule.most_common()))
        lines.append("> 按成员：" + "，".join(f"{names[u]} {n}" for u, n in by_member.most_common()))
    sent = sum(a.reports for a in activity.values())
    complete = sum(a.complete_reports for a in activity.values())
    lines.append(f"**跟进报告** 收到 {sent} 份，完整 {complete} 份")
    reporters = sorted((a for a in activity.values() if a.reports), key=lambda a: -a.reports)
    if reporters:
        lines.append("> " + "，".join(f"{names[a.userid]} {a.complete_reports}/{a.reports}" for a in reporters))
    deals = sum(a.deals for a in activity.values())
    if deals:
        amount = sum(a.deal_amount for a in activity.values())
        pending = sum(a.pending_deals for a in activity.values())
        if pending >= deals:
            lines.append(f"**成交** {deals} 单，{AMOUNT_PENDING}")
        else:
            tail = f"（其中{pending}单{AMOUNT_PENDING}）" if pending else ""
            lines.append(f"**成交** {deals} 单，¥{amount:,}{tail}")
    goals = targets.progress(
        session, config, period=targets.period_containing(today, "month"), until=end,
        scope=frozenset({group.chat_id}),
    )
    if goals:
        lines.append(f"**{goals[0].period.title}目标达成**（截至今日）")
        lines += [f"> {md(p.name)}：" + " ".join(m.text() for m in p.metrics) for p in goals]
    if overdue:
        lines.append(f"**逾期未跟进（前{len(overdue)}）**")
        for c in overdue:
            late = (today - c.next_action_due).days
            owner = names.get(c.owner, md(c.owner) or "未分配")
            lines.append(f"- {md(client_title(c))}（{owner}，逾期{late}天）：{md(c.next_action) or '未写计划'}")
    return truncate_utf8("\n".join(lines), MAX_MARKDOWN_BYTES)


def send_digests(session: Session, config: AppConfig, *, now: datetime) -> int:
    """Queue the day's digest of each group to its managers (groups without managers are skipped)."""
    today = now.astimezone(ZoneInfo(config.schedules.timezone)).date()
    queued = 0
    for group in config.groups:
        if not group.managers:
            continue
        payload: dict[str, Any] = {
            "msgtype": "markdown",
            "markdown": {"content": digest_markdown(session, config, group, now=now)},
        }
        item = enqueue(
            session,
            key=f"digest:{today}:{group.chat_id}",
            channel="app",
            target="|".join(group.managers),
            payload=payload, now=now,
        )
        queued += item is not None
    return queued
