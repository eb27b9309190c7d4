"""Deals (成交): the ones whose amount could not be read (金额待确认) wait here for a manager.

A deal with no readable amount counts as a deal but stays out of amount rankings until a manager of
its group sets the amount; every change is in the audit log (who, from what, to what).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.web.deps import CsrfViewerDep, SessionDep, StateDep, ViewerDep, found_or_404
from storage import deals as deal_store
from storage.users import audit

router = APIRouter()
#: Whole yuan, optionally with thousands separators; a deal above ¥10 billion is a typo.
_AMOUNT = re.compile(r"\d{1,3}(,\d{3})+|\d+")
MAX_AMOUNT = 10_000_000_000


@router.get("/deals", response_class=HTMLResponse, include_in_schema=False)
def deal_list(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    pending_only = request.query_params.get("pending") == "1"
    rows = deal_store.deals_in_scope(session, scope=viewer.scope, pending_only=pending_only)
    return state.templates.TemplateResponse(
        request, "deals.html", {"viewer": viewer, "rows": rows, "pending_only": pending_only}
    )


@router.post("/deals/{deal_id}/amount", include_in_schema=False)
def set_amount(
    deal_id: int,
    state: StateDep,
    session: SessionDep,
    viewer: CsrfViewerDep,
    amount: Annotated[str, Form(max_length=20)],
) -> Response:
    deal = found_or_404(deal_store.get_deal(session, deal_id=deal_id, scope=viewer.scope), f"deal {deal_id}")
    text = amount.strip().removeprefix("¥").removeprefix("￥").strip()
    if not _AMOUNT.fullmatch(text) or not 0 < int(text.replace(",", "")) <= MAX_AMOUNT:
        raise HTTPException(400, "amount: whole yuan between 1 and 10,000,000,000, e.g. 35000 or 35,000")
    value = int(text.replace(",", ""))
    previous = deal_store.set_amount(deal=deal, amount_yuan=value)
    audit(session, actor=viewer.username, action="deal_amount", target=f"deal:{deal.id}",
          detail={"from": previous, "to": value, "chat_id": deal.chat_id}, now=state.clock())
    session.commit()
    return RedirectResponse(state.url("/deals"), status_code=303)
