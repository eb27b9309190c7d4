"""What every handler needs, passed in explicitly: configuration, the rule engine, keys, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.config import AppConfig
from storage.sealing import PayloadSealer

if TYPE_CHECKING:
    from rules.engine import RuleEngine


#: The one clock type: a function returning an aware UTC datetime. Everything that needs the time takes
#: one (or `now`) instead of asking the system, so tests and the simulator can move time by hand.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, in UTC: the default `Clock` everywhere (app, web, scheduler, senders, simulator)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class HandlerContext:
    config: AppConfig
    engine: RuleEngine
    #: Keys the HMAC of stored message text (derived from GROUPBOT_SECRET_KEY).
    hmac_key: bytes
    #: Base URL for links in alerts (the dashboard).
    public_url: str = "http://127.0.0.1:8000"
    clock: Clock = field(default=system_clock)
    #: Opens sealed inbox payloads (derived from GROUPBOT_SECRET_KEY once, at app creation).
    sealer: PayloadSealer | None = None
