"""App messages to managers: agentid and recipients added, duplicate check on, pacing per member."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from bot.config import OutboxConfig
from bot.errors import PermanentSendError
from bot.senders.app_message import AppMessageSender
from bot.senders.token import TokenCache
from bot.simulator.clock import ManualClock
from handlers.dispatch import Outgoing
from storage.db import make_session_factory
from storage.ratelimit import Limit
from tests.conftest import sh

ALERT = {"msgtype": "markdown", "markdown": {"content": "**【违规提醒】华东销售群**\n> 成员：张伟"}}


class FakeWeCom:
    """gettoken plus message/send answering from a script (first answers first)."""

    def __init__(self, answers: list[dict]) -> None:
        self.answers = list(answers)
        self.sends: list[httpx.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gettoken"):
            self.tokens += 1
            return httpx.Response(200, json={"errcode": 0, "access_token": f"tok-{self.tokens}", "expires_in": 7200})
        self.sends.append(request)
        return httpx.Response(200, json=self.answers.pop(0))


def send(engine: Engine, wecom: FakeWeCom, *, agent_id: int | None = 1000002) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(wecom)) as client:
            tokens = TokenCache(client, make_session_factory(engine), api_base="https://qyapi.test/cgi-bin",
                                corp_id="ww-corp", secret="s", clock=ManualClock(sh(2026, 3, 2, 9, 0)))
            sender = AppMessageSender(client, tokens, api_base="https://qyapi.test/cgi-bin", agent_id=agent_id,
                                      config=OutboxConfig())
            await sender.send(Outgoing(7, "alert:x", "app", "lisi|wangfang", ALERT, 1))

    asyncio.run(go())


def test_sends_markdown_to_the_managers_under_the_apps_agentid(engine: Engine) -> None:
    wecom = FakeWeCom([{"errcode": 0, "errmsg": "ok", "msgid": "m1"}])
    send(engine, wecom)
    [request] = wecom.sends
    assert request.url.params["access_token"] == "tok-1"
    assert json.loads(request.content) == {
        "touser": "lisi|wangfang", "agentid": 1000002, **ALERT,
        "enable_duplicate_check": 1, "duplicate_check_interval": 14400,
    }


def test_an_expired_token_is_refreshed_and_the_send_repeated_once(engine: Engine) -> None:
    wecom = FakeWeCom([{"errcode": 42001, "errmsg": "access_token expired"}, {"errcode": 0, "errmsg": "ok"}])
    send(engine, wecom)
    assert [r.url.params["access_token"] for r in wecom.sends] == ["tok-1", "tok-2"]


@pytest.mark.parametrize(
    ("answers", "agent_id", "errcode"),
    [
        ([{"errcode": 60020, "errmsg": "not allow to access from your ip"}], 1000002, 60020),
        ([{"errcode": 81013, "errmsg": "user & party & tag all invalid"}], 1000002, 81013),
        ([], None, None),  # no GROUPBOT_AGENT_ID: nothing is sent
    ],
)
def test_permanent_failures(engine: Engine, answers: list[dict], agent_id: int | None, errcode: int | None) -> None:
    with pytest.raises(PermanentSendError) as caught:
        send(engine, FakeWeCom(answers), agent_id=agent_id)
    assert caught.value.errcode == errcode


def test_every_recipient_is_paced_per_minute_and_per_hour() -> None:
    sender = AppMessageSender(httpx.AsyncClient(), None, api_base="https://x", agent_id=1,  # type: ignore[arg-type]
                              config=OutboxConfig())
    assert sender.limits(Outgoing(1, "k", "app", "wangfang|lisi", {}, 0)) == [
        Limit("member-min:lisi", 30, timedelta(seconds=61)),
        Limit("member-hour:lisi", 1000, timedelta(hours=1)),
        Limit("member-min:wangfang", 30, timedelta(seconds=61)),
        Limit("member-hour:wangfang", 1000, timedelta(hours=1)),
    ]
