"""appchat/create and appchat/send against the simulator: only chats this app created accept posts."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import Engine

from bot.errors import PermanentSendError
from bot.senders.appchat import AppChatSender
from bot.senders.token import TokenCache
from handlers.dispatch import Outgoing
from storage.db import make_session_factory
from tests.helpers.simulator import running_simulator

DIGEST = {"msgtype": "markdown", "markdown": {"content": "**今日违规汇总**\n> 华东销售群 3 条"}}


@pytest.mark.parametrize(("chatid", "delivered"), [(None, True), ("notourchat01", False)])
def test_posts_reach_only_a_chat_the_app_created(engine: Engine, chatid: str | None, delivered: bool) -> None:
    with running_simulator() as sim:

        async def go() -> None:
            async with httpx.AsyncClient() as client:
                tokens = TokenCache(client, make_session_factory(engine), api_base=sim.api_base,
                                    corp_id=sim.state.corp_id, secret=sim.state.app.secret, clock=sim.clock)
                sender = AppChatSender(client, tokens, api_base=sim.api_base)
                created = await sender.create(name="销售管理群", owner="wangfang", members=["wangfang", "lisi"],
                                              chatid="salesmgmt01")
                assert created == "salesmgmt01"
                await sender.send(Outgoing(1, "digest:2026-03-02", "appchat", chatid or created, DIGEST, 1))

        if delivered:
            asyncio.run(go())
            [record] = sim.messages(api="appchat/send")
            assert (record.target, record.delivered_to) == ("salesmgmt01", ["wangfang", "lisi"])
            assert record.content == DIGEST["markdown"]["content"]
        else:
            with pytest.raises(PermanentSendError) as caught:
                asyncio.run(go())
            assert caught.value.errcode == 86003
