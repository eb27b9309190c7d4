"""Targets and 达成率: what each rep and group should reach per month or quarter, and how far they are.

A target comes from config.yaml `targets:` (standing: it applies to every month or quarter) unless an
admin set one on the dashboard for that exact period ('2026-11', '2026-Q4'), which replaces it. The
four metrics are the leaderboard's own numbers over the period so far: deal amount (yuan), deal
count, new clients (clients whose first follow-up report falls in the period) and complete
follow-up reports. 达成率 = actual / target, per metric; where one number is shown (a leaderboard
line, the chart mark), it is the first metric the target sets, in `TARGET_METRICS` order, of the
month target (else the quarter target).

Example line: `11月目标 成交金额 ¥45,000/¥100,000（45%） 新客户 3/10（30%）`
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import TARGET_METRICS, AppConfig
from handlers.directory import people
from storage import reports
from storage import targets as target_store

METRIC_LABELS = {
    "deal_amount": "成交金额",
    "deal_count": "成交单数",
    "new_clients": "新客户",
    "complete_reports": "完整跟进",
}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Period:
    """A calendar month ('2026-11') or quarter ('2026-Q4') in the business time zone."""

    label: str
    kind: str  # month | quarter
    first: date
    following: date  # first day of the next period

    @property
    def title(self) -> str:
        return f"{self.first.month}月" if self.kind == "month" else f"Q{(self.first.month - 1) // 3 + 1}"

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return datetime.combine(self.first, time(0), tzinfo=tz), datetime.combine(self.following, time(0), tzinfo=tz)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """'2026-11' or '2026-Q4' -> Period; ValueError naming the expected shapes otherwise."""
    text = text.strip()
    if m := _MONTH.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"month must be 01 to 12, got {text!r}")
        first = date(year, month, 1)
        return Period(text, "month", first, _add_months(first, 1))
    if m := _QUARTER.match(text):
        first = date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        return Period(text, "quarter", first, _add_months(first, 3))
    raise ValueError(f"period must look like 2026-11 (a month) or 2026-Q4 (a quarter), got {text!r}")


def period_containing(day: date, kind: str) -> Period:
    if kind == "month":
        return parse_period(f"{day:%Y-%m}")
    return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


@dataclass(frozen=True)
class MetricProgress:
    metric: str
    actual: int
    target: int

    @property
    def label(self) -> str:
        return METRIC_LABELS[self.metric]

    @property
    def ratio(self) -> float:
        return self.actual / self.target

    def text(self) -> str:
        money = self.metric == "deal_amount"
        actual = f"¥{self.actual:,}" if money else str(self.actual)
        target = f"¥{self.target:,}" if money else str(self.target)
        return f"{self.label} {actual}/{target}（{self.ratio:.0%}）"


@dataclass(frozen=True)
class Progress:
    scope: str  # rep | group
    subject: str  # userid | chat_id
    name: str
    period: Period
    metrics: tuple[MetricProgress, ...]
    #: config (standing target) | dashboard (set for this period)
    source: str

    @property
    def headline(self) -> MetricProgress:
        return self.metrics[0]

    def text(self) -> str:
        return f"{self.period.title}目标 " + " ".join(m.text() for m in self.metrics)


InForce = dict[tuple[str, str], tuple[dict[str, int], str]]


def targets_for(session: Session, config: AppConfig, period: Period) -> InForce:
    """(scope, subject) -> (metric -> target, source) in force for `period`."""
    out: InForce = {}
    for target in config.targets:
        if target.period == period.kind:
            out[(target.scope, target.subject)] = (target.metrics(), "config")
    for row in target_store.overrides_for(session, periods=[period.label]):
        metrics = {m: v for m in TARGET_METRICS if (v := getattr(row, m)) is not None}
        if metrics:
            out[(row.scope, row.subject)] = (metrics, "dashboard")
        else:
            # An override with no metric clears the standing target for that period.
            out.pop((row.scope, row.subject), None)
    return out


def _actuals(
    session: Session, *, start: datetime, end: datetime, chat_id: str | None
) -> tuple[dict[str, dict[str, int]], set[str]]:
    """Per rep metric values in `[start, end)` (one group, or company-wide), and who posted there."""
    activity = reports.rep_activity(session, start=start, end=end, chat_id=chat_id)
    fresh = target_store.new_clients(session, start=start, end=end, chat_id=chat_id)
    out: dict[str, dict[str, int]] = {}
    for userid in set(activity) | set(fresh):
        a = activity.get(userid, reports.RepActivity(userid))
        out[userid] = {
            "deal_amount": a.deal_amount,
            "deal_count": a.deals,
            "new_clients": fresh.get(userid, 0),
            "complete_reports": a.complete_reports,
        }
    active = set(out)
    if chat_id is not None:
        active |= reports.posters(session, chat_id=chat_id, start=start, end=end)
    return out, active


def _sum(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(TARGET_METRICS, 0)
    for row in rows:
        for metric, value in row.items():
            total[metric] += value
    return total


def progress(
    session: Session,
    config: AppConfig,
    *,
    period: Period,
    until: datetime | None = None,
    scope: frozenset[str] | None = None,
    reps: Iterable[str] | None = None,
) -> list[Progress]:
    """Every target in force for `period` with its actuals from the period's start to `until`.

    `scope` (a manager's chat ids; None = company-wide) limits both which targets are listed (groups
    in scope, reps active in them) and what is counted (only those groups' messages). `reps` limits
    the rep targets to these userids (a rep asking about themself).
    """
    tz = ZoneInfo(config.schedules.timezone)
    start, end = period.bounds(tz)
    if until is not None:
        end = max(start, min(end, until))
    wanted = targets_for(session, config, period)
    if reps is not None:
        only = set(reps)
        wanted = {k: v for k, v in wanted.items() if k[0] == "group" or k[1] in only}
    if not wanted:
        return []
    group_ids = {s for (kind, s) in wanted if kind == "group" and (scope is None or s in scope)}
    per_group: dict[str, tuple[dict[str, dict[str, int]], set[str]]] = {}
    for chat_id in sorted(group_ids | (set(scope) if scope is not None else set())):
        per_group[chat_id] = _actuals(session, start=start, end=end, chat_id=chat_id)
    if scope is None:
        rep_values, _ = _actuals(session, start=start, end=end, chat_id=None)
        visible_reps = None
    else:
        rep_values = {}
        visible_reps = set()
        for chat_id in scope:
            values, active = per_group.get(chat_id, ({}, set()))
            visible_reps |= active
            for userid, row in values.items():
                rep_values[userid] = _sum([rep_values.get(userid, {}), row])
    rep_ids = [s for (kind, s) in wanted if kind == "rep" and (visible_reps is None or s in visible_reps)]
    names = {u: p.name for u, p in people(session, config, rep_ids).items()}
    out: list[Progress] = []
    for (kind, subject), (metrics, source) in wanted.items():
        if kind == "group":
            if subject not in group_ids:
                continue
            actual = _sum(per_group[subject][0].values())
            group = config.group(subject)
            name = group.name if group else subject
        else:
            if subject not in names:
                continue
            actual = rep_values.get(subject, dict.fromkeys(TARGET_METRICS, 0))
            name = names[subject]
        measured = tuple(MetricProgress(m, actual.get(m, 0), metrics[m]) for m in TARGET_METRICS if m in metrics)
        out.append(Progress(kind, subject, name, period, measured, source))
    out.sort(key=lambda p: (p.scope != "group", -p.headline.ratio, p.subject))
    return out


def rep_headlines(
    session: Session, config: AppConfig, userids: Iterable[str], *, day: date, until: datetime
) -> dict[str, Progress]:
    """Each rep's month target progress (else quarter) as of `until`, company-wide; reps without one
    are left out."""
    ids = list(userids)
    out: dict[str, Progress] = {}
    for kind in ("quarter", "month"):  # month last: it wins where both exist
        for p in progress(session, config, period=period_containing(day, kind), until=until, reps=ids):
            if p.scope == "rep":
                out[p.subject] = p
    return out


def own_progress_lines(session: Session, config: AppConfig, userid: str, *, now: datetime) -> list[str]:
    """A rep's own progress on every target in force now (month and quarter), one line each."""
    day = now.astimezone(ZoneInfo(config.schedules.timezone)).date()
    lines = []
    for kind in ("month", "quarter"):
        for p in progress(session, config, period=period_containing(day, kind), until=now, reps=[userid]):
            if p.scope == "rep" and p.subject == userid:
                lines.append(p.text())
    return lines
