"""The fake qyapi: the WeCom endpoints groupbot calls, with WeCom's limits, error codes and faults.

Paths are those under https://qyapi.weixin.qq.com/cgi-bin, so `wecom_api_base` is the only
setting that changes between production and the simulator. Answers are `{errcode, errmsg, ...}`
with HTTP 200, as WeCom's; injected gateway faults are the only non-200 answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from bot.simulator.admin import create_admin_router
from bot.simulator.content import (
    APP_MARKDOWN_LIMIT,
    APP_TYPES,
    MARKDOWN_LIMIT,
    ROBOT_TYPES,
    ContentError,
    check_body,
)
from bot.simulator.directory import department_rows, user_get_payload
from bot.simulator.faults import Fault
from bot.simulator.limits import RollingLimit
from bot.simulator.state import AppChat, SimApp, SimulatorState, Status
from handlers.context import Clock

log = logging.getLogger(__name__)

_CHATID = re.compile(r"^[0-9a-zA-Z]{1,32}$")
_MARKDOWN_MENTION = re.compile(r"<@([^>\s]+)>")


class WeComError(Exception):
    """Raised inside a route to answer `{errcode, errmsg}` the way WeCom does (HTTP 200)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


def _ok(**extra: object) -> JSONResponse:
    return JSONResponse({"errcode": 0, "errmsg": "ok", **extra})


async def _json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise WeComError(40058, "invalid json: Warning: wrong json format.") from None
    if not isinstance(body, dict):
        raise WeComError(40058, "invalid json: the body must be an object")
    return body


def _split_ids(value: object) -> list[str]:
    return [part for part in str(value or "").split("|") if part]


def create_simulator_app(
    state: SimulatorState | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """Build the fake WeCom; `clock` replaces the state's clock (tests pass a ManualClock)."""
    state = state or SimulatorState()
    if clock is not None:
        state.clock = clock
    app = FastAPI(title="groupbot WeCom simulator", docs_url=None, redoc_url=None)
    app.state.sim = state

    @app.exception_handler(WeComError)
    async def _wecom_error(_request: Request, exc: WeComError) -> JSONResponse:
        return JSONResponse({"errcode": exc.errcode, "errmsg": exc.errmsg})

    async def gate(request: Request, *, send: bool) -> Response | None:
        """Apply an injected fault, if one is drawn, before WeCom's own logic sees the request."""
        uses_token = "access_token" in request.query_params
        fault = state.faults.draw(send=send, uses_token=uses_token)
        if fault is None:
            return None
        log.info("simulator fault injected", extra={"fault": fault.value, "path": request.url.path})
        if fault is Fault.SERVER_ERROR:
            return PlainTextResponse("502 Bad Gateway", status_code=502)
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(state.faults.config.timeout_seconds)
            return PlainTextResponse("504 Gateway Timeout", status_code=504)
        if fault is Fault.UNTRUSTED_IP:
            return JSONResponse({"errcode": 60020, "errmsg": "not allow to access from your ip"})
        if fault is Fault.RATE_LIMIT:
            return JSONResponse({"errcode": 45009, "errmsg": "api freq out of limit"})
        token = state.tokens.get(request.query_params["access_token"])
        if token is not None:
            token.revoked = True
        return JSONResponse({"errcode": 42001, "errmsg": "access_token expired"})

    def app_for(request: Request) -> SimApp:
        value = request.query_params.get("access_token")
        if not value:
            raise WeComError(41001, "access_token missing")
        token = state.tokens.get(value)
        if token is None:
            raise WeComError(40014, "invalid access_token")
        if token.revoked or token.expires_at <= state.clock():
            raise WeComError(42001, "access_token expired")
        return token.app

    api = APIRouter(prefix="/cgi-bin")

    @api.get("/gettoken")
    async def gettoken(request: Request, corpid: str = "", corpsecret: str = "") -> Response:
        if (faulted := await gate(request, send=False)) is not None:
            return faulted
        if not corpid:
            raise WeComError(41002, "corpid missing")
        if not corpsecret:
            raise WeComError(41004, "corpsecret missing")
        apps = [a for a in state.apps if a.corp_id == corpid]
        if not apps:
            raise WeComError(40013, "invalid corpid")
        match = next((a for a in apps if secrets.compare_digest(a.secret, corpsecret)), None)
        if match is None:
            raise WeComError(40001, "invalid credential")
        token = state.issue_token(match)
        remaining = int((token.expires_at - state.clock()).total_seconds())
        return _ok(access_token=token.value, expires_in=remaining)

    @api.post("/message/send")
    async def message_send(request: Request) -> Response:
        if (faulted := await gate(request, send=True)) is not None:
            return faulted
        sim_app = app_for(request)
        body = await _json_body(request)
        if str(body.get("agentid")) != str(sim_app.agent_id):
            raise WeComError(40056, "invalid agentid")
        msgtype, content = _checked(body, allowed=APP_TYPES, markdown_limit=APP_MARKDOWN_LIMIT)
        users = _split_ids(body.get("touser"))
        parties = _split_ids(body.get("toparty"))
        tags = _split_ids(body.get("totag"))
        if not (users or parties or tags):
            raise WeComError(40035, "invalid parameter: touser, toparty and totag are all empty")
        recipients, invalid_users = _resolve_users(state, users)
        invalid_parties = []
        for party in parties:
            found = [m.userid for m in state.members.values() if str(m.department) == party]
            if found:
                recipients.extend(u for u in found if u not in recipients)
            else:
                invalid_parties.append(party)
        target = "|".join(users + [f"party:{p}" for p in parties] + [f"tag:{t}" for t in tags])
        if not recipients:
            state.record(api="message/send", target=target, msgtype=msgtype, content=content,
                         status=Status.REJECTED, errcode=81013, body=body)
            raise WeComError(81013, "user & party & tag all invalid")
        if _wants_duplicate_check(body) and state.is_repeat(
            api="message/send", target=target, msgtype=msgtype, content=content,
            within_seconds=_duplicate_interval(body),
        ):
            state.record(api="message/send", target=target, msgtype=msgtype, content=content,
                         status=Status.DUPLICATE, errcode=0, body=body)
            return _ok(msgid=secrets.token_hex(16))
        delivered, dropped = _deliver_to_members(state, recipients)
        status = Status.DELIVERED if not dropped else Status.PARTIAL if delivered else Status.DROPPED
        if delivered and (invalid_users or invalid_parties or tags):
            status = Status.PARTIAL
        state.record(api="message/send", target=target, msgtype=msgtype, content=content, status=status,
                     errcode=0, delivered_to=delivered, dropped_for=dropped, body=body)
        extra = {"msgid": secrets.token_hex(16)}
        if invalid_users:
            extra["invaliduser"] = "|".join(invalid_users)
        if invalid_parties:
            extra["invalidparty"] = "|".join(invalid_parties)
        if tags:
            extra["invalidtag"] = "|".join(tags)
        return _ok(**extra)

    @api.post("/appchat/create")
    async def appchat_create(request: Request) -> Response:
        if (faulted := await gate(request, send=False)) is not None:
            return faulted
        sim_app = app_for(request)
        body = await _json_body(request)
        userlist = body.get("userlist")
        if not isinstance(userlist, list) or not 2 <= len(userlist) <= 2000:
            raise WeComError(40035, "invalid parameter: userlist needs 2 to 2000 members")
        valid, invalid = _resolve_users(state, [str(u) for u in userlist])
        if invalid:
            raise WeComError(60111, f"userid not found: {len(invalid)} member(s)")
        chatid = body.get("chatid") or secrets.token_hex(8)
        if not isinstance(chatid, str) or not _CHATID.match(chatid):
            raise WeComError(40035, "invalid parameter: chatid must be 1-32 characters [0-9a-zA-Z]")
        with state.lock:
            if chatid in state.chats:
                raise WeComError(86215, "chatid already exists")
            owner = str(body.get("owner") or valid[0])
            name = str(body.get("name") or "群聊")[:50]
            state.chats[chatid] = AppChat(chatid, name, owner, valid, sim_app.agent_id)
        return _ok(chatid=chatid)

    @api.post("/appchat/send")
    async def appchat_send(request: Request) -> Response:
        if (faulted := await gate(request, send=True)) is not None:
            return faulted
        sim_app = app_for(request)
        body = await _json_body(request)
        chat = state.chats.get(str(body.get("chatid", "")))
        # Only chats this app created can be sent to; 86003 is our choice of code for "no such chat".
        if chat is None or chat.agent_id != sim_app.agent_id:
            raise WeComError(86003, "chat not exist or not created by this app")
        msgtype, content = _checked(body, allowed=APP_TYPES, markdown_limit=APP_MARKDOWN_LIMIT)
        limits = (state.chat_member_minute_limit, state.chat_member_day_limit)
        delivered, dropped = _deliver_to_members(state, chat.userlist, limits)
        status = Status.DELIVERED if not dropped else Status.PARTIAL if delivered else Status.DROPPED
        state.record(api="appchat/send", target=chat.chatid, msgtype=msgtype, content=content, status=status,
                     errcode=0, delivered_to=delivered, dropped_for=dropped, body=body)
        return _ok()

    @api.post("/webhook/send")
    async def webhook_send(request: Request, key: str = "") -> Response:
        if (faulted := await gate(request, send=True)) is not None:
            return faulted
        robot = state.robot_name(key) if key else None
        if robot is None:
            raise WeComError(93000, "invalid webhook url")
        body = await _json_body(request)
        msgtype, content = _checked(body, allowed=ROBOT_TYPES, markdown_limit=MARKDOWN_LIMIT)
        part = body.get(msgtype, {})
        if msgtype == "text":
            mentioned = [str(u) for u in part.get("mentioned_list", []) or []]
        else:  # markdown mentions are written inline as <@userid>
            mentioned = _MARKDOWN_MENTION.findall(content) if msgtype == "markdown" else []
        now = state.clock()
        with state.lock:
            allowed = state.robot_limit.allows(robot, now)
            if allowed:
                state.robot_limit.hit(robot, now)
        if not allowed:
            state.record(api="webhook/send", target=robot, msgtype=msgtype, content=content,
                         status=Status.RATE_LIMITED, errcode=45009, mentioned=mentioned, body=body)
            raise WeComError(45009, "api freq out of limit")
        state.record(api="webhook/send", target=robot, msgtype=msgtype, content=content,
                     status=Status.DELIVERED, errcode=0, mentioned=mentioned, body=body)
        return _ok()

    @api.get("/user/get")
    async def user_get(request: Request, userid: str = "") -> Response:
        if (faulted := await gate(request, send=False)) is not None:
            return faulted
        app_for(request)
        member = state.members.get(userid)
        if member is None:
            raise WeComError(60111, "userid not found")
        return JSONResponse(user_get_payload(member))

    @api.get("/department/list")
    async def department_list(request: Request, dept_id: Annotated[str, Query(alias="id")] = "") -> Response:
        if (faulted := await gate(request, send=False)) is not None:
            return faulted
        app_for(request)
        rows = department_rows(int(dept_id) if dept_id.isdigit() else None)
        if dept_id and not rows:
            raise WeComError(60123, "invalid party id")
        return _ok(department=rows)

    app.include_router(api)
    app.include_router(create_admin_router(state))
    return app


def _checked(body: dict, *, allowed: tuple[str, ...], markdown_limit: int) -> tuple[str, str]:
    try:
        return check_body(body, allowed=allowed, markdown_limit=markdown_limit)
    except ContentError as exc:
        raise WeComError(exc.errcode, exc.errmsg) from None


def _resolve_users(state: SimulatorState, users: list[str]) -> tuple[list[str], list[str]]:
    if "@all" in users:
        return list(state.members), []
    valid = [u for u in dict.fromkeys(users) if u in state.members]
    invalid = [u for u in dict.fromkeys(users) if u not in state.members]
    return valid, invalid


def _deliver_to_members(
    state: SimulatorState, recipients: list[str], limits: tuple[RollingLimit, ...] | None = None
) -> tuple[list[str], list[str]]:
    """Past a per-member limit WeCom answers ok and shows nothing: we record the drop.

    message/send: 30/min and 1000/h per member; appchat/send: 200/min and 10,000/day.
    """
    limits = limits or (state.member_minute_limit, state.member_hour_limit)
    now = state.clock()
    delivered, dropped = [], []
    with state.lock:
        for userid in recipients:
            if all(limit.allows(userid, now) for limit in limits):
                for limit in limits:
                    limit.hit(userid, now)
                delivered.append(userid)
            else:
                dropped.append(userid)
    return delivered, dropped


def _wants_duplicate_check(body: dict) -> bool:
    return str(body.get("enable_duplicate_check", 0)) == "1"


def _duplicate_interval(body: dict) -> float:
    """`duplicate_check_interval`: default 1800 s, at most 4 hours (WeCom's message/send doc)."""
    try:
        seconds = float(body.get("duplicate_check_interval", 1800))
    except (TypeError, ValueError):
        raise WeComError(40035, "invalid parameter: duplicate_check_interval") from None
    return min(max(seconds, 0.0), 4 * 3600.0)
