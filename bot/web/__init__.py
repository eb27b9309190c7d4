"""The managers' dashboard: server-rendered pages (Jinja2, Chinese UI) under one router.

`create_dashboard_router(config, settings, sessions)` builds it; `bot.app.create_app` includes it.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeTimedSerializer
from jinja2 import pass_context
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.secret_key import require_secret_key
from bot.settings import Settings
from bot.web import (
    announcements,
    api,
    auth,
    clients,
    deadletters,
    deals,
    exports,
    jobs,
    overview,
    reports,
    rules,
    scorecards,
    targets,
    violations,
)
from bot.web.deps import WebState
from handlers.context import Clock, system_clock
from handlers.wording import amount_text, name_with_id, reason
from rules.registry import RULES
from storage.members import all_members

PACKAGE = Path(__file__).resolve().parent.parent
STATIC_FILES = {"style.css": "text/css"}
#: Every module with dashboard routes, in mounting order (tests walk this list).
ROUTE_MODULES = (auth, overview, violations, clients, deals, exports, reports, rules, deadletters, api, targets, jobs,
                 announcements, scorecards)
FIELD_LABELS = {"client_name": "客户姓名", "company": "公司名称", "contact": "联系方式", "need": "需求描述",
                "last_contact_at": "上次沟通时间", "next_action": "下一步行动计划"}
STATUS_LABELS = {"open": "待处理", "handled": "已处理", "void": "已撤销",
                 "pending": "待处理", "accepted": "已通过", "rejected": "已驳回"}


class _Names:
    """Members' names for the pages: config overrides, then the directory cache (WeCom user/get).

    Read at most once a minute, not per row: a list page shows a hundred rows of the same few reps.
    Uses the request's own session (`request.state.db`).
    """

    TTL_SECONDS = 60.0

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self._names: dict[str, str] = {}
        self._loaded = -1e9

    def __call__(self, context: Any, userid: str | None) -> str:
        if not userid:
            return ""
        request = context.get("request")
        session = getattr(getattr(request, "state", None), "db", None)
        now = time.monotonic()
        stale = now - self._loaded > self.TTL_SECONDS
        if session is not None and (stale or (userid not in self._names and now - self._loaded > 1.0)):
            cached = {u: m.name for u, m in all_members(session).items() if m.name}
            # Overrides in config.yaml win, as everywhere else (handlers.directory.people).
            self._names = {**cached, **{u: m.name for u, m in self.config.members.items()}}
            self._loaded = now
        name = self._names.get(userid) or (m.name if (m := self.config.members.get(userid)) else None)
        return name_with_id(name, userid)


def _templates(config: AppConfig, prefix: str) -> Jinja2Templates:
    zone = ZoneInfo(config.timezone)
    templates = Jinja2Templates(directory=str(PACKAGE / "templates"))

    def local(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.astimezone(zone).strftime(fmt)
        return value.isoformat()

    groups = {g.chat_id: g.name for g in config.groups}
    rule_labels = dict(config.templates.rule_names)  # the one name of each rule, as alerts say it
    templates.env.filters["local"] = local
    names = _Names(config)

    @pass_context
    def member(context: Any, userid: str | None) -> str:
        return names(context, userid)

    templates.env.filters["member"] = member
    templates.env.filters["group"] = lambda cid: groups.get(cid, cid or "")
    templates.env.filters["rule"] = lambda r: rule_labels.get(r, r)
    templates.env.filters["reason"] = lambda v: reason(config, v)
    templates.env.filters["amount"] = amount_text
    templates.env.filters["status"] = lambda s: STATUS_LABELS.get(s, s)
    templates.env.filters["kinds"] = lambda ks: "、".join(config.templates.kind_names.get(k, k) for k in ks or ())
    templates.env.filters["fields"] = lambda fs: "、".join(FIELD_LABELS.get(f, f) for f in fs or ())
    # Every rule of the registry, in its order, so a new rule shows on the rules, what-if and
    # violations pages without touching them; named from templates.rule_names (the one name table).
    rule_labels = {name: rule_labels.get(name, name) for name in RULES}
    templates.env.globals.update(prefix=prefix, rule_labels=rule_labels)
    return templates


def create_dashboard_router(
    config: AppConfig,
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    clock: Clock = system_clock,
    prefix: str = "/dashboard",
) -> APIRouter:
    """Every dashboard page and JSON endpoint, mounted under `prefix`."""
    state = WebState(
        config=config,
        settings=settings,
        sessions=sessions,
        clock=clock,
        templates=_templates(config, prefix),
        signer=URLSafeTimedSerializer(require_secret_key(settings).get_secret_value(), salt="groupbot-dashboard"),
        prefix=prefix,
    )

    def attach_state(request: Request) -> None:
        request.state.web = state
        # PostgreSQL refuses NUL in text; answer 400 here rather than 500 from the database.
        for name, value in request.query_params.multi_items():
            if "\x00" in value:
                raise HTTPException(400, f"{name}: contains a NUL character")

    router = APIRouter(prefix=prefix, dependencies=[Depends(attach_state)])
    for module in ROUTE_MODULES:
        router.include_router(module.router)

    @router.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, f"no static file {name!r}")
        return FileResponse(PACKAGE / "static" / name, media_type=STATIC_FILES[name])

    return router


def create_alert_link_router(prefix: str = "/dashboard") -> APIRouter:
    """`/` and `/violations/{id}` (the short link in alerts) redirect into the dashboard."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        # A new user opens the bare address first; 307 keeps it a redirect, not a page of its own.
        return RedirectResponse(f"{prefix}/", status_code=307)

    @router.get("/violations/{violation_id}", include_in_schema=False)
    def short_link(violation_id: int) -> RedirectResponse:
        return RedirectResponse(f"{prefix}/violations/{violation_id}", status_code=307)

    return router
