"""Dead letters (admins): outgoing messages WeCom refused for good, with a re-queue button, and inbound
events parked after failing to be judged, shown masked (`handlers.parked`), never in clear."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.web.deps import AdminDep, CsrfAdminDep, SessionDep, StateDep
from handlers.parked import list_parked
from storage.outbox import list_dead, requeue
from storage.users import audit

router = APIRouter()


@router.get("/deadletters", response_class=HTMLResponse, include_in_schema=False)
def dead_letter_list(request: Request, state: StateDep, session: SessionDep, viewer: AdminDep) -> Response:
    # The app's handler context holds the payload key and the engine whose masking is applied.
    ctx = getattr(request.app.state, "handler_context", None)
    return state.templates.TemplateResponse(
        request,
        "deadletters.html",
        {"viewer": viewer, "rows": list_dead(session, limit=200), "parked": list_parked(session, ctx, limit=200)},
    )


@router.post("/deadletters/{item_id}/requeue", include_in_schema=False)
def requeue_one(item_id: int, state: StateDep, session: SessionDep, viewer: CsrfAdminDep) -> Response:
    now = state.clock()
    if requeue(session, item_id=item_id, now=now) is None:
        raise HTTPException(404, f"outbox item {item_id} is not a dead letter")
    audit(session, actor=viewer.username, action="outbox_requeue", target=f"outbox:{item_id}", now=now)
    session.commit()
    return RedirectResponse(state.url("/deadletters"), status_code=303)
