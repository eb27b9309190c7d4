"""Shared set-up for flow tests that judge real messages and read what WeCom received.

`judge(...)` runs messages through handlers.message.handle_message with a processing clock;
`deliver(...)` sends everything queued to the simulator through the real Outbound (dispatcher,
senders, directory lookups) and returns the simulator's record.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig, OutboxConfig
from bot.senders.service import Outbound
from bot.settings import Settings
from bot.simulator.clock import advance_to_next_due
from bot.simulator.state import Record, Status
from handlers.context import HandlerContext
from handlers.message import handle_message
from rules.engine import RuleEngine
from rules.model import GroupMessage
from tests.helpers.simulator import SimulatorHandle

ROBOTS = {"east": "key-east-0001", "south": "key-south-0001"}
URL = "https://groupbot.example.com"
FAST = OutboxConfig(send_timeout_seconds=5, backoff_base_seconds=1, backoff_max_seconds=30, lease_seconds=30)


def context(config: AppConfig, clock: Callable[[], datetime]) -> HandlerContext:
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    return HandlerContext(config=config, engine=engine, hmac_key=b"k" * 32, public_url=URL, clock=clock)


def message(msgid: str, at: datetime, text: str, *, sender: str = "zhangwei", chat_id: str = "wr-sales-east",
            chat_name: str | None = None) -> GroupMessage:
    return GroupMessage(msgid=msgid, chat_id=chat_id, sender=sender, sent_at=at, text=text, source="callback",
                        chat_name=chat_name)


def judge(factory: sessionmaker[Session], ctx: HandlerContext, messages: Iterable[GroupMessage]) -> None:
    for msg in messages:
        with factory() as session:
            handle_message(session, ctx, msg)


def settings_for(sim: SimulatorHandle) -> Settings:
    return Settings(
        wecom_api_base=sim.api_base, corp_id=sim.state.corp_id, app_secret=sim.state.app.secret,
        agent_id=sim.state.app.agent_id, robot_keys=json.dumps(ROBOTS),
    )


def deliver(config: AppConfig, sim: SimulatorHandle, factory: sessionmaker[Session], *,
            owners: tuple[str, ...] = ("replica-1",)) -> list[Record]:
    """Send every queued row (moving the simulator's clock to each due time); the delivered record.

    Several `owners` run one dispatcher each, taking turns round by round on one event loop.
    """

    async def go() -> None:
        outs = [Outbound(config.model_copy(update={"outbox": FAST}), settings_for(sim), factory,
                         clock=sim.clock, owner=o) for o in owners]
        try:
            for _ in range(2000):
                outcomes = await asyncio.gather(*(o.dispatcher.run_once() for o in outs))
                if not any(o.total for o in outcomes) and not advance_to_next_due(sim.clock, factory):
                    return
            raise AssertionError("outbox did not drain")
        finally:
            for o in outs:
                await o.client.aclose()

    asyncio.run(go())
    return [r for r in sim.messages() if r.status in (Status.DELIVERED, Status.PARTIAL)]
