"""Ask the bot: a rep's direct message to the app gets an immediate answer through the outbox.

`我的待办` lists their due and overdue follow-ups, `本周排名` their rank so far this week, `规则` the
rules in force in their groups; anything else gets a short help text. Example: a rep writes
"我的待办" and receives "【我的待办】1. 华星科技 王总：发送报价单（今天到期）".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import AppConfig, GroupConfig
from handlers.appeals import file_appeal
from handlers.context import HandlerContext
from handlers.leaderboard import build, week_label
from handlers.periods import truncate_utf8
from handlers.reminders import MAX_TEXT_BYTES, follow_up_line
from handlers.targets import own_progress_lines
from rules.model import GroupMessage
from storage import inbox, reports
from storage.clients import due_follow_ups
from storage.outbox import enqueue

APPEAL_PREFIX = "申诉"
#: A member's groups are those they posted in within this many days.
MEMBERSHIP_DAYS = 30

HELP = (
    "你好，我是销售群助手。可以发送：\n"
    "· 我的待办 —— 今天到期和逾期的客户跟进\n"
    "· 本周排名 —— 你本周到目前为止的排名\n"
    "· 规则 —— 你所在群的群规\n"
    "· 申诉 理由 —— 对你最近一条违规提出申诉"
)

KIND_LABELS = {
    "mobile": "手机号",
    "id_card": "身份证号",
    "bank_card": "银行卡号",
    "email": "邮箱",
    "im_account": "微信/QQ号",
    "financial": "客户财务状况",
}


def todo_text(
    session: Session, userid: str, now: datetime, tz: ZoneInfo, config: AppConfig | None = None
) -> str:
    today = now.astimezone(tz).date()
    clients = due_follow_ups(session, on_or_before=today, owner=userid)
    if not clients:
        lines = ["【我的待办】今天没有到期或逾期的客户跟进。"]
    else:
        lines = [f"【我的待办】{len(clients)} 个客户需要跟进："]
        lines += [follow_up_line(i, c, today) for i, c in enumerate(clients, 1)]
    if config is not None:
        # Right under the heading: a long follow-up list is cut from the end to fit one message.
        lines[1:1] = [f"· {line}" for line in own_progress_lines(session, config, userid, now=now)]
    return "\n".join(lines)


def rank_text(session: Session, config: AppConfig, userid: str, now: datetime, tz: ZoneInfo) -> str:
    week = week_label(now.astimezone(tz).date())
    scopes = [(g.name, g.chat_id) for g in member_groups(session, config, userid, now)] + [("全公司", None)]
    lines = [f"【本周排名】{week}（截至目前）"]
    for title, chat_id in scopes:
        board = build(session, config, week=week, chat_id=chat_id)
        mine = next((s for s in board.standings if s.userid == userid), None)
        if mine is None:
            lines.append(f"{title}：本周还没有你的成交或跟进记录")
        else:
            lines.append(
                f"{title}：第 {mine.rank}/{len(board.standings)} 名，成交 ¥{mine.deal_amount:,}（{mine.deals}单），"
                f"完整跟进 {mine.complete_reports}，违规 {mine.violations}"
            )
    lines += own_progress_lines(session, config, userid, now=now)
    return "\n".join(lines)


def member_groups(session: Session, config: AppConfig, userid: str, now: datetime) -> list[GroupConfig]:
    """Configured groups the member posted in lately, or all of them when we have not seen them yet."""
    since = now - timedelta(days=MEMBERSHIP_DAYS)
    seen = [g for g in config.groups if userid in reports.posters(session, chat_id=g.chat_id, start=since, end=now)]
    return seen or list(config.groups)


def rules_text(session: Session, config: AppConfig, userid: str, now: datetime) -> str:
    lines = ["【群规】"]
    for group in member_groups(session, config, userid, now):
        rules = config.rules.with_overrides(group.rules)
        lines.append(f"「{group.name}」")
        pw = rules.posting_window
        if pw.enabled:
            days = "工作日" if pw.workdays_only else "每天"
            windows = "、".join(str(w) for w in pw.windows)
            lines.append(f"· {days} {windows} 可发工作消息，含 {pw.urgent_markers[0]} 的紧急消息不受限"
                         if pw.urgent_markers else f"· {days} {windows} 可发工作消息")
        if rules.frequency.enabled:
            lines.append(f"· 每人每 {rules.frequency.window_minutes} 分钟最多发 {rules.frequency.limit} 条")
        if rules.template.enabled:
            labels = "、".join(f.label for f in rules.template.fields.values())
            lines.append(f"· 跟进报告以 {rules.template.prefixes[0]} 开头，写全：{labels}")
        if rules.sensitive.enabled:
            kinds = "、".join(KIND_LABELS.get(k, k) for k in rules.sensitive.kinds)
            lines.append(f"· 不在群里发客户的{kinds}")
    return "\n".join(lines)


def answer(session: Session, config: AppConfig, msg: GroupMessage) -> str:
    """The reply text for one direct message (commands match after trimming spaces)."""
    tz = ZoneInfo(config.schedules.timezone)
    command = "".join(msg.text.split())
    if command in ("我的待办", "待办"):
        text = todo_text(session, msg.sender, msg.sent_at, tz, config)
    elif command in ("本周排名", "排名"):
        text = rank_text(session, config, msg.sender, msg.sent_at, tz)
    elif command in ("规则", "群规"):
        text = rules_text(session, config, msg.sender, msg.sent_at)
    else:
        text = HELP
    return truncate_utf8(text, MAX_TEXT_BYTES)


def handle_command(
    session: Session, ctx: HandlerContext, msg: GroupMessage, *, inbox_event_id: int | None = None
) -> None:
    """Queue the answer to a direct message, mark its inbox row done, commit once.

    The reply's idempotency key is the msgid, so a redelivered message is answered once.
    """
    stripped = msg.text.strip()
    if stripped.startswith(APPEAL_PREFIX):
        # 申诉 <理由>: attach an appeal to the rep's latest violation (handlers.appeals).
        reason = stripped[len(APPEAL_PREFIX):]
        text = file_appeal(session, ctx, sender=msg.sender, reason=reason, now=msg.sent_at).reply
    else:
        text = answer(session, ctx.config, msg)
    payload = {"msgtype": "text", "text": {"content": text}}
    enqueue(session, key=f"command:{msg.msgid}", channel="app", target=msg.sender, payload=payload, now=ctx.clock())
    if inbox_event_id is not None:
        inbox.mark_done(session, inbox_event_id, now=ctx.clock())
    session.commit()
