"""Jobs (admins): each scheduled job with its schedule and latest claims, and a button to run one
now under the scheduler's exactly-once claim (bot.scheduler.run_on_demand); forcing is audited."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from bot.scheduler import JOBS, default_owner, next_fire_time, run_on_demand, schedule_of
from bot.web.deps import AdminDep, CsrfAdminDep, SessionDep, StateDep
from storage.job_runs import recent_runs

router = APIRouter()


def _page(request: Request, state, session, viewer, *, result=None, status_code: int = 200) -> Response:
    tz = ZoneInfo(state.config.schedules.timezone)
    now = state.clock()
    runs = recent_runs(session, limit=30)
    jobs = []
    for name in JOBS:
        schedule = schedule_of(state.config, name)
        jobs.append({"name": name, "schedule": schedule,
                     "next": next_fire_time(schedule.cron, tz, now=now) if schedule.enabled else None})
    return state.templates.TemplateResponse(request, "jobs.html", {
        "viewer": viewer, "jobs": jobs, "runs": runs, "result": result,
        # Names this rendering's forms: submitting one twice (or to two replicas) re-runs once.
        "request_id": secrets.token_hex(6),
    }, status_code=status_code)


@router.get("/jobs", response_class=HTMLResponse, include_in_schema=False)
def jobs_page(request: Request, state: StateDep, session: SessionDep, viewer: AdminDep) -> Response:
    return _page(request, state, session, viewer)


@router.post("/jobs/run", response_class=HTMLResponse, include_in_schema=False)
def run_job_now(
    request: Request,
    state: StateDep,
    session: SessionDep,
    viewer: CsrfAdminDep,
    name: Annotated[str, Form(max_length=64)],
    at: Annotated[str, Form(max_length=40)] = "",
    force: Annotated[str, Form(max_length=5)] = "",
    request_id: Annotated[str, Form(pattern=r"^[0-9a-f]{8,32}$")] = "",
) -> Response:
    """Run `name` as if fired at `at` (a local time from the form; default now); 409 when taken."""
    if name not in JOBS:
        raise HTTPException(404, f"name: no job {name!r}")
    tz = ZoneInfo(state.config.schedules.timezone)
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise HTTPException(400, f"at: expected a time like 2026-11-23T09:30, got {at[:40]!r}") from None
        when = when if when.tzinfo else when.replace(tzinfo=tz)
    else:
        when = state.clock()
    # The job runs in a transaction of its own; end the request's (read-only so far) first, since on
    # SQLite every transaction holds the write lock and the job's would wait for it.
    session.rollback()
    result = run_on_demand(name, session_factory=state.sessions, config=state.config, at=when,
                           owner=f"dashboard:{default_owner()}"[:64], actor=viewer.username,
                           force=force == "on", request_id=request_id or None, wall_clock=state.clock)
    session.expire_all()
    return _page(request, state, session, viewer, result=result, status_code=200 if result.outcome == "done" else 409)
