"""Clients (the mini-CRM from follow-up reports): search, timeline, next step, grade."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.web.deps import CsrfViewerDep, SessionDep, StateDep, ViewerDep, found_or_404
from bot.web.forms import choice, optional_date
from storage import clients as client_store
from storage.dashboard import get_client, search_clients
from storage.users import audit

router = APIRouter()
GRADES = ("A", "B", "C")


@router.get("/clients", response_class=HTMLResponse, include_in_schema=False)
def client_list(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    q = (request.query_params.get("q") or "").strip()[:100]
    grade = choice(request.query_params.get("grade"), GRADES, "grade")
    rows = search_clients(session, scope=viewer.scope, query=q, grade=grade)
    today = state.clock().astimezone(ZoneInfo(state.config.timezone)).date()  # overdue next steps are marked
    return state.templates.TemplateResponse(
        request, "clients.html", {"viewer": viewer, "rows": rows, "q": q, "grade": grade or "", "today": today}
    )


def _visible(session, viewer, client_id: int):
    return found_or_404(get_client(session, client_id=client_id, scope=viewer.scope), f"client {client_id}")


@router.get("/clients/{client_id}", response_class=HTMLResponse, include_in_schema=False)
def client_detail(
    client_id: int, request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep
) -> Response:
    client = _visible(session, viewer, client_id)
    return state.templates.TemplateResponse(request, "client.html", {
        "viewer": viewer, "c": client, "timeline": client_store.timeline(session, client_id=client.id, limit=200),
    })


@router.post("/clients/{client_id}", include_in_schema=False)
def update_client(
    client_id: int,
    state: StateDep,
    session: SessionDep,
    viewer: CsrfViewerDep,
    grade: Annotated[str, Form()],
    next_action: Annotated[str, Form(max_length=2000)] = "",
    next_action_due: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    client = _visible(session, viewer, client_id)
    grade = choice(grade, GRADES, "grade") or client.grade
    due = optional_date(next_action_due, "next_action_due")
    before = {"grade": client.grade, "next_action": client.next_action,
              "next_action_due": client.next_action_due.isoformat() if client.next_action_due else None}
    client_store.set_grade(session, client_id=client.id, grade=grade)
    client.next_action = next_action.strip() or None
    client.next_action_due = due
    audit(session, actor=viewer.username, action="client_edit", target=f"client:{client.id}",
          detail={"before": before, "grade": grade, "next_action_due": due.isoformat() if due else None},
          now=state.clock())
    session.commit()
    return RedirectResponse(state.url(f"/clients/{client.id}"), status_code=303)
