"""Announcements: a manager schedules a message for their groups (once or on a cron) with a preview,
pauses, resumes or deletes it; every change is audited. Posting is handlers.announcements'."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.web.deps import CsrfViewerDep, SessionDep, StateDep, ViewerDep
from handlers.announcements import AnnouncementError, next_occurrence, payload, validate
from storage import announcements as store
from storage.models import AnnouncementRow
from storage.users import audit

router = APIRouter()


def _page(request, state, session, viewer, *, form=None, preview=None, status_code=200) -> Response:
    tz = ZoneInfo(state.config.schedules.timezone)
    now = state.clock()
    rows = [(r, next_occurrence(r, now=now, tz=tz)) for r in store.visible(session, scope=viewer.scope)]
    groups = [g for g in state.config.groups if viewer.sees(g.chat_id) and g.robot]
    return state.templates.TemplateResponse(request, "announcements.html", {
        "viewer": viewer, "rows": rows, "groups": groups, "form": form or {}, "preview": preview,
    }, status_code=status_code)


@router.get("/announcements", response_class=HTMLResponse, include_in_schema=False)
def announcement_page(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    return _page(request, state, session, viewer)


@router.post("/announcements", response_class=HTMLResponse, include_in_schema=False)
async def create_announcement(
    request: Request,
    state: StateDep,
    session: SessionDep,
    viewer: CsrfViewerDep,
    title: Annotated[str, Form(max_length=200)],
    body: Annotated[str, Form(max_length=8000)],
    format: Annotated[str, Form(max_length=10)] = "text",
    when: Annotated[str, Form(max_length=10)] = "once",
    run_at: Annotated[str, Form(max_length=40)] = "",
    cron: Annotated[str, Form(max_length=100)] = "",
    action: Annotated[str, Form(max_length=10)] = "preview",
) -> Response:
    """`action=preview` shows what would be sent; `action=save` schedules it (audited)."""
    chat_ids = [v for v in (await request.form()).getlist("groups") if isinstance(v, str)]
    form = {"title": title, "body": body, "format": format, "when": when, "run_at": run_at, "cron": cron,
            "groups": chat_ids}
    tz = ZoneInfo(state.config.schedules.timezone)
    at = None
    if when == "once":
        try:
            at = datetime.fromisoformat(run_at) if run_at else None
        except ValueError:
            raise HTTPException(400, f"run_at: expected a time like 2026-11-24T10:00, got {run_at[:40]!r}") from None
        if at is None:
            raise HTTPException(400, "run_at: a once announcement needs a time")
        at = at if at.tzinfo else at.replace(tzinfo=tz)
        if at <= state.clock():
            raise HTTPException(400, "run_at: that time has passed")
    elif when != "cron":
        raise HTTPException(400, "when: must be once or cron")
    try:
        values = validate(state.config, title=title, body=body, fmt=format, chat_ids=chat_ids, run_at=at,
                          cron=cron.strip() if when == "cron" else None, allowed=viewer.scope)
    except AnnouncementError as exc:
        raise HTTPException(400, str(exc)) from None
    if action != "save":
        sample = AnnouncementRow(**values)
        preview = {"payload": payload(sample), "next": next_occurrence(sample, now=state.clock(), tz=tz)}
        return _page(request, state, session, viewer, form=form, preview=preview)
    now = state.clock()
    row = store.add(session, **values, created_by=viewer.username, created_at=now, updated_at=now)
    audit(session, actor=viewer.username, action="announcement_created", target=f"announcement:{row.id}",
          detail={"title": row.title, "groups": row.chat_ids, "format": row.format,
                  "run_at": at.isoformat() if at else None, "cron": row.cron}, now=now)
    session.commit()
    return RedirectResponse(state.url("/announcements"), status_code=303)


def _mine(session, viewer, announcement_id: int) -> AnnouncementRow:
    row = session.get(AnnouncementRow, announcement_id)
    if row is None or (viewer.scope is not None and not set(row.chat_ids) <= viewer.scope):
        raise HTTPException(404, f"announcement {announcement_id} not found")
    return row


@router.post("/announcements/{announcement_id}/status", include_in_schema=False)
def change_status(
    announcement_id: int, state: StateDep, session: SessionDep, viewer: CsrfViewerDep,
    status: Annotated[str, Form(max_length=10)],
) -> Response:
    if status not in ("active", "paused"):
        raise HTTPException(400, "status: must be active or paused")
    row = _mine(session, viewer, announcement_id)
    now = state.clock()
    previous = row.status
    store.set_status(session, row, status=status, now=now)
    audit(session, actor=viewer.username, action=f"announcement_{'resumed' if status == 'active' else 'paused'}",
          target=f"announcement:{row.id}", detail={"from": previous}, now=now)
    session.commit()
    return RedirectResponse(state.url("/announcements"), status_code=303)


@router.post("/announcements/{announcement_id}/delete", include_in_schema=False)
def delete_announcement(announcement_id: int, state: StateDep, session: SessionDep, viewer: CsrfViewerDep) -> Response:
    row = _mine(session, viewer, announcement_id)
    now = state.clock()
    audit(session, actor=viewer.username, action="announcement_deleted", target=f"announcement:{row.id}",
          detail={"title": row.title, "groups": row.chat_ids, "body": row.body[:500]}, now=now)
    session.delete(row)
    session.commit()
    return RedirectResponse(state.url("/announcements"), status_code=303)
