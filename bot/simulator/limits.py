"""Rolling-window counters, the shape of every WeCom rate limit (20/min per robot, 30/min per member)."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta


class RollingLimit:
    """At most `limit` events per key in any `window`; WeCom counts on a rolling, not a fixed, minute.

    Example: `RollingLimit(20, timedelta(seconds=60))` is the group-robot webhook limit.
    """

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[datetime]] = defaultdict(deque)

    def _trim(self, key: str, now: datetime) -> deque[datetime]:
        events = self._events[key]
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def allows(self, key: str, now: datetime) -> bool:
        return len(self._trim(key, now)) < self.limit

    def hit(self, key: str, now: datetime) -> None:
        self._trim(key, now).append(now)

    def count(self, key: str, now: datetime) -> int:
        return len(self._trim(key, now))

    def retry_after(self, key: str, now: datetime) -> float:
        """Seconds until one more event fits (0 when it already does)."""
        events = self._trim(key, now)
        if len(events) < self.limit:
            return 0.0
        return (events[0] + self.window - now).total_seconds()

    def reset(self) -> None:
        self._events.clear()

    def __repr__(self) -> str:
        return f"RollingLimit(limit={self.limit}, window={self.window})"
