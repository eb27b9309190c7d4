"""WeCom's contacts API (user/get): a member's name, for the member directory."""

from __future__ import annotations

import httpx

from bot.errors import PermanentSendError
from bot.senders.token import TokenCache, with_token
from bot.senders.wecom_http import get
from handlers.directory import Person

USER_NOT_FOUND = 60111


class ContactsLookup:
    """`await lookup(userid)` -> Person, or None when WeCom does not know the userid."""

    def __init__(self, client: httpx.AsyncClient, tokens: TokenCache, *, api_base: str) -> None:
        self.client = client
        self.tokens = tokens
        self.url = f"{api_base.rstrip('/')}/user/get"

    async def __call__(self, userid: str) -> Person | None:
        async def call(token: str) -> dict:
            return await get(self.client, self.url, "user/get", params={"access_token": token, "userid": userid})

        try:
            answer = await with_token(self.tokens, call)
        except PermanentSendError as exc:
            if exc.errcode == USER_NOT_FOUND:
                return None
            raise
        # user/get gives department *ids*; names would need department/list, which many apps may
        # not read. Alerts show a department only when config.yaml `members:` names it.
        return Person(userid=userid, name=str(answer.get("name") or userid))
