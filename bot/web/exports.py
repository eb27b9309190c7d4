"""Exports from the dashboard: the same files as `groupbot export`, scoped to the viewer's groups."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from bot.web.deps import CsrfViewerDep, SessionDep, StateDep, ViewerDep
from bot.web.forms import optional_date
from bot.web.timeutil import day_start
from handlers.exports import ExportError, build_export, columns_for

router = APIRouter()


@router.get("/exports", response_class=HTMLResponse, include_in_schema=False)
def export_form(request: Request, state: StateDep, viewer: ViewerDep) -> Response:
    today = state.clock().astimezone(ZoneInfo(state.config.timezone)).date()
    layouts = {
        "standard": columns_for("clients", "standard"),
        "fxiaoke": columns_for("clients", "fxiaoke"),
        "zoho": columns_for("clients", "zoho"),
    }
    return state.templates.TemplateResponse(request, "exports.html", {
        "viewer": viewer, "default_since": (today - timedelta(days=30)).isoformat(), "layouts": layouts,
    })


@router.post("/exports", include_in_schema=False)
def download(
    state: StateDep,
    session: SessionDep,
    viewer: CsrfViewerDep,
    kind: Annotated[str, Form()],
    fmt: Annotated[str, Form(alias="format")],
    since: Annotated[str, Form()],
    layout: Annotated[str, Form()] = "standard",
    full: Annotated[str, Form()] = "",
) -> Response:
    if full and not viewer.is_admin:
        raise HTTPException(403, "full: only admins may export full values")
    start = optional_date(since, "since")
    if start is None:
        raise HTTPException(400, "since: a start date is required")
    zone = ZoneInfo(state.config.timezone)
    try:
        result = build_export(
            session, config=state.config, kind=kind, fmt=fmt, since=day_start(start, zone), scope=viewer.scope,
            actor=viewer.username, now=state.clock(), layout=layout, full=bool(full),
        )
    except ExportError as exc:
        raise HTTPException(400, str(exc)) from None
    session.commit()
    return Response(
        result.content,
        media_type=result.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(result.filename)}"},
    )
