"""App group chats (appchat/create, appchat/send): groups the app itself created, e.g. a managers' room.

WeCom only lets an app post to chats it created, and only when its visible range is the root
department (60011 otherwise); both end as dead letters with that explanation.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from bot.senders.token import TokenCache, with_token
from bot.senders.wecom_http import post
from handlers.dispatch import Outgoing
from storage.ratelimit import Limit


class AppChatSender:
    kind = "appchat"

    def __init__(self, client: httpx.AsyncClient, tokens: TokenCache, *, api_base: str) -> None:
        self.client = client
        self.tokens = tokens
        self.base = api_base.rstrip("/")

    def limits(self, item: Outgoing) -> Sequence[Limit]:
        # WeCom allows 20,000 person-sends a minute per corp; alerts come nowhere near it.
        return []

    async def send(self, item: Outgoing) -> None:
        body = {"chatid": item.target, **item.body}

        async def call(token: str) -> dict:
            return await post(self.client, f"{self.base}/appchat/send", "appchat/send",
                              params={"access_token": token}, json=body)

        await with_token(self.tokens, call)

    async def create(self, *, name: str, owner: str, members: list[str], chatid: str | None = None) -> str:
        """Create a chat (2-2000 members) and return its chatid."""
        body = {"name": name, "owner": owner, "userlist": members, **({"chatid": chatid} if chatid else {})}

        async def call(token: str) -> dict:
            return await post(self.client, f"{self.base}/appchat/create", "appchat/create",
                              params={"access_token": token}, json=body)

        answer = await with_token(self.tokens, call)
        return str(answer["chatid"])
