"""Bulk reads and writes for judging a batch of messages in one transaction (handlers/batch.py).

Each function is one statement (or one per chunk of `CHUNK` keys) whatever the batch size, so a
batch of hundreds of messages costs a handful of round trips instead of a dozen per message. Nothing
here commits; time comes in as an argument.
"""

from __future__ import annotations

import functools
import json
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Text,
    and_,
    bindparam,
    column,
    func,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.orm import Session

from rules.model import ClientUpdate, Deal
from storage import clients
from storage.db import insert_many, json_records, one_of
from storage.models import ClientRow, ClientUpdateRow, DealRow, InboxEventRow, MessageRow, ViolationRow

#: Keys per IN list / rows per multi-row INSERT (SQLite allows 32766 bound parameters).
CHUNK = 500

#: The first key of the two-key advisory locks judging takes (ratelimit uses the one-key form).
SENDER_LOCK_SPACE = 0x6A75  # "ju"

T = TypeVar("T")

# Plain columns are read and written through the Core table: no ORM bookkeeping for tuples.
_messages = MessageRow.__table__


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sender_lock_key(sender: str) -> int:
    """A stable 32-bit signed key for `sender` (pg_advisory_xact_lock(int, int) takes int4)."""
    return zlib.crc32(sender.encode("utf-8")) - 2**31


def lock_senders(session: Session, senders: Iterable[str]) -> None:
    """Serialize judging per sender until the transaction ends (PostgreSQL advisory locks).

    Taken in ascending key order in one statement, so two workers never wait on each other in a
    cycle. While a worker holds a sender's lock, another worker judging that sender waits, and then
    reads the first one's committed messages: the frequency history and escalation counts are exact
    across replicas. SQLite needs nothing: BEGIN IMMEDIATE already makes each transaction the only
    writer, and it reads everything committed before it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({sender_lock_key(s) for s in senders})
    if not keys:
        return
    # unnest() yields the array in order, so the locks are taken in ascending key order.
    stmt = text(
        "SELECT count(pg_advisory_xact_lock(:space, k)) FROM unnest(CAST(:keys AS integer[])) AS k"
    ).bindparams(bindparam("keys", type_=ARRAY(BIGINT)))
    session.execute(stmt, {"space": SENDER_LOCK_SPACE, "keys": keys})


def stored_msgids(session: Session, msgids: Collection[str]) -> set[str]:
    """Which of `msgids` are already stored."""
    found: set[str] = set()
    for part in _chunks(sorted(set(msgids))):
        query = select(_messages.c.msgid).where(one_of(session, _messages.c.msgid, part))
        found.update(session.connection().execute(query).scalars())
    return found


def post_history(
    session: Session,
    *,
    pairs: Collection[tuple[str, str]],
    since: datetime,
    first: datetime,
    until: datetime,
    keep: int,
) -> dict[tuple[str, str], list[tuple[datetime, str]]]:
    """(sent_at, msgid) of the stored messages of every (chat_id, sender) in `pairs`, oldest first:
    the latest `keep` with sent_at in (since, first], and all in (first, until].

    `first` is the batch's earliest send time. Before it only the latest posts matter: a limit of N
    needs the N most recent (as `rules.frequency.FrequencyHistory` keeps for replay), so a member
    who posted thousands of times within the window costs `keep` rows, not thousands, per batch.
    """
    history: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    if not pairs:
        return history
    m = _messages.c
    if session.get_bind().dialect.name == "postgresql":
        rows = session.connection().execute(
            _pg_post_history(),
            {"pairs": json.dumps([{"chat_id": c, "sender": s} for c, s in sorted(pairs)], ensure_ascii=False),
             "since": since, "first": first, "until": until, "keep": keep},
        ).all()
        rows.sort(key=lambda row: (row.sent_at, row.id))
        for chat_id, sender, sent_at, msgid, _ in rows:
            history[(chat_id, sender)].append((sent_at, msgid))
        return history
    by_chat: dict[str, list[str]] = defaultdict(list)
    for chat_id, sender in sorted(pairs):
        by_chat[chat_id].append(sender)
    for part in _chunks(sorted(by_chat)):
        # The batch's own (chat, sender) pairs, one index range each: a chat IN (...) AND sender IN
        # (...) would read every member of every group in the batch, most of them not in it. IN lists,
        # not one_of: with arrays PostgreSQL's generic plan for these queries is poor.
        ours = (or_(*(and_(m.chat_id == chat_id, m.sender.in_(by_chat[chat_id])) for chat_id in part)),)
        rank = func.row_number().over(partition_by=(m.chat_id, m.sender), order_by=(m.sent_at.desc(), m.id.desc()))
        latest = (
            select(m.chat_id, m.sender, m.sent_at, m.msgid, m.id, rank.label("rank"))
            .where(*ours, m.sent_at > since, m.sent_at <= first)
            .subquery()
        )
        before = select(latest.c.chat_id, latest.c.sender, latest.c.sent_at, latest.c.msgid, latest.c.id).where(
            latest.c.rank <= keep
        )
        after = select(m.chat_id, m.sender, m.sent_at, m.msgid, m.id).where(
            *ours, m.sent_at > first, m.sent_at <= until
        )
        rows = session.connection().execute(union_all(before, after)).all()
        rows.sort(key=lambda row: (row.sent_at, row.id))
        for chat_id, sender, sent_at, msgid, _ in rows:
            history[(chat_id, sender)].append((sent_at, msgid))
    return history


@functools.cache
def _pg_post_history() -> Any:
    """`post_history` on PostgreSQL: the pairs as one JSON document, and per pair its latest `keep`
    posts before the batch (LATERAL, a backward scan of ix_messages_chat_sender_sent that stops at
    `keep`) plus all from the batch's first post on. One statement text whatever the batch, so psycopg
    and PostgreSQL parse and plan it once; an OR of IN lists was planned afresh for every batch."""
    m = _messages.c
    pairs = json_records("pairs", "pair", [column("chat_id", Text()), column("sender", Text())])
    ours = (m.chat_id == pairs.c.chat_id, m.sender == pairs.c.sender)
    latest = (
        select(m.chat_id, m.sender, m.sent_at, m.msgid, m.id)
        .where(*ours, m.sent_at > bindparam("since"), m.sent_at <= bindparam("first"))
        .order_by(m.sent_at.desc(), m.id.desc())
        .limit(bindparam("keep"))
        .lateral("latest")
    )
    before = select(latest.c.chat_id, latest.c.sender, latest.c.sent_at, latest.c.msgid, latest.c.id).select_from(
        pairs.join(latest, true())
    )
    after = (
        select(m.chat_id, m.sender, m.sent_at, m.msgid, m.id)
        .select_from(_messages.join(pairs, and_(*ours)))
        .where(m.sent_at > bindparam("first"), m.sent_at <= bindparam("until"))
    )
    return union_all(before, after)


def violation_times(
    session: Session, *, senders: Collection[str], since: datetime, first: datetime, until: datetime, keep: int
) -> dict[str, list[datetime]]:
    """`occurred_at` of each sender's non-void violations (every group), oldest first: the latest
    `keep` in (since, first] and all in (first, until]. What the escalation counts of a batch are
    computed from; `keep` is the highest escalation count in force: a member already at it is not
    escalated again (rules.policy.decide), so older violations change nothing."""
    times: dict[str, list[datetime]] = defaultdict(list)
    v = ViolationRow.__table__.c
    for part in _chunks(sorted(set(senders))):
        ours = (one_of(session, v.sender, part), v.status != "void")
        rank = func.row_number().over(partition_by=v.sender, order_by=(v.occurred_at.desc(), v.id.desc()))
        latest = (
            select(v.sender, v.occurred_at, rank.label("rank"))
            .where(*ours, v.occurred_at > since, v.occurred_at <= first)
            .subquery()
        )
        before = select(latest.c.sender, latest.c.occurred_at).where(latest.c.rank <= keep)
        after = select(v.sender, v.occurred_at).where(*ours, v.occurred_at > first, v.occurred_at <= until)
        for sender, occurred_at in session.connection().execute(union_all(before, after)):
            times[sender].append(occurred_at)
    for found in times.values():
        found.sort()
    return times


def insert_violations(session: Session, rows: Sequence[ViolationRow]) -> None:
    """Insert new violation rows (storage.violations.new_violation) with one statement and give each
    its id. The rows stay outside the session: nothing for the ORM to flush or track; the alerts
    only read them."""
    if not rows:
        return
    table = ViolationRow.__table__
    columns = [c.key for c in table.columns if c.key != "id"]
    # A message breaks each rule at most once: (message, rule) names the row RETURNING gives back.
    stmt, params = insert_many(
        session, table, [{k: getattr(row, k) for k in columns} for row in rows], returning=["message_id", "rule", "id"]
    )
    returned = session.connection().execute(stmt, params)
    ids = {(message_id, rule): id_ for message_id, rule, id_ in returned}
    for row in rows:
        row.id = ids[(row.message_id, row.rule)]


def frequency_flagged(session: Session, msgids: Collection[str]) -> set[str]:
    """Which of `msgids` already have a frequency violation."""
    found: set[str] = set()
    for part in _chunks(sorted(set(msgids))):
        query = select(ViolationRow.msgid).where(
            one_of(session, ViolationRow.msgid, part), ViolationRow.rule == "frequency"
        )
        found.update(session.scalars(query))
    return found


def insert_messages(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert message rows (column → value) in multi-row statements; msgid → id of those inserted.

    ON CONFLICT DO NOTHING: a msgid another worker stored first is simply not returned (the caller
    treats it as a duplicate) instead of aborting the whole batch.
    """
    if not rows:
        return {}
    table = MessageRow.__table__
    stmt, params = insert_many(session, table, rows, conflict=["msgid"], returning=["msgid", "id"])
    return dict(session.connection().execute(stmt, params).all())


def stored_messages(session: Session, msgids: Collection[str]) -> dict[str, MessageRow]:
    """The stored messages with these msgids, by msgid."""
    found: dict[str, MessageRow] = {}
    for part in _chunks(sorted(set(msgids))):
        query = select(MessageRow).where(one_of(session, MessageRow.msgid, part))
        found.update((m.msgid, m) for m in session.scalars(query))
    return found


def save_updates(
    session: Session, reports: Sequence[tuple[ClientUpdate, str, str, str, datetime]], *, now: datetime
) -> None:
    """`storage.clients.save_update` for many reports: (update, msgid, chat_id, sender, sent_at), in the
    order they are to be folded into their clients.

    The clients are created with one INSERT ... ON CONFLICT DO NOTHING and locked with one SELECT
    ... FOR UPDATE in (group, key) order (two workers lock shared clients in the same order); each
    report is folded in memory (`clients.fold_update` on a detached row), then the changed clients
    are written with one executemany UPDATE and the updates inserted together.
    """
    table = ClientRow.__table__
    connection = session.connection()
    keyed = [(clients.client_key(u.client_name, u.company), u, msgid, chat, sender, at)
             for u, msgid, chat, sender, at in reports]
    first: dict[tuple[str, str], tuple[ClientUpdate, str]] = {}
    for key, parsed, _, chat, sender, _ in keyed:
        if key is not None:
            first.setdefault((chat, key), (parsed, sender))
    found: dict[tuple[str, str], clients.ClientState] = {}
    if first:
        new = [
            {"chat_id": chat, "key": key, "name": u.client_name, "company": u.company, "contact_masked": None,
             "grade": "B", "owner": sender, "need": None, "next_action": None, "next_action_due": None,
             "last_update_at": None, "created_at": now}
            for (chat, key), (u, sender) in sorted(first.items())
        ]
        connection.execute(*insert_many(session, table, new, conflict=["chat_id", "key"]))
        for part in _chunks(sorted(first)):
            query = (
                select(table.c.id, table.c.chat_id, table.c.key, *(table.c[name] for name in clients.FOLDED))
                .where(tuple_(table.c.chat_id, table.c.key).in_(list(part)))
                .order_by(table.c.chat_id, table.c.key)
                .with_for_update()
            )
            for row in connection.execute(query):
                found[(row.chat_id, row.key)] = clients.ClientState(**row._mapping)
    before = {client.id: client.folded() for client in found.values()}
    rows = []
    for key, parsed, msgid, chat, sender, sent_at in keyed:
        client = found.get((chat, key)) if key is not None else None
        if client is not None:
            clients.fold_update(client, update=parsed, sender=sender, sent_at=sent_at)
        rows.append(clients.update_values(parsed, client_id=client.id if client else None, msgid=msgid,
                                          chat_id=chat, sender=sender, sent_at=sent_at))
    changed = [
        {"client": client.id, **dict(zip(clients.FOLDED, client.folded(), strict=True))}
        for client in found.values()
        if client.folded() != before[client.id]
    ]
    if changed:
        values = {name: bindparam(name) for name in clients.FOLDED}
        connection.execute(update(table).where(table.c.id == bindparam("client")).values(values), changed)
    connection.execute(*insert_many(session, ClientUpdateRow.__table__, rows))


def save_deals(session: Session, reports: Sequence[tuple[Deal, str, str, str, datetime]]) -> None:
    """`storage.deals.save_deal` for many deals: (deal, msgid, chat_id, sender, sent_at); one read of
    the clients they name, one insert."""
    keys = {(chat, clients.client_key(d.client_name, d.company)) for d, _, chat, _, _ in reports}
    wanted = sorted((chat, key) for chat, key in keys if key is not None)
    ids: dict[tuple[str, str], int] = {}
    for part in _chunks(wanted):
        query = select(ClientRow.chat_id, ClientRow.key, ClientRow.id).where(
            tuple_(ClientRow.chat_id, ClientRow.key).in_(list(part))
        )
        ids.update(((chat, key), id_) for chat, key, id_ in session.execute(query))
    rows = [
        {"msgid": msgid, "client_id": ids.get((chat, clients.client_key(d.client_name, d.company) or "")),
         "chat_id": chat, "sender": sender, "sent_at": sent_at, "client_name": d.client_name, "company": d.company,
         "amount_yuan": d.amount_yuan}
        for d, msgid, chat, sender, sent_at in reports
    ]
    stmt, params = insert_many(session, DealRow.__table__, rows)
    session.execute(stmt, params)


def mark_done_many(session: Session, event_ids: Collection[int], *, now: datetime) -> None:
    """`storage.inbox.mark_done` for many rows in one statement per chunk."""
    for part in _chunks(sorted(set(event_ids))):
        inbox = InboxEventRow.__table__
        session.connection().execute(
            update(inbox)
            .where(one_of(session, inbox.c.id, part))
            .values(processed_at=now, payload=null(), lease_owner=None, lease_until=None, error=None)
        )
