"""The simulator's own endpoints under /_sim: the record (JSON and a Chinese page), reset, faults.

Tests judge delivery by `GET /_sim/messages`; a demo user opens `GET /_sim/` to see which
group or manager got which alert when.
"""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from bot.simulator.content import MARKDOWN_LIMIT, ROBOT_TYPES, ContentError, check_body
from bot.simulator.faults import FaultConfig
from bot.simulator.render import image_data_url, render_markdown
from bot.simulator.state import SimulatorState, Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The page shows the newest records only; the JSON endpoint has all of them.
PAGE_ROWS = 500
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

STATUS_LABELS = {
    Status.DELIVERED: "已送达",
    Status.PARTIAL: "部分送达",
    Status.DROPPED: "被静默丢弃",
    Status.RATE_LIMITED: "被限频 (45009)",
    Status.REJECTED: "被拒绝",
}
API_LABELS = {
    "webhook/send": "群机器人",
    "message/send": "应用消息",
    "appchat/send": "应用群聊",
    "aibot/response": "智能机器人回复",
}


def create_admin_router(state: SimulatorState) -> APIRouter:
    router = APIRouter(prefix="/_sim")
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]))

    @router.get("/messages")
    async def messages(
        api: str | None = None,
        target: str | None = None,
        status: str | None = None,
        contains: str | None = None,
        recipient: str | None = None,
    ) -> dict:
        if status is not None and status not in set(Status):
            raise HTTPException(422, f"status must be one of {', '.join(Status)}")
        found = state.query(api=api, target=target, status=status, contains=contains, recipient=recipient)
        return {"count": len(found), "messages": [r.to_json() for r in found]}

    @router.post("/reset")
    async def reset() -> dict:
        state.reset()
        return {"ok": True}

    @router.get("/faults")
    async def get_faults() -> dict:
        return {
            "config": state.faults.config.model_dump(),
            "injected": [f.value for f in state.faults.injected],
        }

    @router.put("/faults")
    async def put_faults(request: Request) -> dict:
        try:
            config = FaultConfig.model_validate_json(await request.body())
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise HTTPException(422, f"invalid fault configuration: {reasons}") from None
        state.faults.configure(config)
        return {"config": config.model_dump()}

    @router.post("/aibot/response/{code}")
    async def aibot_response(code: str, request: Request) -> dict:
        """The AI bot's active reply to an @-mention; each response_url works once, as in WeCom."""
        with state.lock:
            chat_id = state.response_urls.pop(code, None)
        if chat_id is None:
            return {"errcode": 40014, "errmsg": "invalid or used response_url"}
        try:
            body = json.loads(await request.body())
            msgtype, content = check_body(body, allowed=ROBOT_TYPES, markdown_limit=MARKDOWN_LIMIT)
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return {"errcode": 40058, "errmsg": "invalid json"}
        except ContentError as exc:
            return {"errcode": exc.errcode, "errmsg": exc.errmsg}
        state.record(api="aibot/response", target=chat_id, msgtype=msgtype, content=content,
                     status=Status.DELIVERED, errcode=0, body=body)
        return {"errcode": 0, "errmsg": "ok"}

    @router.post("/revoke-tokens")
    async def revoke_tokens() -> dict:
        return {"revoked": state.revoke_tokens()}

    @router.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        rows = []
        records = state.query()
        for record in reversed(records[-PAGE_ROWS:]):
            names = [state.members[u].name if u in state.members else u for u in record.delivered_to]
            rows.append(
                {
                    "at": record.at.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S"),
                    "channel": API_LABELS.get(record.api, record.api),
                    "target": _target_label(state, record.api, record.target),
                    "recipients": "、".join(names) or "—",
                    "mentioned": "、".join(state.members[u].name if u in state.members else u
                                          for u in record.mentioned),
                    "status": STATUS_LABELS[record.status],
                    "status_class": record.status.value,
                    "content": record.content,
                    "markdown": render_markdown(record.content) if record.msgtype == "markdown" else None,
                    "image": image_data_url(record.body) if record.msgtype == "image" else None,
                }
            )
        html = env.get_template("simulator.html").render(rows=rows, total=len(records), shown=len(rows))
        return HTMLResponse(html)

    return router


def _target_label(state: SimulatorState, api: str, target: str) -> str:
    if api == "webhook/send":
        group = state.robot_labels.get(target)
        return f"{group}（机器人「{target}」）" if group else f"机器人「{target}」"
    if api == "aibot/response":
        return target
    if api == "appchat/send":
        chat = state.chats.get(target)
        return chat.name if chat else target
    return "、".join(state.members[u].name if u in state.members else u for u in target.split("|"))
