"""Everything that talks to WeCom on the way out. `SENDERS` is the explicit list of channels.

Each sender satisfies handlers.dispatch.Sender; `build_senders` wires them to one HTTP client, the
shared token cache and the settings. Adding a channel: a module here, one line in `SENDERS`, one
in `build_senders`.
"""

from __future__ import annotations

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.senders.app_message import AppMessageSender
from bot.senders.appchat import AppChatSender
from bot.senders.robot import RobotSender
from bot.senders.token import TokenCache
from bot.settings import Settings
from handlers.context import Clock
from handlers.dispatch import Sender

SENDERS: dict[str, type] = {
    "robot": RobotSender,
    "app": AppMessageSender,
    "appchat": AppChatSender,
}


def token_cache(
    client: httpx.AsyncClient, settings: Settings, session_factory: sessionmaker[Session],
    clock: Clock,
) -> TokenCache:
    secret = settings.app_secret.get_secret_value() if settings.app_secret else ""
    return TokenCache(
        client, session_factory, api_base=settings.wecom_api_base, corp_id=settings.corp_id, secret=secret,
        clock=clock,
    )


def build_senders(
    client: httpx.AsyncClient, settings: Settings, config: AppConfig, tokens: TokenCache
) -> dict[str, Sender]:
    base = settings.wecom_api_base
    return {
        "robot": RobotSender(client, api_base=base, robot_key=settings.robot_key, config=config.outbox),
        "app": AppMessageSender(client, tokens, api_base=base, agent_id=settings.agent_id, config=config.outbox),
        "appchat": AppChatSender(client, tokens, api_base=base),
    }
