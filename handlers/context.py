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


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class HandlerContext:
    config: AppConfig
    engine: RuleEngine
    #: Keys the HMAC of stored message text (derived from GROUPBOT_SECRET_KEY).
    hmac_key: bytes
    #: Base URL for links in alerts (the dashboard).
    public_url: str = "http://127.0.0.1:8000"
    clock: Callable[[], datetime] = field(default=system_clock)
    #: Opens sealed inbox payloads (derived from GROUPBOT_SECRET_KEY once, at app creation).
    sealer: PayloadSealer | None = None
