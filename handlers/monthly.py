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

from bot.config import AppConfig
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
    names = {u: p.name for u, p in people(session, config, ids).items()}
    rows = []
    for userid in ids:
        a = activity.get(userid, reports.RepActivity(userid))
        on_time, late = timely.get(userid, (0, 0))
        rows.append(
            RepMonth(
                userid, names[userid], a.reports, a.complete_reports, a.deals, a.deal_amount,
                dict(a.violations_by_rule), on_time, late, a.pending_deals,
            )
        )
    rows.sort(key=lambda r: (-r.deal_amount, -r.complete_reports, r.userid))
    return rows


def write_xlsx(rows: list[RepMonth], path: Path, *, month: date, config: AppConfig) -> Path:
    """One sheet, one row per rep, a column per rule; written atomically (temp file, then rename)."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"{month:%Y-%m}"
    known = list(config.templates.rule_names)
    rules = known + sorted({r for row in rows for r in row.violations_by_rule} - set(known))
    header = ["姓名", "userid", "跟进报告", "完整报告", "完整率", "成交单数", "成交金额(元)", "金额待确认单数"]
    header += ["违规合计"]
    header += [f"违规:{rule_name(config, r)}" for r in rules] + ["按时跟进", "逾期跟进"]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(
            [r.name, r.userid, r.reports, r.complete_reports, round(r.complete_share, 4), r.deals,
             AMOUNT_PENDING if r.deals and r.pending_deals >= r.deals else r.deal_amount,
             r.pending_deals, r.violations, *(r.violations_by_rule.get(rule, 0) for rule in rules), r.on_time, r.late]
        )
        ws.cell(row=ws.max_row, column=5).number_format = "0.0%"
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


def report_file_name(month: date) -> str:
    return f"monthly-{month:%Y-%m}.xlsx"


def send_monthly(session: Session, config: AppConfig, *, now: datetime) -> int:
    """Write last month's XLSX and queue the summary with its link to every group manager."""
    month = previous_month(now, ZoneInfo(config.schedules.timezone))
    rows = evaluate(session, config, month=month)
    name = report_file_name(month)
    write_xlsx(rows, Path(config.schedules.reports_dir) / name, month=month, config=config)
    recipients = sorted(managers(config, None))
    if not recipients:
        return 0
    link = f"{config.schedules.reports_url.rstrip('/')}/{name}"
    payload = {"msgtype": "markdown", "markdown": {"content": summary_markdown(rows, month=month, link=link)}}
    item = enqueue(session, key=f"monthly:{month:%Y-%m}", channel="app", target="|".join(recipients), payload=payload)
    return int(item is not None)
