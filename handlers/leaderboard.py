"""The weekly leaderboard: reps ranked by deal amount, then complete follow-up reports.

Monday 09:30 each group's robot posts last week's (Monday–Sunday, Asia/Shanghai) ranking as markdown
plus a bar chart, and the managers get the company-wide ranking. Ties share a rank ("1, 2, 2, 4");
void violations do not count; group managers are not ranked. Example line:
`1. **张伟** 成交 ¥80,000（2单） 完整跟进 5 违规 1 ↑2`
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from bot.config import AppConfig
from handlers import targets
from handlers.charts import Bar, leaderboard_figure, render_png
from handlers.directory import people
from handlers.wording import AMOUNT_PENDING, deals_text, md
from storage import reports
from storage.outbox import enqueue

#: WeCom markdown limits (bytes of UTF-8): group robot 4096, app message/send 2048.
MAX_MARKDOWN_BYTES = 4096
MAX_APP_MARKDOWN_BYTES = 2048
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Standing:
    rank: int
    userid: str
    name: str
    deal_amount: int
    deals: int
    complete_reports: int
    reports: int
    violations: int
    #: Places gained since last week (negative: lost); None when the rep was not ranked then.
    change: int | None
    #: Deals whose amount is 金额待确认: counted in `deals`, never in `deal_amount` or the ranking.
    pending_deals: int = 0
    #: 达成率 of the rep's month (else quarter) target up to the week's end, e.g. ("11月", 0.45).
    target: tuple[str, float] | None = None


@dataclass(frozen=True)
class Leaderboard:
    week: str
    start: date
    end: date  # inclusive (the Sunday)
    scope: str  # the group's name, or 全公司
    chat_id: str | None
    standings: tuple[Standing, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "scope": self.scope,
            "chat_id": self.chat_id,
            "standings": [asdict(s) for s in self.standings],
        }


def parse_week(text: str) -> tuple[int, int]:
    """'2026-W47' -> (2026, 47); ValueError naming the expected shape otherwise."""
    m = _WEEK.match(text.strip())
    if not m:
        raise ValueError(f"week must look like 2026-W47, got {text!r}")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{text.strip()} does not exist (weeks look like 2026-W47, 01 to 52 or 53)") from None
    return year, week


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(now: datetime, tz: ZoneInfo) -> str:
    """The ISO week before the one `now` falls in (local time): what Monday's post reports on."""
    return week_label(now.astimezone(tz).date() - timedelta(days=7))


def week_range(week: str, tz: ZoneInfo) -> tuple[date, datetime, datetime]:
    """Monday of `week` and the aware `[Monday 00:00, next Monday 00:00)` range in `tz`."""
    year, num = parse_week(week)
    monday = date.fromisocalendar(year, num, 1)
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    return monday, start, end


def rank(
    activity: dict[str, reports.RepActivity], excluded: frozenset[str]
) -> list[tuple[int, reports.RepActivity]]:
    """Competition ranking ("1, 2, 2, 4") by (amount, complete reports); fewer violations list first."""
    reps = [a for uid, a in activity.items() if uid not in excluded]
    reps.sort(key=lambda a: (-a.deal_amount, -a.complete_reports, a.violations, a.userid))
    out: list[tuple[int, reports.RepActivity]] = []
    for i, rep in enumerate(reps):
        tied = out and (out[-1][1].deal_amount, out[-1][1].complete_reports) == (
            rep.deal_amount,
            rep.complete_reports,
        )
        out.append((out[-1][0] if tied else i + 1, rep))
    return out


def managers(config: AppConfig, chat_id: str | None) -> frozenset[str]:
    if chat_id is None:
        return frozenset(m for g in config.groups for m in g.managers)
    group = config.group(chat_id)
    return frozenset(group.managers) if group else frozenset()


def build(session: Session, config: AppConfig, *, week: str, chat_id: str | None = None) -> Leaderboard:
    """The ranking of `week` for one group (or company-wide), with each rep's change in rank."""
    tz = ZoneInfo(config.schedules.timezone)
    monday, start, end = week_range(week, tz)
    excluded = managers(config, chat_id)
    current = rank(reports.rep_activity(session, start=start, end=end, chat_id=chat_id), excluded)
    last = rank(
        reports.rep_activity(session, start=start - timedelta(days=7), end=start, chat_id=chat_id), excluded
    )
    last_rank = {rep.userid: place for place, rep in last}
    names = {u: p.name for u, p in people(session, config, [rep.userid for _, rep in current]).items()}
    goals = targets.rep_headlines(
        session, config, [rep.userid for _, rep in current], day=monday + timedelta(days=6), until=end
    )
    standings = tuple(
        Standing(
            rank=place,
            userid=rep.userid,
            name=names[rep.userid],
            deal_amount=rep.deal_amount,
            deals=rep.deals,
            complete_reports=rep.complete_reports,
            reports=rep.reports,
            violations=rep.violations,
            change=(last_rank[rep.userid] - place) if rep.userid in last_rank else None,
            pending_deals=rep.pending_deals,
            target=(goals[rep.userid].period.title, goals[rep.userid].headline.ratio)
            if rep.userid in goals else None,
        )
        for place, rep in current
    )
    group = config.group(chat_id) if chat_id else None
    scope = group.name if group else ("全公司" if chat_id is None else chat_id)
    return Leaderboard(week, monday, monday + timedelta(days=6), scope, chat_id, standings)


def _change(change: int | None) -> str:
    if change is None:
        return "🆕"
    if change > 0:
        return f"↑{change}"
    if change < 0:
        return f"↓{-change}"
    return "—"


def render_markdown(board: Leaderboard, *, limit: int = MAX_MARKDOWN_BYTES) -> str:
    """WeCom markdown within `limit` bytes (the tail is cut, with a count of the rest)."""
    head = (
        f"### {md(board.scope)} 销售周榜 {board.week}\n"
        f"> {board.start:%m月%d日}—{board.end:%m月%d日}　按成交金额、完整跟进数排名\n"
    )
    if not board.standings:
        return head + "\n本周暂无成交、跟进或违规记录。"
    lines = []
    for s in board.standings:
        color = "info" if s.rank <= 3 else "comment"
        lines.append(
            f"{s.rank}. **{md(s.name)}** "
            f"<font color=\"{color}\">{deals_text(s.deal_amount, s.deals, s.pending_deals)}</font>"
            f" 完整跟进 {s.complete_reports}/{s.reports} 违规 {s.violations} {_change(s.change)}"
            + (f" {s.target[0]}目标达成 {s.target[1]:.0%}" if s.target else "")
        )
    text = head + "\n".join(lines)
    while len(text.encode()) > limit and lines:
        lines.pop()
        text = head + "\n".join(lines) + f"\n……另有 {len(board.standings) - len(lines)} 人"
    return text


def chart_figure(board: Leaderboard) -> Figure:
    """The top 20 as bars (more would not be legible in a chat bubble)."""
    # The change against last week's rank, as in the markdown (a new name has none to show).
    bars = [
        Bar(f"{s.rank}. {s.name}" + (f" {_change(s.change)}" if s.change else ""), s.deal_amount, s.complete_reports,
            s.violations, AMOUNT_PENDING if s.deals and s.pending_deals >= s.deals else None,
            target_ratio=s.target[1] if s.target else None)
        for s in board.standings[:20]
    ]
    return leaderboard_figure(bars, title=f"{board.scope} 销售周榜 {board.week}")


def chart_png(board: Leaderboard) -> bytes:
    return render_png(chart_figure(board))


def image_payload(png: bytes) -> dict[str, Any]:
    """The robot's image message: base64 plus the MD5 of the raw bytes."""
    return {
        "msgtype": "image",
        "image": {"base64": base64.b64encode(png).decode("ascii"), "md5": hashlib.md5(png).hexdigest()},
    }


def markdown_payload(text: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": text}}


def period(now: datetime, tz: ZoneInfo) -> str:
    """The scheduler's claim key: the week being reported."""
    return previous_week(now, tz)


def post_weekly(session: Session, config: AppConfig, *, now: datetime) -> int:
    """Queue last week's leaderboards: markdown + chart per group robot, company-wide to managers."""
    week = previous_week(now, ZoneInfo(config.schedules.timezone))
    queued = 0
    for group in config.groups:
        if not group.robot:
            continue
        board = build(session, config, week=week, chat_id=group.chat_id)
        key = f"leaderboard:{week}:{group.chat_id}"
        md = markdown_payload(render_markdown(board))
        md_item = enqueue(session, key=f"{key}:md", channel="robot", target=group.robot, payload=md, now=now)
        queued += md_item is not None
        image = image_payload(chart_png(board))
        queued += (
            enqueue(session, key=f"{key}:png", channel="robot", target=group.robot, payload=image, now=now) is not None
        )
    everyone = sorted(managers(config, None))
    if everyone:
        board = build(session, config, week=week, chat_id=None)
        payload = markdown_payload(render_markdown(board, limit=MAX_APP_MARKDOWN_BYTES))
        item = enqueue(
            session,
            key=f"leaderboard:{week}:company",
            channel="app",
            target="|".join(everyone),
            payload=payload,
            now=now,
        )
        queued += item is not None
    return queued
