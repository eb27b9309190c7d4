"""Violations: filter, open one with its context, handle or re-open it, decide appeals."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.web.deps import CsrfViewerDep, SessionDep, StateDep, ViewerDep, found_or_404
from bot.web.forms import choice, optional_date
from bot.web.timeutil import range_bounds
from handlers.appeals import decide_appeal
from rules.registry import RULES as RULE_REGISTRY
from storage import appeals as appeal_store
from storage import evidence as evidence_store
from storage import violations as violation_store
from storage.dashboard import ViolationFilter, get_violation, list_violations, message_context, senders_in_scope
from storage.models import AppealRow
from storage.scorecards import pending_appeals
from storage.users import audit

router = APIRouter()
RULES = tuple(RULE_REGISTRY)  # every rule the engine can report, content_type included
STATUSES = ("open", "handled", "void")
PAGE = 100


def parse_filter(state, viewer, params) -> tuple[ViolationFilter, dict]:
    """Query parameters -> a filter; a group outside the viewer's scope is refused, not ignored."""
    group = params.get("group") or None
    if group and not viewer.sees(group):
        raise HTTPException(404, "no such group")
    since = optional_date(params.get("since"), "since")
    until = optional_date(params.get("until"), "until")
    start, end = range_bounds(since, until, ZoneInfo(state.config.timezone))
    filt = ViolationFilter(
        chat_id=group,
        sender=params.get("member") or None,
        rule=choice(params.get("rule"), RULES, "rule"),
        status=choice(params.get("status"), STATUSES, "status"),
        since=start,
        until=end,
    )
    form = {k: params.get(k) or "" for k in ("group", "member", "rule", "status", "since", "until")}
    return filt, form


@router.get("/violations", response_class=HTMLResponse, include_in_schema=False)
def violation_list(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    filt, form = parse_filter(state, viewer, request.query_params)
    raw_page = request.query_params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 10_000 else 1
    rows = list_violations(session, scope=viewer.scope, filt=filt, limit=PAGE + 1, offset=(page - 1) * PAGE)
    groups = [g for g in state.config.groups if viewer.sees(g.chat_id)]
    return state.templates.TemplateResponse(request, "violations.html", {
        "viewer": viewer, "rows": rows[:PAGE], "has_more": len(rows) > PAGE, "page": page, "form": form,
        "groups": groups, "members": senders_in_scope(session, scope=viewer.scope),
        "pending_appeals": pending_appeals(session, scope=viewer.scope),
    })


def _visible(session, viewer, violation_id: int):
    return found_or_404(get_violation(session, violation_id=violation_id, scope=viewer.scope),
                        f"violation {violation_id}")


@router.get("/violations/{violation_id}", response_class=HTMLResponse, include_in_schema=False)
def violation_detail(
    violation_id: int, request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep
) -> Response:
    violation = _visible(session, viewer, violation_id)
    kept = evidence_store.for_messages(session, message_ids=[violation.message_id], scope=viewer.scope)
    evidence = kept.get(violation.message_id, [])
    return state.templates.TemplateResponse(request, "violation.html", {
        "viewer": viewer, "v": violation, "evidence": evidence,
        # Violations recorded before evidence was kept (or with evidence_messages: 0) show the
        # group's messages around them as stored now instead, labelled as such.
        "context": [] if evidence else message_context(session, message_id=violation.message_id),
        "appeals": appeal_store.appeals_for(session, violation_id=violation.id),
    })


@router.post("/violations/{violation_id}/status", include_in_schema=False)
def change_status(
    violation_id: int,
    state: StateDep,
    session: SessionDep,
    viewer: CsrfViewerDep,
    status: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    violation = _visible(session, viewer, violation_id)
    if status not in ("handled", "open"):
        raise HTTPException(400, "status: must be handled or open (void comes from an accepted appeal)")
    if status == "handled" and not note.strip():
        raise HTTPException(400, "note: a handled case needs a note saying what was done")
    now = state.clock()
    previous = violation.status
    violation_store.set_status(session, violation_id=violation.id, status=status, by=viewer.username,
                               now=now, note=note.strip() or None)
    if status == "open":
        violation.handled_by = None
        violation.handled_at = None
    audit(session, actor=viewer.username, action=f"violation_{status}", target=f"violation:{violation.id}",
          detail={"from": previous, "note": note.strip()}, now=now)
    session.commit()
    return RedirectResponse(state.url(f"/violations/{violation.id}"), status_code=303)


@router.post("/appeals/{appeal_id}", include_in_schema=False)
def decide(
    appeal_id: int,
    state: StateDep,
    session: SessionDep,
    viewer: CsrfViewerDep,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    appeal = found_or_404(session.get(AppealRow, appeal_id), f"appeal {appeal_id}")
    violation = _visible(session, viewer, appeal.violation_id)
    if decision not in ("accept", "reject"):
        raise HTTPException(400, "decision: must be accept or reject")
    if appeal.status != "pending":
        raise HTTPException(409, f"appeal {appeal_id} was already {appeal.status}")
    decide_appeal(session, appeal=appeal, accepted=decision == "accept", by=viewer.username,
                  note=note.strip() or None, now=state.clock())
    session.commit()
    return RedirectResponse(state.url(f"/violations/{violation.id}"), status_code=303)
