"""Trends and scorecards: violations per week by rule over 12 weeks (a server-drawn PNG), and a page
per rep (complete-report rate, deals and target progress, violations trend, appeals, overdue next
steps). Everything is scoped to the viewer's groups; a manager only sees reps who posted there."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from bot.web.deps import SessionDep, StateDep, ViewerDep
from handlers import targets, trends
from handlers.charts import render_png, trend_figure
from handlers.periods import month_range
from rules.registry import RULES
from storage import reports, scorecards

router = APIRouter()


def _rep_or_404(session, viewer, userid: str) -> str:
    if not userid or len(userid) > 128 or not scorecards.rep_posted_in_scope(session, scope=viewer.scope,
                                                                             sender=userid):
        # Same answer for "unknown" and "not in your groups": no probing.
        raise HTTPException(404, f"no rep {userid[:64]!r} in your groups")
    return userid


@router.get("/trends.png", include_in_schema=False)
def trend_chart(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    member = request.query_params.get("member") or None
    if member is not None:
        _rep_or_404(session, viewer, member)
    tz = ZoneInfo(state.config.timezone)
    today = state.clock().astimezone(tz).date()
    since, until = trends.window(today, tz)
    rows = scorecards.violation_times(session, scope=viewer.scope, since=since, until=until, sender=member)
    labels, series = trends.weekly_by_rule(rows, today=today, tz=tz, rules=RULES)
    names = state.templates.env.globals["rule_labels"]
    png = render_png(trend_figure(labels, {names.get(r, r): c for r, c in series.items()},
                                  title="近 12 周违规趋势（按规则）"))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/reps/{userid}", response_class=HTMLResponse, include_in_schema=False)
def scorecard(userid: str, request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    _rep_or_404(session, viewer, userid)
    tz = ZoneInfo(state.config.timezone)
    now = state.clock()
    today = now.astimezone(tz).date()
    start, end = month_range(today.replace(day=1), tz)
    month = reports.RepActivity(userid)
    for chat_id in (viewer.scope if viewer.scope is not None else [None]):
        a = reports.rep_activity(session, start=start, end=min(end, now), chat_id=chat_id).get(userid)
        if a is not None:
            month.reports += a.reports
            month.complete_reports += a.complete_reports
            month.deals += a.deals
            month.deal_amount += a.deal_amount
            month.violations += a.violations
    goals = [p for kind in ("month", "quarter")
             for p in targets.progress(session, state.config, period=targets.period_containing(today, kind),
                                       until=now, scope=viewer.scope, reps=[userid])
             if p.scope == "rep"]
    return state.templates.TemplateResponse(request, "scorecard.html", {
        "viewer": viewer, "userid": userid, "month": month, "goals": goals, "today": today,
        "pending": scorecards.pending_appeals(session, scope=viewer.scope, sender=userid),
        "appeals": scorecards.rep_appeals(session, scope=viewer.scope, sender=userid),
        "overdue": scorecards.overdue_clients(session, scope=viewer.scope, owner=userid, today=today),
    })
