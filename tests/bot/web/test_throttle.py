"""Login throttling: wrong passwords cost growing delays for whoever types them; nobody can lock the
real user out. Defaults: 3 free failures per (account, address), 20 per address, 10 per account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.config import LockoutConfig
from tests.bot.web.conftest import PASSWORD, login

ATTACKER = "203.0.113.66"
OWNER = "10.1.2.7"
WRONG = "guess-guess-1"


def browser(app, address: str) -> TestClient:
    return TestClient(app, base_url="http://testserver", client=(address, 50000))


def test_an_attacker_cannot_hold_the_owner_out(app, seeded, clock):
    attacker, owner = browser(app, ATTACKER), browser(app, OWNER)
    statuses = []
    for _ in range(40):  # a long attack on the admin, one try a second
        statuses.append(login(attacker, "boss", WRONG).status_code)
        clock.now += timedelta(seconds=1)
    assert statuses[:3] == [401, 401, 401] and 429 in statuses and set(statuses) == {401, 429}
    assert login(owner, "boss").status_code == 303  # the admin from their own desk: in at once
    assert login(attacker, "boss", PASSWORD).status_code == 429  # the attacker's guesses stay slowed


@pytest.mark.parametrize(("failures", "wait"), [(3, 0), (4, 1), (6, 4), (14, 900)])
def test_delays_grow_per_account_and_address(app, seeded, clock, failures, wait):
    """After the 3 free failures: 1 s, 2 s, 4 s ... capped at 15 min; the right password waits too."""
    c = browser(app, ATTACKER)
    for _ in range(failures):
        response = login(c, "lisi", WRONG)
        if response.status_code == 429:  # wait out each delay, as a patient guesser would
            clock.now += timedelta(seconds=int(response.headers["retry-after"]))
            response = login(c, "lisi", WRONG)
        assert response.status_code == 401
    response = login(c, "lisi", PASSWORD)
    if wait == 0:
        assert response.status_code == 303
    else:
        assert response.status_code == 429 and "秒后再试" in response.text
        assert response.headers["retry-after"] == str(wait)
        clock.now += timedelta(seconds=wait)
        assert login(c, "lisi", PASSWORD).status_code == 303


def test_one_address_spraying_usernames_is_slowed_for_every_name(app, seeded, clock):
    sprayer = browser(app, ATTACKER)
    names = [f"user{i:02d}" for i in range(20)]
    assert {login(sprayer, name, WRONG).status_code for name in names} == {401}
    assert login(sprayer, "user20", WRONG).status_code == 401  # the 21st failure starts the delay
    assert login(sprayer, "zhaolei", PASSWORD).status_code == 429  # any name, from this address
    assert login(browser(app, OWNER), "zhaolei").status_code == 303  # others are not affected


def test_guessing_one_account_from_many_addresses(app, seeded, clock):
    """Each address gets its failures; after 10 on the account, addresses that failed on it wait,
    while a correct password from a clean address still gets in."""
    for i in range(11):
        assert login(browser(app, f"198.51.100.{i}"), "lisi", WRONG).status_code == 401
    assert login(browser(app, "198.51.100.0"), "lisi", PASSWORD).status_code == 429
    assert login(browser(app, OWNER), "lisi").status_code == 303
    clock.now += timedelta(seconds=60)  # the per-account delay is modest: a minute at most
    assert login(browser(app, "198.51.100.1"), "lisi", WRONG).status_code == 401


def test_success_and_time_forgive(app, seeded, clock):
    c = browser(app, OWNER)
    for _ in range(3):
        assert login(c, "lisi", WRONG).status_code == 401
    assert login(c, "lisi").status_code == 303  # a typo or three, then in
    for _ in range(3):
        assert login(c, "lisi", WRONG).status_code == 401  # counting starts again
    assert login(c, "lisi", WRONG).status_code == 401
    assert login(c, "lisi", WRONG).status_code == 429
    clock.now += timedelta(minutes=61)  # forgotten after an hour without failures
    assert login(c, "lisi").status_code == 303


def test_the_old_lock_out_keys_are_refused_with_a_pointer():
    with pytest.raises(ValueError, match="no longer locked"):
        LockoutConfig.model_validate({"attempts": 5, "minutes": 15})
