"""Access tokens for the self-built app, cached in the database so that every replica shares one.

`get()` answers from the database while the token has more than `margin` to live, else calls
gettoken once and stores the answer. `refresh(rejected)` is for a 40014/42001 answer: it drops the
token only if it is still the rejected one (another replica may already have a fresh one).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import PermanentSendError, TokenExpiredError
from bot.senders.wecom_http import get
from handlers.context import Clock
from storage import tokens

T = TypeVar("T")


class TokenCache:
    def __init__(
        self,
        client: httpx.AsyncClient,
        session_factory: sessionmaker[Session],
        *,
        api_base: str,
        corp_id: str,
        secret: str,
        clock: Clock,
        margin: timedelta = timedelta(minutes=5),
    ) -> None:
        self.client = client
        self.session_factory = session_factory
        self.api_base = api_base.rstrip("/")
        self.corp_id = corp_id
        self._secret = secret
        self.clock = clock
        self.margin = margin
        # A fingerprint, not the secret: the table may be read by people who must not send.
        self.key = hashlib.sha256(f"{corp_id}:{secret}".encode()).hexdigest()[:32]
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TokenCache(corp_id={self.corp_id!r}, key={self.key!r})"

    def _cached(self) -> str | None:
        with self.session_factory() as session:
            return tokens.valid_token(session, key=self.key, now=self.clock(), margin=self.margin)

    async def get(self) -> str:
        token = await asyncio.to_thread(self._cached)
        if token is not None:
            return token
        async with self._lock:  # one gettoken per process however many sends wait for it
            token = await asyncio.to_thread(self._cached)
            if token is not None:
                return token
            return await self._fetch()

    async def refresh(self, rejected: str) -> str:
        def drop() -> None:
            with self.session_factory() as session:
                tokens.invalidate(session, key=self.key, token=rejected)
                session.commit()

        await asyncio.to_thread(drop)
        return await self.get()

    async def _fetch(self) -> str:
        if not self.corp_id or not self._secret:
            raise PermanentSendError("gettoken: GROUPBOT_CORP_ID and GROUPBOT_APP_SECRET must be set")
        now = self.clock()
        answer = await get(
            self.client, f"{self.api_base}/gettoken", "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self._secret},
        )
        token = str(answer["access_token"])
        expires_at = now + timedelta(seconds=int(answer.get("expires_in", 7200)))

        def save() -> None:
            with self.session_factory() as session:
                tokens.save_token(session, key=self.key, token=token, expires_at=expires_at)
                session.commit()

        await asyncio.to_thread(save)
        return token


async def with_token(cache: TokenCache, call: Callable[[str], Awaitable[T]]) -> T:
    """Run `call(token)`; on 40014/42001 refresh the token and run it once more (WeCom's advice).

    Safe to repeat: WeCom answered with an error, so the first call delivered nothing.
    """
    token = await cache.get()
    try:
        return await call(token)
    except TokenExpiredError:
        token = await cache.refresh(token)
        return await call(token)
