"""Throttled dashboard logins: growing delays per (account, address), per address and per account.

No account is ever locked: an outsider who types wrong passwords for `boss` slows down only
themselves. Three counters, each a row keyed by a hash (see `LoginThrottle`):

- pair (account, address): after `pair_free` failures, each further attempt from that address on
  that account waits `base * 2**n` seconds, up to `max_seconds`. This is what slows a guesser.
- address (any username): after `address_free` failures the address waits the same way, so one
  address cannot spray many usernames.
- account (any address): after `account_free` failures the account waits at most
  `account_max_seconds`, but only for addresses that already failed on it: a correct password from
  a clean address still gets in, so a distributed attack costs the real user nothing.

While a counter asks to wait, the password is not checked and the attempt is not counted. A counter
is forgotten `forget_after` after its last failure; a successful login clears its pair and account
counters (never the address counter, or an attacker with one real account could reset it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from storage.db import dialect_insert
from storage.models import LoginThrottleRow


@dataclass(frozen=True)
class ThrottlePolicy:
    pair_free: int = 3
    address_free: int = 20
    account_free: int = 10
    base_seconds: float = 1.0
    max_seconds: float = 900.0
    account_max_seconds: float = 60.0
    forget_after: timedelta = timedelta(hours=1)


def delay_seconds(failures: int, free: int, base: float, cap: float) -> float:
    """0 for the first `free` failures, then base, 2*base, 4*base ... up to `cap`."""
    if failures <= free:
        return 0.0
    return min(cap, base * 2.0 ** min(failures - free - 1, 40))


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def account_hash(username: str) -> str:
    return _hash("account", username)


def _keys(username: str, address: str) -> dict[str, str]:
    return {"pair": _hash("pair", username, address), "address": _hash("address", address),
            "account": account_hash(username)}


def wait_seconds(session: Session, *, username: str, address: str, policy: ThrottlePolicy, now: datetime) -> float:
    """Seconds before this address may try this username again (0.0: check the password now)."""
    keys = _keys(username, address)
    since = now - policy.forget_after
    rows = {
        row.kind: row
        for row in session.scalars(
            select(LoginThrottleRow).where(
                LoginThrottleRow.key.in_(keys.values()), LoginThrottleRow.last_failure_at > since
            )
        )
    }

    def until(row: LoginThrottleRow | None, free: int, cap: float) -> float:
        if row is None:
            return 0.0
        ready = row.last_failure_at + timedelta(seconds=delay_seconds(row.failures, free, policy.base_seconds, cap))
        return max(0.0, (ready - now).total_seconds())

    wait = max(
        until(rows.get("pair"), policy.pair_free, policy.max_seconds),
        until(rows.get("address"), policy.address_free, policy.max_seconds),
    )
    if "pair" in rows:  # a clean address is never held back by failures elsewhere
        wait = max(wait, until(rows.get("account"), policy.account_free, policy.account_max_seconds))
    return wait


def record_failure(session: Session, *, username: str, address: str, policy: ThrottlePolicy, now: datetime) -> None:
    """Count one failed login in all three counters, and drop forgotten rows.

    One INSERT ... ON CONFLICT DO UPDATE: concurrent failures (replicas, parallel requests) each
    count, with no read-then-write race and no IntegrityError to retry."""
    since = now - policy.forget_after
    session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.last_failure_at <= since))
    account = account_hash(username)
    rows = [
        {
            "key": key,
            "kind": kind,
            "account": None if kind == "address" else account,
            "failures": 1,
            "last_failure_at": now,
        }
        for kind, key in _keys(username, address).items()
    ]
    statement = dialect_insert(session)(LoginThrottleRow).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[LoginThrottleRow.key],
            set_={
                "failures": case((LoginThrottleRow.last_failure_at <= since, 1), else_=LoginThrottleRow.failures + 1),
                "last_failure_at": statement.excluded.last_failure_at,
            },
        )
    )


def record_success(session: Session, *, username: str, address: str) -> None:
    keys = _keys(username, address)
    session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key.in_((keys["pair"], keys["account"]))))


def clear_account(session: Session, username: str) -> int:
    """`groupbot user unlock`: forget every failure on this account (all addresses); rows removed."""
    gone = session.scalars(
        delete(LoginThrottleRow)
        .where(LoginThrottleRow.account == account_hash(username))
        .returning(LoginThrottleRow.key)
    )
    return len(gone.all())
