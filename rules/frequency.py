"""Frequency: how many posts one member makes in one group within a rolling window.

The rule itself is pure: the caller passes the `sent_at` of the member's earlier messages in that
group (the service reads them from the database, replay keeps them in `FrequencyHistory`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from rules.config import FrequencySettings, RulesConfig
from rules.model import Facts, GroupMessage, Violation

if TYPE_CHECKING:
    from rules.workdays import WorkCalendar


@dataclass(frozen=True, slots=True)
class Frequency:
    """No one posts more than 10 messages in the same group within any 60 minutes.

    Example: the 11th message from zhangwei in wr-sales-east within (t - 60 min, t] is a violation,
    and so is every further one; the same 11 messages spread over two groups are not.
    """

    exemptible: ClassVar[bool] = True

    settings: FrequencySettings
    window: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "window", timedelta(minutes=self.settings.window_minutes))

    @classmethod
    def build(cls, rules: RulesConfig, calendar: WorkCalendar) -> Frequency:
        return cls(rules.frequency)

    def check(self, msg: GroupMessage, facts: Facts) -> Violation | None:
        """`facts.prior`: the sender's earlier posts in this group; those in (t - window, t] count."""
        prior, sent_at = facts.prior, msg.sent_at
        if len(prior) < self.settings.limit:
            return None
        since = sent_at - self.window
        count = 1 + sum(1 for t in prior if since < t <= sent_at)
        if count <= self.settings.limit:
            return None
        # The count itself is left out: a bounded history (replay) and the database agree on
        # "more than the limit" but not on how far beyond it a burst went.
        limit, minutes = self.settings.limit, self.settings.window_minutes
        return Violation(rule="frequency", detail=f"more than {limit} messages in this group within {minutes} minutes")


class FrequencyHistory:
    """Recent post times per (chat_id, sender), in memory, for replay without a database.

    Only the latest `keep` times per member matter (a limit of N needs the N most recent), so memory
    stays bounded however long the file; members silent for longer than `horizon` are dropped now and then.
    """

    __slots__ = ("keep", "horizon", "_times", "_adds")

    def __init__(self, keep: int, horizon: timedelta) -> None:
        self.keep = keep
        self.horizon = horizon
        self._times: dict[tuple[str, str], deque[datetime]] = {}
        self._adds = 0

    def prior(self, chat_id: str, sender: str, sent_at: datetime) -> list[datetime]:
        """Earlier posts of `sender` in `chat_id` within the horizon, none after `sent_at`."""
        times = self._times.get((chat_id, sender))
        if not times:
            return []
        since = sent_at - self.horizon
        return [t for t in times if since < t <= sent_at]

    def add(self, chat_id: str, sender: str, sent_at: datetime) -> None:
        key = (chat_id, sender)
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = deque(maxlen=self.keep)
        times.append(sent_at)
        self._adds += 1
        if self._adds % 100_000 == 0:
            self._sweep(sent_at)

    def _sweep(self, now: datetime) -> None:
        since = now - self.horizon
        for key in [k for k, times in self._times.items() if times[-1] <= since]:
            del self._times[key]

    def __len__(self) -> int:
        return len(self._times)
