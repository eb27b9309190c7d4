"""The member directory cache: names and departments of userids, as WeCom's contacts API gave them.

Rows appear when a member is first seen (`note_seen`, name still unknown) and are filled in by the
directory refresher (handlers/directory.py), which asks `user/get` for unknown or stale members.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.db import dialect_insert, insert_ignoring_conflict, one_of
from storage.models import MemberRow, MessageRow

#: `session.info` key of the userids `note_seen_many` already noted in this transaction.
NOTED = "members.noted"


def note_seen(session: Session, *, userid: str, now: datetime) -> bool:
    """Make sure a row exists for `userid` so the refresher looks it up; True when it was new."""
    if userid in session.info.get(NOTED, ()):
        return False
    return insert_ignoring_conflict(session, MemberRow, conflict=["userid"], userid=userid, updated_at=now)


def note_seen_many(session: Session, *, userids: Iterable[str], now: datetime) -> None:
    """`note_seen` for many userids in one statement, in userid order; the caller puts them in
    `session.info[NOTED]` for the rest of its transaction (and takes them out when it ends)."""
    rows = [{"userid": u, "updated_at": now} for u in sorted(set(userids))]
    if rows:
        stmt = dialect_insert(session)(MemberRow).on_conflict_do_nothing(index_elements=["userid"])
        session.connection().execute(stmt, rows)


def discover(session: Session, *, since: datetime, now: datetime) -> int:
    """Note every sender of a message since `since` not known yet (leaderboards name them all)."""
    known = select(MemberRow.userid)
    query = select(MessageRow.sender).where(MessageRow.sent_at >= since, MessageRow.sender.not_in(known)).distinct()
    found = list(session.scalars(query))
    session.add_all(MemberRow(userid=userid, updated_at=now) for userid in found)
    return len(found)


def get_members(session: Session, *, userids: Iterable[str]) -> dict[str, MemberRow]:
    ids = sorted(set(userids))
    if not ids:
        return {}
    return {m.userid: m for m in session.scalars(select(MemberRow).where(one_of(session, MemberRow.userid, ids)))}


def due_for_lookup(session: Session, *, now: datetime, max_age: timedelta, limit: int = 100) -> list[str]:
    """Userids never looked up, then those looked up longer than `max_age` ago (oldest first)."""
    query = (
        select(MemberRow.userid)
        .where(or_(MemberRow.fetched_at.is_(None), MemberRow.fetched_at < now - max_age))
        .order_by(MemberRow.fetched_at.is_not(None), MemberRow.fetched_at, MemberRow.userid)
        .limit(limit)
    )
    return list(session.scalars(query))


def save_profile(
    session: Session, *, userid: str, name: str | None, department: str | None, now: datetime
) -> MemberRow:
    """Store what the contacts API said; a None name (user unknown to WeCom) keeps the old one."""
    member = session.get(MemberRow, userid)
    if member is None:
        member = MemberRow(userid=userid, updated_at=now)
        session.add(member)
    if name:
        member.name = name
    if department:
        member.department = department
    member.fetched_at = now
    return member


def all_members(session: Session) -> dict[str, MemberRow]:
    """Every member the directory knows (a few hundred rows in a sales team), for name lookups."""
    return {m.userid: m for m in session.scalars(select(MemberRow))}
