"""The outbound side as one runnable piece: dispatcher + member-directory refresh, one HTTP client.

`bot/app.py` runs it in the service's lifespan; `groupbot dispatch` runs it alone. Both stop it with
`stop()`, which lets sends in flight finish and be recorded (see handlers/dispatch.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.senders import build_senders, token_cache
from bot.senders.contacts import ContactsLookup
from bot.settings import Settings
from handlers.context import Clock, system_clock
from handlers.directory import refresh_directory, resolve_names
from handlers.dispatch import Dispatcher

log = logging.getLogger(__name__)

#: How often the directory looks for members it has not named yet.
DIRECTORY_POLL_SECONDS = 30.0


class Outbound:
    def __init__(
        self,
        config: AppConfig,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock = system_clock,
        transport: httpx.AsyncBaseTransport | None = None,
        owner: str | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock
        self.client = httpx.AsyncClient(timeout=config.outbox.send_timeout_seconds, transport=transport)
        self.tokens = token_cache(self.client, settings, session_factory, clock)
        self.senders = build_senders(self.client, settings, config, self.tokens)
        self.lookup = ContactsLookup(self.client, self.tokens, api_base=settings.wecom_api_base)
        self.dispatcher = Dispatcher(
            session_factory, self.senders, config.outbox, owner=owner, clock=clock, names=self._names
        )
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Dispatch and keep the directory fresh until `stop()`; then close the HTTP client."""
        try:
            await asyncio.gather(self.dispatcher.run(), self._directory_loop())
        finally:
            await self.client.aclose()

    async def _names(self, userids: Sequence[str]) -> dict[str, str]:
        lookup = self.lookup if self.settings.corp_id and self.settings.app_secret else None
        return await resolve_names(self.session_factory, self.config, lookup, userids, now=self.clock())

    def stop(self) -> None:
        self._stop.set()
        self.dispatcher.stop()

    async def _directory_loop(self) -> None:
        if not (self.settings.corp_id and self.settings.app_secret):
            return  # no app credentials: names come from config.yaml only
        while not self._stop.is_set():
            try:
                await refresh_directory(self.session_factory, self.config, self.lookup, now=self.clock())
            except Exception:  # the contacts API or the database is down: try again later
                log.exception("directory refresh failed")
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=DIRECTORY_POLL_SECONDS)
            except TimeoutError:
                pass


async def run_outbound_task(app: Any, stop: asyncio.Event) -> None:
    """The service's background task (bot/app.py BACKGROUND_TASKS): dispatch until the lifespan ends."""
    state = app.state
    outbound = Outbound(state.config, state.settings, state.sessions, clock=state.clock)
    running = asyncio.create_task(outbound.run())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    outbound.stop()
    stopped.cancel()
    await running
