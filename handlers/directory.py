"""Who is who: names (张伟) and departments for userids, for alerts, warnings and leaderboards.

Overrides in config.yaml `members:` win (corps whose app may not read contacts); otherwise the name
cached from WeCom's `user/get`; otherwise the userid itself. `refresh_directory` fills the cache:
it notes every recent message sender, then looks up unknown members first and then those not
looked up for `outbox.directory_refresh_hours`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.errors import SendError
from storage import members

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Person:
    userid: str
    name: str
    department: str | None = None


#: Asks WeCom's contacts API about one userid; None when WeCom does not know the user.
Lookup = Callable[[str], Awaitable[Person | None]]


def people(session: Session, config: AppConfig, userids: Iterable[str]) -> dict[str, Person]:
    """A Person for every userid given, overrides first, then the cache, then the bare userid."""
    wanted = list(dict.fromkeys(userids))
    cached = members.get_members(session, userids=[u for u in wanted if u not in config.members])
    out: dict[str, Person] = {}
    for userid in wanted:
        override = config.members.get(userid)
        row = cached.get(userid)
        if override is not None:
            out[userid] = Person(userid, override.name, override.department)
        elif row is not None and row.name:
            out[userid] = Person(userid, row.name, row.department)
        else:
            out[userid] = Person(userid, userid)
    return out


#: `session.info` key of the names a batch looked up at once (handlers.batch sets and clears it).
BATCH_PEOPLE = "directory.batch_people"


def person(session: Session, config: AppConfig, userid: str) -> Person:
    known = session.info.get(BATCH_PEOPLE)
    if known is not None and userid in known:
        return known[userid]
    return people(session, config, [userid])[userid]


async def refresh_directory(
    session_factory: sessionmaker[Session],
    config: AppConfig,
    lookup: Lookup,
    *,
    now: datetime,
    limit: int = 50,
) -> int:
    """Look up members that are new or stale; returns how many were asked about.

    Overridden members are skipped: their names come from config.yaml. A failed lookup leaves the
    row as it was, so the next round tries again; one failure does not stop the others.
    """
    max_age = timedelta(hours=config.outbox.directory_refresh_hours)
    with session_factory() as session:
        if members.discover(session, since=now - max_age, now=now):
            session.commit()
        due = [
            u
            for u in members.due_for_lookup(session, now=now, max_age=max_age, limit=limit)
            if u not in config.members
        ]
    asked = 0
    for userid in due:
        try:
            found = await lookup(userid)
        except SendError as exc:
            log.warning("directory lookup failed", extra={"userid": userid, "errcode": exc.errcode})
            continue
        asked += 1
        with session_factory() as session:
            members.save_profile(
                session,
                userid=userid,
                name=found.name if found else None,
                department=found.department if found else None,
                now=now,
            )
            session.commit()
    return asked


async def resolve_names(
    session_factory: sessionmaker[Session],
    config: AppConfig,
    lookup: Lookup | None,
    userids: Iterable[str],
    *,
    now: datetime,
) -> dict[str, str]:
    """Names for `userids` right now: overrides, the cache, else one `user/get` each (then cached).

    The dispatcher calls this before sending a message rendered while a rep's name was still
    unknown (their first alert), so nobody reads 「成员：liuyang」. Userids nobody can name are left
    out of the answer; a failed lookup is logged and left to the next directory round.
    """
    wanted = list(dict.fromkeys(userids))
    with session_factory() as session:
        known = people(session, config, wanted)
    out = {u: p.name for u, p in known.items() if p.name != u}
    for userid in (u for u in wanted if u not in out and lookup is not None):
        try:
            found = await lookup(userid)  # type: ignore[misc]
        except SendError as exc:
            log.warning("directory lookup failed", extra={"userid": userid, "errcode": exc.errcode})
            continue
        with session_factory() as session:
            members.save_profile(session, userid=userid, name=found.name if found else None, department=None, now=now)
            session.commit()
        if found is not None and found.name and found.name != userid:
            out[userid] = found.name
    return out
