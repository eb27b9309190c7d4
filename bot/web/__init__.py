"""The managers' dashboard: server-rendered pages (Jinja2, Chinese UI) under one router.

`create_dashboard_router(config, settings, sessions)` builds it; `bot.app.create_app` includes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.settings import Settings
from bot.web import (
    announcements,
    api,
    auth,
    clients,
    deadletters,
    exports,
    jobs,
    overview,
    rules,
    scorecards,
    targets,
    violations,
)
from bot.web.deps import WebState
from rules.registry import RULES

PACKAGE = Path(__file__).resolve().parent.parent
STATIC_FILES = {"style.css": "text/css"}
#: Every module with dashboard routes, in mounting order (tests walk this list).
ROUTE_MODULES = (auth, overview, violations, clients, exports, rules, deadletters, api, targets, jobs, announcements,
                 scorecards)
RULE_LABELS = {"posting_window": "发言时段", "frequency": "发言频率", "template": "跟进模板", "sensitive": "敏感信息"}
KIND_LABELS = {"mobile": "手机号", "id_card": "身份证号", "bank_card": "银行卡号", "email": "邮箱",
               "im_account": "微信/QQ号", "financial": "客户财务状况"}
FIELD_LABELS = {"client_name": "客户姓名", "company": "公司名称", "contact": "联系方式", "need": "需求描述",
                "last_contact_at": "上次沟通时间", "next_action": "下一步行动计划"}
STATUS_LABELS = {"open": "待处理", "handled": "已处理", "void": "已撤销",
                 "pending": "待处理", "accepted": "已通过", "rejected": "已驳回"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _templates(config: AppConfig, prefix: str) -> Jinja2Templates:
    zone = ZoneInfo(config.timezone)
    templates = Jinja2Templates(directory=str(PACKAGE / "templates"))

    def local(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.astimezone(zone).strftime(fmt)
        return value.isoformat()

    members = {uid: m.name for uid, m in config.members.items()}
    groups = {g.chat_id: g.name for g in config.groups}
    templates.env.filters["local"] = local
    templates.env.filters["member"] = lambda uid: f"{members[uid]}（{uid}）" if uid in members else uid or ""
    templates.env.filters["group"] = lambda cid: groups.get(cid, cid or "")
    templates.env.filters["rule"] = lambda r: RULE_LABELS.get(r, r)
    templates.env.filters["status"] = lambda s: STATUS_LABELS.get(s, s)
    templates.env.filters["kinds"] = lambda ks: "、".join(KIND_LABELS.get(k, k) for k in ks or ())
    templates.env.filters["fields"] = lambda fs: "、".join(FIELD_LABELS.get(f, f) for f in fs or ())
    # Every rule of the registry, in its order, so a new rule shows on the rules, what-if and
    # violations pages without touching them; its name from config templates.rule_names if we have none.
    rule_labels = {name: RULE_LABELS.get(name) or config.templates.rule_names.get(name, name) for name in RULES}
    templates.env.globals.update(prefix=prefix, rule_labels=rule_labels)
    return templates


def create_dashboard_router(
    config: AppConfig,
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    clock: Callable[[], datetime] = _utc_now,
    prefix: str = "/dashboard",
) -> APIRouter:
    """Every dashboard page and JSON endpoint, mounted under `prefix`."""
    state = WebState(
        config=config,
        settings=settings,
        sessions=sessions,
        clock=clock,
        templates=_templates(config, prefix),
        signer=URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt="groupbot-dashboard"),
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
    """`/violations/{id}` (the short link in alerts) redirects into the dashboard."""
    router = APIRouter()

    @router.get("/violations/{violation_id}", include_in_schema=False)
    def short_link(violation_id: int) -> RedirectResponse:
        return RedirectResponse(f"{prefix}/violations/{violation_id}", status_code=307)

    return router
