"""Targets: every target in force for a month or quarter with its 达成率 (scoped to the viewer's
groups); admins set or clear a target for one period, and each change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.config import TARGET_METRICS
from bot.web.deps import CsrfAdminDep, SessionDep, StateDep, ViewerDep
from handlers import targets
from storage import targets as target_store
from storage.users import audit

router = APIRouter()
#: A target above this is a typo (a trillion yuan), not an ambition.
MAX_TARGET = 10**12


def _period(text: str | None, state) -> targets.Period:
    if not text:
        today = state.clock().astimezone(ZoneInfo(state.config.schedules.timezone)).date()
        return targets.period_containing(today, "month")
    try:
        return targets.parse_period(text)
    except ValueError as exc:
        raise HTTPException(400, f"period: {exc}") from None


@router.get("/targets", response_class=HTMLResponse, include_in_schema=False)
def target_page(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    period = _period(request.query_params.get("period"), state)
    rows = targets.progress(session, state.config, period=period, until=state.clock(), scope=viewer.scope)
    overrides = target_store.overrides_for(session, periods=[period.label]) if viewer.is_admin else []
    return state.templates.TemplateResponse(request, "targets.html", {
        "viewer": viewer, "period": period, "rows": rows, "overrides": overrides,
        "metrics": [(m, targets.METRIC_LABELS[m]) for m in TARGET_METRICS],
        "groups": [g for g in state.config.groups if viewer.sees(g.chat_id)],
    })


def _metric(name: str, raw: str) -> int | None:
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_TARGET:
        raise HTTPException(400, f"{name}: expected a whole number from 1 to {MAX_TARGET:,}, got {raw[:20]!r}")
    return int(raw)


@dataclass(frozen=True)
class TargetKey:
    """Which target a form names, as typed (the subject stripped): setting and deleting both name one
    by these three fields; each route checks them in its own order."""

    scope: str
    subject: str
    period: str


def _target_key(
    scope: Annotated[str, Form()],
    subject: Annotated[str, Form(max_length=200)],
    period: Annotated[str, Form(max_length=20)],
) -> TargetKey:
    return TargetKey(scope, subject.strip(), period)


TargetKeyDep = Annotated[TargetKey, Depends(_target_key)]


def _subject(state, scope: str, subject: str) -> str:
    subject = subject.strip()
    if scope not in ("rep", "group"):
        raise HTTPException(400, "scope: must be rep or group")
    if not subject or len(subject) > 128 or not subject.isprintable():
        raise HTTPException(400, "subject: a userid or chat_id of 1-128 printable characters")
    if scope == "group" and state.config.group(subject) is None:
        raise HTTPException(400, f"subject: no group with chat_id {subject!r} in config")
    return subject


@router.post("/targets", include_in_schema=False)
def set_target(
    state: StateDep,
    session: SessionDep,
    viewer: CsrfAdminDep,
    key: TargetKeyDep,
    deal_amount: Annotated[str, Form(max_length=30)] = "",
    deal_count: Annotated[str, Form(max_length=30)] = "",
    new_clients: Annotated[str, Form(max_length=30)] = "",
    complete_reports: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Set (or, with every metric empty, clear for this period) one target; audited with before/after."""
    scope, subject = key.scope, _subject(state, key.scope, key.subject)
    chosen = _period(key.period, state)
    raw = {"deal_amount": deal_amount, "deal_count": deal_count, "new_clients": new_clients,
           "complete_reports": complete_reports}
    metrics = {m: v for m in TARGET_METRICS if (v := _metric(m, raw[m])) is not None}
    before = target_store.get_override(session, scope=scope, subject=subject, period=chosen.label)
    previous = {m: getattr(before, m) for m in TARGET_METRICS} if before else None
    now = state.clock()
    target_store.set_override(session, scope=scope, subject=subject, period=chosen.label, metrics=metrics,
                              by=viewer.username, now=now)
    audit(session, actor=viewer.username, action="target_set", target=f"target:{scope}:{subject}:{chosen.label}",
          detail={"before": previous, "after": metrics}, now=now)
    session.commit()
    return RedirectResponse(state.url(f"/targets?period={chosen.label}"), status_code=303)


@router.post("/targets/delete", include_in_schema=False)
def delete_target(state: StateDep, session: SessionDep, viewer: CsrfAdminDep, key: TargetKeyDep) -> Response:
    """Remove a dashboard target: config.yaml's standing target (if any) applies again."""
    scope, subject, chosen = key.scope, key.subject, _period(key.period, state)
    before = target_store.get_override(session, scope=scope, subject=subject, period=chosen.label)
    if before is None:
        raise HTTPException(404, "no dashboard target for that subject and period")
    previous = {m: getattr(before, m) for m in TARGET_METRICS}
    now = state.clock()
    target_store.delete_override(session, scope=scope, subject=subject, period=chosen.label)
    audit(session, actor=viewer.username, action="target_deleted",
          target=f"target:{scope}:{subject}:{chosen.label}", detail={"before": previous}, now=now)
    session.commit()
    return RedirectResponse(state.url(f"/targets?period={chosen.label}"), status_code=303)
