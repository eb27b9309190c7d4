"""Group-robot webhook (群机器人): text with @-mentions, markdown, image (base64 + md5).

The robot's key is the whole credential, so it comes from GROUPBOT_ROBOT_KEYS by robot name and is
never logged or put in an error. WeCom allows 20 posts per minute per robot and answers 45009
beyond; `limits` claims a slot in the shared (database) limiter before each post, with a second of
margin so that network jitter between us and WeCom cannot make 21 land in WeCom's minute.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from datetime import timedelta

import httpx

from bot.config import OutboxConfig
from bot.errors import PermanentSendError
from bot.senders.wecom_http import post
from handlers.dispatch import Outgoing
from storage.ratelimit import Limit

#: WeCom's minute plus a margin for clock and network skew.
ROBOT_WINDOW = timedelta(seconds=61)


def image_body(image: bytes) -> dict:
    """The webhook body for a PNG/JPG (≤ 2 MB), e.g. a leaderboard chart."""
    encoded = base64.b64encode(image).decode()
    return {"msgtype": "image", "image": {"base64": encoded, "md5": hashlib.md5(image).hexdigest()}}


class RobotSender:
    kind = "robot"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_base: str,
        robot_key: Callable[[str], str | None],
        config: OutboxConfig,
        window: timedelta = ROBOT_WINDOW,
    ) -> None:
        self.client = client
        self.url = f"{api_base.rstrip('/')}/webhook/send"
        self._robot_key = robot_key
        self.per_minute = config.robot_per_minute
        self.window = window

    def limits(self, item: Outgoing) -> Sequence[Limit]:
        return [Limit(f"robot:{item.target}", self.per_minute, self.window)]

    async def send(self, item: Outgoing) -> None:
        key = self._robot_key(item.target)
        if not key:
            raise PermanentSendError(f"webhook/send: no key for robot {item.target!r} in GROUPBOT_ROBOT_KEYS")
        await post(self.client, self.url, "webhook/send", params={"key": key}, json=item.body)
