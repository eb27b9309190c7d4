"""The shared rolling-window limiter: a slot in every limit, or a wait until one frees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage import ratelimit
from storage.db import make_session_factory
from storage.ratelimit import Limit
from tests.conftest import sh
from tests.helpers.threads import run_together

T0 = sh(2026, 3, 2, 10, 0)
MINUTE = timedelta(seconds=60)
ROBOT = Limit("robot:east", 20, MINUTE)


@pytest.mark.parametrize(
    ("offsets", "now_offset", "expected_wait"),
    [
        ([], 0, 0.0),
        ([0] * 19, 0, 0.0),  # the 20th fits
        ([0] * 20, 0, 60.0),  # the 21st waits for the first to leave the window
        ([0] * 10 + [30] * 10, 45, 15.0),
        ([0] * 10 + [30] * 10, 60, 0.0),  # the first ten left at exactly 60 s (rolling, exclusive)
    ],
)
def test_wait_until_a_slot_frees(session: Session, offsets: list[int], now_offset: int, expected_wait: float) -> None:
    for offset in offsets:
        assert ratelimit.acquire(session, limits=[ROBOT], now=T0 + timedelta(seconds=offset)) == 0.0
    wait = ratelimit.acquire(session, limits=[ROBOT], now=T0 + timedelta(seconds=now_offset))
    assert wait == pytest.approx(expected_wait, abs=0.01)


def test_all_limits_or_none(session: Session) -> None:
    minute, hour = Limit("member-min:lisi", 2, MINUTE), Limit("member-hour:lisi", 3, timedelta(hours=1))
    assert ratelimit.acquire(session, limits=[minute, hour], now=T0) == 0.0
    assert ratelimit.acquire(session, limits=[minute, hour], now=T0) == 0.0
    assert ratelimit.acquire(session, limits=[minute, hour], now=T0) == pytest.approx(60.0)
    # The refused attempt took no slot in the hour limit either: one more fits in the hour.
    assert ratelimit.acquire(session, limits=[minute, hour], now=T0 + MINUTE) == 0.0
    assert ratelimit.acquire(session, limits=[minute, hour], now=T0 + 2 * MINUTE) == pytest.approx(3480.0)


def test_prune_forgets_what_no_window_sees(session: Session) -> None:
    ratelimit.acquire(session, limits=[ROBOT], now=T0)
    ratelimit.acquire(session, limits=[ROBOT], now=T0 + timedelta(hours=3))
    assert ratelimit.prune(session, older_than=T0 + timedelta(hours=1)) == 1


def test_replicas_racing_for_one_robot_take_exactly_its_limit(engine: Engine) -> None:
    factory = make_session_factory(engine)
    granted: list[int] = []

    def replica(_owner: str) -> None:
        for _ in range(10):
            with factory() as session:
                if ratelimit.acquire(session, limits=[ROBOT], now=T0) == 0.0:
                    granted.append(1)
                session.commit()

    run_together(replica, [f"replica-{n}" for n in range(4)])
    assert len(granted) == 20
