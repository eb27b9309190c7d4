"""The monthly evaluation (绩效评估) for managers, on the first workday of each month.

Per rep for last month: follow-up reports sent and the complete share, deals and amount, violations
by rule, and follow-ups done on time vs late. Managers get a markdown summary plus a link to the
full XLSX: the company-wide file is kept under `schedules.reports_dir`, and the dashboard serves
`{public_url}/dashboard/reports/monthly-YYYY-MM.xlsx` scoped like exports (`evaluate(scope=...)`:
a manager's file has their groups only, an admin's every group).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from bot.config import TARGET_METRICS, AppConfig
from handlers import targets
from handlers.directory import people
from handlers.leaderboard import managers
from handlers.periods import month_range, previous_month, truncate_utf8
from handlers.wording import AMOUNT_PENDING, md, rule_name
from storage import reports
from storage.outbox import enqueue

MAX_MARKDOWN_BYTES = 2048


@dataclass(frozen=True)
class RepMonth:
    userid: str
    name: str
    reports: int
    complete_reports: int
    deals: int
    deal_amount: int
    violations_by_rule: dict[str, int] = field(default_factory=dict)
    on_time: int = 0
    late: int = 0
    #: Deals whose amount is 金额待确认 (not in deal_amount).
    pending_deals: int = 0
    #: 达成率 per metric of the rep's target for the month (handlers.targets), when one was set.
    target_ratios: dict[str, float] = field(default_factory=dict)

    @property
    def complete_share(self) -> float:
        return self.complete_reports / self.reports if self.reports else 0.0

    @property
    def violations(self) -> int:
        return sum(self.violations_by_rule.values())


def _merge(parts: list[dict[str, reports.RepActivity]]) -> dict[str, reports.RepActivity]:
    """Per-group numbers summed per rep (a rep may post in several of a manager's groups)."""
    out: dict[str, reports.RepActivity] = {}
    for part in parts:
        for userid, a in part.items():
            total = out.setdefault(userid, reports.RepActivity(userid))
            total.deals += a.deals
            total.deal_amount += a.deal_amount
            total.reports += a.reports
            total.complete_reports += a.complete_reports
            total.violations += a.violations
            total.pending_deals += a.pending_deals
            for rule, count in a.violations_by_rule.items():
                total.violations_by_rule[rule] = total.violations_by_rule.get(rule, 0) + count
    return out


def evaluate(
    session: Session, config: AppConfig, *, month: date, scope: Collection[str] | None = None
) -> list[RepMonth]:
    """Every rep active in `month` (managers left out), best deal amount first; `scope` limits the
    numbers to those groups' chat ids (None: every group)."""
    tz = ZoneInfo(config.schedules.timezone)
    start, end = month_range(month, tz)
    if scope is None:
        activity = reports.rep_activity(session, start=start, end=end)
    else:
        activity = _merge([reports.rep_activity(session, start=start, end=end, chat_id=c) for c in sorted(scope)])
    timely = reports.follow_up_timeliness(session, start=start, end=end, tz=tz, chat_ids=scope)
    ids = (set(activity) | set(timely)) - managers(config, None)
    goals = {
        p.subject: {m.metric: m.ratio for m in p.metrics}
        for p in targets.progress(session, config, period=targets.period_containing(month, "month"),
                                  scope=frozenset(scope) if scope is not None else None)
        if p.scope == "rep"
    }
    ids |= set(goals) - managers(config, None)
    names = {u: p.name for u, p in people(session, config, ids).items()}
    rows = []
    for userid in ids:
        a = activity.get(userid, reports.RepActivity(userid))
        on_time, late = timely.get(userid, (0, 0))
        rows.append(
            RepMonth(
                userid, names[userid], a.reports, a.complete_reports, a.deals, a.deal_amount,
                dict(a.violations_by_rule), on_time, late, a.pending_deals, goals.get(userid, {}),
            )
        )
    rows.sort(key=lambda r: (-r.deal_amount, -r.complete_reports, r.userid))
    return rows


def write_xlsx(rows: list[RepMonth], path: Path, *, month: date, config: AppConfig) -> Path:
    """`xlsx_bytes` written atomically (temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(xlsx_bytes(rows, month=month, config=config))
    tmp.replace(path)
    return path


def xlsx_bytes(rows: list[RepMonth], *, month: date, config: AppConfig) -> bytes:
    """One sheet, one row per rep, a column per rule."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"{month:%Y-%m}"
    known = list(config.templates.rule_names)
    rules = known + sorted({r for row in rows for r in row.violations_by_rule} - set(known))
    header = ["姓名", "userid", "跟进报告", "完整报告", "完整率", "成交单数", "成交金额(元)", "金额待确认单数"]
    header += ["违规合计"]
    header += [f"违规:{rule_name(config, r)}" for r in rules] + ["按时跟进", "逾期跟进"]
    # 达成率 columns only for the metrics some rep had a target on (none without targets).
    goal_metrics = [m for m in TARGET_METRICS if any(m in r.target_ratios for r in rows)]
    header += [f"达成率:{targets.METRIC_LABELS[m]}" for m in goal_metrics]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(
            [r.name, r.userid, r.reports, r.complete_reports, round(r.complete_share, 4), r.deals,
             AMOUNT_PENDING if r.deals and r.pending_deals >= r.deals else r.deal_amount,
             r.pending_deals, r.violations, *(r.violations_by_rule.get(rule, 0) for rule in rules), r.on_time, r.late,
             *(round(r.target_ratios[m], 4) if m in r.target_ratios else None for m in goal_metrics)]
        )
        ws.cell(row=ws.max_row, column=5).number_format = "0.0%"
        for column in range(len(header) - len(goal_metrics) + 1, len(header) + 1):
            ws.cell(row=ws.max_row, column=column).number_format = "0.0%"
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def summary_markdown(rows: list[RepMonth], *, month: date, link: str) -> str:
    lines = [f"### {month:%Y年%m月} 销售月度考核", f"共 {len(rows)} 人，[下载完整表格（XLSX）]({link})"]
    for r in rows:
        lines.append(
            f"- **{md(r.name)}** 跟进 {r.reports}（完整 {r.complete_share:.0%}） 成交 {r.deals}单 {_amount(r)}"
            f" 违规 {r.violations} 按时/逾期 {r.on_time}/{r.late}"
        )
    return truncate_utf8("\n".join(lines), MAX_MARKDOWN_BYTES)


def _amount(r: RepMonth) -> str:
    """¥150,000; 金额待确认 when no deal's amount could be read (never ¥0)."""
    if r.deals and r.pending_deals >= r.deals:
        return AMOUNT_PENDING
    tail = f"（其中{r.pending_deals}单{AMOUNT_PENDING}）" if r.pending_deals else ""
    return f"¥{r.deal_amount:,}{tail}"


_FILE_NAME = re.compile(r"monthly-(\d{4})-(\d{2})\.xlsx")


def report_file_name(month: date) -> str:
    return f"monthly-{month:%Y-%m}.xlsx"


def month_of_file(name: str) -> date | None:
    """The month a report file name stands for ('monthly-2026-10.xlsx'), None for any other name."""
    match = _FILE_NAME.fullmatch(name)
    if match is None or not 1 <= int(match[2]) <= 12:
        return None
    return date(int(match[1]), int(match[2]), 1)


def report_link(public_url: str, month: date) -> str:
    """Where the dashboard serves the month's report (login required, scoped to the viewer)."""
    return f"{public_url.rstrip('/')}/dashboard/reports/{report_file_name(month)}"


def recipients_by_scope(config: AppConfig) -> dict[frozenset[str], list[str]]:
    """Managers grouped by the set of groups they manage: each set gets its own summary and numbers."""
    out: dict[frozenset[str], list[str]] = {}
    for manager in sorted(managers(config, None)):
        scope = frozenset(g.chat_id for g in config.groups if manager in g.managers)
        out.setdefault(scope, []).append(manager)
    return out


def send_monthly(
    session: Session, config: AppConfig, *, now: datetime, public_url: str = "http://127.0.0.1:8000",
    month: date | None = None,
) -> int:
    """Write last month's company-wide XLSX (or `month`'s) and queue each manager the summary of
    their own groups, with the link the dashboard serves scoped the same way."""
    month = month or previous_month(now, ZoneInfo(config.schedules.timezone))
    write_xlsx(evaluate(session, config, month=month), Path(config.schedules.reports_dir) / report_file_name(month),
               month=month, config=config)
    link = report_link(public_url, month)
    queued = 0
    for scope, recipients in recipients_by_scope(config).items():
        rows = evaluate(session, config, month=month, scope=scope)
        payload = {"msgtype": "markdown", "markdown": {"content": summary_markdown(rows, month=month, link=link)}}
        groups = ",".join(sorted(scope))
        # The key column holds 200 characters; a manager of many groups gets a digest instead.
        if len(groups) > 150:
            groups = hashlib.sha256(groups.encode()).hexdigest()
        key = f"monthly:{month:%Y-%m}:{groups}"
        item = enqueue(session, key=key, channel="app", target="|".join(recipients), payload=payload, now=now)
        queued += item is not None
    return queued
