"""App messages (message/send) to managers and reps: markdown, textcard or text, under the app's agentid.

WeCom shows at most 30 messages a minute and 1,000 an hour to one member and silently drops the
rest (errcode 0), so `limits` paces every recipient in the shared limiter before sending.
`enable_duplicate_check` makes WeCom drop an identical message to the same people within the
interval: what lets the dispatcher resend a message whose outcome a crash left unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import httpx

from bot.config import OutboxConfig
from bot.errors import PermanentSendError
from bot.senders.token import TokenCache, with_token
from bot.senders.wecom_http import post
from handlers.dispatch import Outgoing
from storage.ratelimit import Limit

log = logging.getLogger(__name__)

#: WeCom's longest duplicate-check interval (4 h), far beyond any dispatcher lease.
DUPLICATE_CHECK_SECONDS = 14400


class AppMessageSender:
    kind = "app"

    def __init__(
        self, client: httpx.AsyncClient, tokens: TokenCache, *, api_base: str, agent_id: int | None,
        config: OutboxConfig,
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.url = f"{api_base.rstrip('/')}/message/send"
        self.agent_id = agent_id
        self.config = config

    def limits(self, item: Outgoing) -> Sequence[Limit]:
        out: list[Limit] = []
        for userid in sorted(set(item.target.split("|")) - {""}):
            out.append(Limit(f"member-min:{userid}", self.config.member_per_minute, timedelta(seconds=61)))
            out.append(Limit(f"member-hour:{userid}", self.config.member_per_hour, timedelta(hours=1)))
        return out

    async def send(self, item: Outgoing) -> None:
        if self.agent_id is None:
            raise PermanentSendError("message/send: GROUPBOT_AGENT_ID is not set")
        body = {
            "touser": item.target,
            "agentid": self.agent_id,
            **item.body,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
        }

        async def call(token: str) -> dict:
            return await post(self.client, self.url, "message/send", params={"access_token": token}, json=body)

        answer = await with_token(self.tokens, call)
        if answer.get("invaliduser"):
            # Delivered to the others; the unknown ones are a config.yaml problem worth a log line.
            log.warning("message/send: some recipients unknown to WeCom",
                        extra={"outbox_id": item.id, "invaliduser": answer["invaliduser"]})
