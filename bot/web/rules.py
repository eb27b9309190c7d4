"""Rules in force with per-rule hit counts, and the what-if page."""

from __future__ import annotations

import threading
import time as clock_time
from datetime import date, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import yaml
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.web.deps import CsrfViewerDep, SessionDep, StateDep, Viewer, ViewerDep, WebState
from bot.web.forms import optional_date
from bot.web.timeutil import range_bounds
from handlers.whatif import (
    WhatIfError,
    WhatIfResult,
    WhatIfTimeout,
    compare,
    parse_override,
    proposed_config,
    proposes_patterns,
    read_jsonl,
    stored_as_messages,
)
from storage.dashboard import counts_by_rule, messages_between

router = APIRouter()
MAX_UPLOAD = 5 * 1024 * 1024
#: Seconds a what-if may run in its worker thread before it stops with 「试算超时」.
WHATIF_BUDGET_S = 20.0
# At most two what-ifs at once per replica, so managers cannot fill the thread pool that sync routes use.
_WHATIF_SLOTS = threading.BoundedSemaphore(2)


def _display(value: Any) -> Any:
    """Settings as a manager wrote them: a time window reads 09:00-11:00, not {start:, end:}."""
    if isinstance(value, BaseModel):
        if type(value).__str__ is not BaseModel.__str__:
            return str(value)
        return {name: _display(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _display(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_display(v) for v in value]
    if isinstance(value, date | time):
        return value.isoformat()
    return value


@router.get("/rules", response_class=HTMLResponse, include_in_schema=False)
def rules_page(request: Request, state: StateDep, session: SessionDep, viewer: ViewerDep) -> Response:
    now = state.clock()
    hits = {days: counts_by_rule(session, scope=viewer.scope, since=now - timedelta(days=days), until=now)
            for days in (7, 30)}
    rules = state.config.rules
    blocks = {name: yaml.safe_dump(_display(getattr(rules, name)), allow_unicode=True, sort_keys=False)
              for name in type(rules).model_fields}
    groups = [(g, yaml.safe_dump(_display(g.rules), allow_unicode=True, default_flow_style=True).strip())
              for g in state.config.groups if viewer.sees(g.chat_id)]
    return state.templates.TemplateResponse(request, "rules.html", {
        "viewer": viewer, "blocks": blocks, "hits": hits, "groups": groups,
    })


def _whatif_page(request, state, viewer, status: int | None = None, **extra) -> Response:
    today = state.clock().astimezone(ZoneInfo(state.config.timezone)).date()
    context = {"viewer": viewer, "since": (today - timedelta(days=7)).isoformat(), "until": today.isoformat(),
               "override": "frequency:\n  limit: 5\n", "result": None, "error": None, **extra}
    return state.templates.TemplateResponse(request, "whatif.html", context,
                                            status_code=status or (400 if context["error"] else 200))


@router.get("/whatif", response_class=HTMLResponse, include_in_schema=False)
def whatif_form(request: Request, state: StateDep, viewer: ViewerDep) -> Response:
    return _whatif_page(request, state, viewer)


class _Busy(Exception):
    """Every what-if slot of this replica is taken."""


class _AdminOnly(Exception):
    """A manager proposed regular expressions; only admins may (their patterns run on every message)."""


PATTERNS_ADMIN_ONLY = "只有管理员可以试算自定义正则（sensitive.custom_patterns）；经理可以试算其他设置"


def _run_whatif(
    state: WebState, session: Session, viewer: Viewer, override: str, since: str, until: str, raw: bytes | None
) -> tuple[WhatIfResult, str]:
    """The whole what-if, in a worker thread: it parses, queries and evaluates, never on the event loop."""
    if not _WHATIF_SLOTS.acquire(blocking=False):
        raise _Busy
    try:
        session.commit()  # ends the login check's transaction (keeping whatever it wrote): a what-if only reads
        deadline = clock_time.monotonic() + WHATIF_BUDGET_S
        changes = parse_override(override)
        if proposes_patterns(changes) and not viewer.is_admin:
            raise _AdminOnly
        proposed = proposed_config(state.config, changes)
        if raw is not None:
            if len(raw) > MAX_UPLOAD:
                raise WhatIfError("file: larger than 5 MB; use `groupbot replay` for large files")
            try:
                lines = raw.decode("utf-8-sig").splitlines()
            except UnicodeDecodeError:
                raise WhatIfError("file: not UTF-8 text") from None
            messages = [m for m in read_jsonl(lines) if viewer.sees(m.chat_id)]
            source = "file"
        else:
            start, end = range_bounds(optional_date(since, "since"), optional_date(until, "until"),
                                      ZoneInfo(state.config.timezone))
            if start is None or end is None:
                raise WhatIfError("since/until: choose a date range")
            messages = stored_as_messages(messages_between(session, scope=viewer.scope, since=start, until=end))
            source = "stored"
        # End the read before judging: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE),
        # and callbacks must be able to commit to the inbox while the what-if runs.
        session.rollback()
        return compare(state.config, proposed, messages, expired=lambda: clock_time.monotonic() > deadline), source
    finally:
        _WHATIF_SLOTS.release()


@router.post("/whatif", response_class=HTMLResponse, include_in_schema=False)
async def whatif_run(
    request: Request,
    state: StateDep,
    session: SessionDep,
    viewer: CsrfViewerDep,
    override: Annotated[str, Form(max_length=20_000)] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form = {"override": override, "since": since, "until": until}
    raw = await upload.read(MAX_UPLOAD + 1) if upload is not None and upload.filename else None
    try:
        result, source = await run_in_threadpool(_run_whatif, state, session, viewer, override, since, until, raw)
    except _Busy:
        return _whatif_page(request, state, viewer, status=429, error="正在进行的试算太多，请稍后再试", **form)
    except _AdminOnly:
        return _whatif_page(request, state, viewer, status=403, error=PATTERNS_ADMIN_ONLY, **form)
    except WhatIfTimeout as exc:
        return _whatif_page(request, state, viewer, status=503, error=str(exc), **form)
    except WhatIfError as exc:
        return _whatif_page(request, state, viewer, error=str(exc), **form)
    except HTTPException as exc:
        return _whatif_page(request, state, viewer, error=str(exc.detail), **form)
    return _whatif_page(request, state, viewer, result=result, source=source, **form)
