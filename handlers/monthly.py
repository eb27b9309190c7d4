"""The monthly evaluation (绩效评估) for managers, on the first workday of each month.

Per rep for last month: follow-up reports sent and the complete share, deals and amount, violations
by rule, and follow-ups done on time vs late. Managers get a markdown summary plus a link to the
full XLSX, written under `schedules.reports_dir` where the dashboard serves it
(`schedules.reports_url` + file name).
"""

from __future__ import annotations

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
from handlers.periods import RULE_LABELS, month_range, previous_month, rule_label, truncate_utf8
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
    #: 达成率 per metric of the rep's target for the month (handlers.targets), when one was set.
    target_ratios: dict[str, float] = field(default_factory=dict)

    @property
    def complete_share(self) -> float:
        return self.complete_reports / self.reports if self.reports else 0.0

    @property
    def violations(self) -> int:
        return sum(self.violations_by_rule.values())


def evaluate(session: Session, config: AppConfig, *, month: date) -> list[RepMonth]:
    """Every rep active in `month` (managers left out), best deal amount first."""
    tz = ZoneInfo(config.schedules.timezone)
    start, end = month_range(month, tz)
    activity = reports.rep_activity(session, start=start, end=end)
    timely = reports.follow_up_timeliness(session, start=start, end=end, tz=tz)
    ids = (set(activity) | set(timely)) - managers(config, None)
    goals = {
        p.subject: {m.metric: m.ratio for m in p.metrics}
        for p in targets.progress(session, config, period=targets.period_containing(month, "month"))
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
                dict(a.violations_by_rule), on_time, late, goals.get(userid, {}),
            )
        )
    rows.sort(key=lambda r: (-r.deal_amount, -r.complete_reports, r.userid))
    return rows


def write_xlsx(rows: list[RepMonth], path: Path, *, month: date) -> Path:
    """One sheet, one row per rep, a column per rule; written atomically (temp file, then rename)."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"{month:%Y-%m}"
    rules = list(RULE_LABELS) + sorted({r for row in rows for r in row.violations_by_rule} - set(RULE_LABELS))
    header = ["姓名", "userid", "跟进报告", "完整报告", "完整率", "成交单数", "成交金额(元)", "违规合计"]
    header += [f"违规:{rule_label(r)}" for r in rules] + ["按时跟进", "逾期跟进"]
    # 达成率 columns only for the metrics some rep had a target on (none without targets).
    goal_metrics = [m for m in TARGET_METRICS if any(m in r.target_ratios for r in rows)]
    header += [f"达成率:{targets.METRIC_LABELS[m]}" for m in goal_metrics]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(
            [r.name, r.userid, r.reports, r.complete_reports, round(r.complete_share, 4), r.deals, r.deal_amount,
             r.violations, *(r.violations_by_rule.get(rule, 0) for rule in rules), r.on_time, r.late,
             *(round(r.target_ratios[m], 4) if m in r.target_ratios else None for m in goal_metrics)]
        )
        ws.cell(row=ws.max_row, column=5).number_format = "0.0%"
        for column in range(len(header) - len(goal_metrics) + 1, len(header) + 1):
            ws.cell(row=ws.max_row, column=column).number_format = "0.0%"
    ws.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def summary_markdown(rows: list[RepMonth], *, month: date, link: str) -> str:
    lines = [f"### {month:%Y年%m月} 销售月度考核", f"共 {len(rows)} 人，[下载完整表格（XLSX）]({link})"]
    for r in rows:
        lines.append(
            f"- **{r.name}** 跟进 {r.reports}（完整 {r.complete_share:.0%}） 成交 {r.deals}单 ¥{r.deal_amount:,}"
            f" 违规 {r.violations} 按时/逾期 {r.on_time}/{r.late}"
        )
    return truncate_utf8("\n".join(lines), MAX_MARKDOWN_BYTES)


def report_file_name(month: date) -> str:
    return f"monthly-{month:%Y-%m}.xlsx"


def send_monthly(session: Session, config: AppConfig, *, now: datetime) -> int:
    """Write last month's XLSX and queue the summary with its link to every group manager."""
    month = previous_month(now, ZoneInfo(config.schedules.timezone))
    rows = evaluate(session, config, month=month)
    name = report_file_name(month)
    write_xlsx(rows, Path(config.schedules.reports_dir) / name, month=month)
    recipients = sorted(managers(config, None))
    if not recipients:
        return 0
    link = f"{config.schedules.reports_url.rstrip('/')}/{name}"
    payload = {"msgtype": "markdown", "markdown": {"content": summary_markdown(rows, month=month, link=link)}}
    item = enqueue(session, key=f"monthly:{month:%Y-%m}", channel="app", target="|".join(recipients), payload=payload)
    return int(item is not None)
