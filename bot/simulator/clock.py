"""A manual clock for the simulator and tests, moved forward by hand (the wall clock is
`handlers.context.system_clock`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage import outbox


class ManualClock:
    """A clock that only moves when told to, so a test can spend "minutes" without sleeping.

    Example: `clock = ManualClock(); clock.advance(61)` puts every rolling window one minute on.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, value: datetime) -> None:
        """Set the time outright (`clock.now = monday_9am`, `clock.now += timedelta(hours=1)`)."""
        if value.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        with self._lock:
            self._now = value

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"


def advance_to_next_due(clock: ManualClock, sessions: sessionmaker[Session], *, min_step: float = 1.0) -> bool:
    """Move `clock` to when the next outbox row falls due (at least `min_step` seconds on), so a
    dispatcher can be drained without sleeping through its backoffs; False when nothing is pending."""
    with sessions() as session:
        due = outbox.next_due_at(session)
    if due is None:
        return False
    clock.advance(max((due - clock()).total_seconds(), min_step))
    return True
