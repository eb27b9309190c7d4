"""Overview: today's and this week's violations by rule, outbox health, the weekly leaderboard."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from bot.web.deps import SessionDep, StateDep, ViewerDep
from bot.web.timeutil import today_bounds, week_bounds
from handlers import leaderboard, targets
from storage.dashboard import counts_by_rule, outbox_health
from storage.scorecards import pending_appeals

router = APIRouter()
RULE_ORDER = ("posting_window", "frequency", "template", "sensitive")


def overview_data(state, session, viewer) -> dict:
    zone = ZoneInfo(state.config.timezone)
    now = state.clock()
    today = counts_by_rule(session, scope=viewer.scope, since=today_bounds(now, zone)[0], until=now)
    week = counts_by_rule(session, scope=viewer.scope, since=week_bounds(now, zone)[0], until=now)
    health = outbox_health(session)
    return {
        "today": {rule: today.get(rule, 0) for rule in RULE_ORDER},
        "week": {rule: week.get(rule, 0) for rule in RULE_ORDER},
        "outbox": {"pending": health.pending, "dead": health.dead,
                   "oldest_pending_at": health.oldest_pending_at},
    }


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    data = overview_data(state, session, viewer)
    now = state.clock()
    month = targets.period_containing(now.astimezone(ZoneInfo(state.config.schedules.timezone)).date(), "month")
    data["targets"] = targets.progress(session, state.config, period=month, until=now, scope=viewer.scope)
    data["pending_appeals"] = pending_appeals(session, scope=viewer.scope)
    week_max = max(data["week"].values(), default=0) or 1
    return state.templates.TemplateResponse(request, "overview.html", {
        "viewer": viewer, "week_max": week_max, "leaderboard": state.url("/leaderboard.png"), **data,
    })


@router.get("/leaderboard.png", include_in_schema=False)
def leaderboard_chart(state: StateDep, session: SessionDep, viewer: ViewerDep, group: str = "") -> Response:
    """This week's leaderboard so far: company-wide for admins, the manager's own group otherwise."""
    if group and not viewer.sees(group):
        raise HTTPException(404, "no such group")
    chat_id = group or (None if viewer.scope is None else min(viewer.scope, default=""))
    if chat_id == "":
        raise HTTPException(404, "you manage no group")
    today = state.clock().astimezone(ZoneInfo(state.config.timezone)).date()
    board = leaderboard.build(session, state.config, week=leaderboard.week_label(today), chat_id=chat_id)
    return Response(leaderboard.chart_png(board), media_type="image/png", headers={"Cache-Control": "no-store"})
