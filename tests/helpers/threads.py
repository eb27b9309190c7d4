"""Races on a real database: threads released together, each with its own session."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.db import make_session_factory


def run_together(work: Callable[[str], None], owners: list[str]) -> None:
    """Run `work(owner)` on one thread per owner, all released by one barrier so they really race."""
    barrier = threading.Barrier(len(owners))

    def released(owner: str) -> None:
        barrier.wait()
        work(owner)

    threads = [threading.Thread(target=released, args=(owner,)) for owner in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def claimed_by_racing_owners(
    engine: Engine,
    keys: list[str],
    *,
    add: Callable[[Session, str], object],
    claim: Callable[[Session, str], list[Hashable]],
    owners: int = 4,
) -> list[Hashable]:
    """Adds a row per key (`add(session, key)`, committed once), then `owners` threads race: each
    claims (`claim(session, owner)`, committed) in its own session until a claim comes back empty.
    Everything claimed, by every owner, so a test can say each row went to exactly one of them."""
    sessions = make_session_factory(engine)
    with sessions() as session:
        for key in keys:
            add(session, key)
        session.commit()
    got: dict[str, list[Hashable]] = {}

    def claimer(owner: str) -> None:
        mine: list[Hashable] = []
        while True:
            with sessions() as session:
                claimed = claim(session, owner)
                session.commit()
            if not claimed:
                break
            mine += claimed
        got[owner] = mine

    run_together(claimer, [f"owner-{n}" for n in range(owners)])
    return [key for claimed in got.values() for key in claimed]
