"""The access-token cache: one gettoken for every replica, refreshed on expiry and on rejection."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from bot.errors import PermanentSendError, TokenExpiredError
from bot.senders.token import TokenCache, with_token
from bot.simulator.clock import ManualClock
from storage.db import make_session_factory
from tests.conftest import sh


class FakeGettoken:
    """WeCom's gettoken: a new token each time it is asked (counts the calls)."""

    def __init__(self, expires_in: int = 7200, errcode: int = 0) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.errcode = errcode

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/cgi-bin/gettoken"
        self.calls += 1
        if self.errcode:
            return httpx.Response(200, json={"errcode": self.errcode, "errmsg": "invalid credential"})
        return httpx.Response(
            200, json={"errcode": 0, "access_token": f"tok-{self.calls}", "expires_in": self.expires_in}
        )


def caches(
    engine: Engine, wecom: FakeGettoken, clock: ManualClock, n: int = 2
) -> tuple[list[TokenCache], httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(wecom))
    factory = make_session_factory(engine)
    made = [
        TokenCache(client, factory, api_base="https://qyapi.test/cgi-bin", corp_id="ww-corp", secret="app-secret",
                   clock=clock)
        for _ in range(n)
    ]
    return made, client


def test_replicas_share_one_token_until_it_nears_expiry(engine: Engine) -> None:
    wecom, clock = FakeGettoken(), ManualClock(sh(2026, 3, 2, 9, 0))
    (a, b), client = caches(engine, wecom, clock)

    async def go() -> list[str]:
        got = [await a.get(), await b.get(), await a.get()]
        clock.advance(7200 - 299)  # inside the 5-minute margin: fetch a fresh one
        got.append(await b.get())
        await client.aclose()
        return got

    assert asyncio.run(go()) == ["tok-1", "tok-1", "tok-1", "tok-2"]
    assert wecom.calls == 2


def test_a_rejected_token_is_replaced_once_and_the_call_repeated(engine: Engine) -> None:
    wecom, clock = FakeGettoken(), ManualClock(sh(2026, 3, 2, 9, 0))
    (a, b), client = caches(engine, wecom, clock)
    seen: list[str] = []

    async def call(token: str) -> str:
        seen.append(token)
        if token == "tok-1":
            raise TokenExpiredError("message/send: access_token expired", 42001)
        return "sent"

    async def go() -> str:
        await a.get()
        result = await with_token(b, call)
        # The other replica now reads the fresh token; its stale refresh does not drop it.
        await a.refresh("tok-1")
        assert await a.get() == "tok-2"
        await client.aclose()
        return result

    assert asyncio.run(go()) == "sent"
    assert seen == ["tok-1", "tok-2"]
    assert wecom.calls == 2


def test_a_wrong_secret_is_permanent_and_names_no_secret(engine: Engine) -> None:
    wecom, clock = FakeGettoken(errcode=40001), ManualClock(sh(2026, 3, 2, 9, 0))
    (a,), client = caches(engine, wecom, clock, n=1)
    with pytest.raises(PermanentSendError) as caught:
        asyncio.run(a.get())
    asyncio.run(client.aclose())
    assert caught.value.errcode == 40001
    assert "app-secret" not in str(caught.value) and "app-secret" not in repr(a)
    assert timedelta(minutes=5) == a.margin
