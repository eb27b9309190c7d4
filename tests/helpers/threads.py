"""Races on a real database: threads released together, each with its own session."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from sqlalchemy.orm import Session, sessionmaker


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


def claim_until_empty(
    sessions: sessionmaker[Session], claim: Callable[[Session, str], list[Hashable]], owners: list[str]
) -> dict[str, list[Hashable]]:
    """Each owner claims (`claim(session, owner)`, committed) in its own session until a claim comes back
    empty; the owners race. What each one claimed, by owner."""
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

    run_together(claimer, owners)
    return got
