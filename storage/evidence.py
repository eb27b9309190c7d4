"""Evidence kept with every violation: the group's messages before and after it, masked, frozen.

When a message's violations are recorded, `capture` opens an evidence window for that message and
copies the `size` messages before it in the same group (and the message itself) as they are stored
then: masked text only, never a clear identifier. The messages after it do not exist yet; each later
message of the group is copied into the group's still-open windows as it is judged (the same
`capture` call), until each window holds `size` after-messages. At most the windows of the group's
last `size` violating messages are open, so the work per message is bounded and small.

The copies are a snapshot: a later change to a stored message, or voiding the violation, does not
rewrite them. A message judged late whose send time is before a window's violating message (a
history import arriving out of order) is not "after" it and is not added. A batch (handlers.batch)
is stored whole before its evidence is taken, so "before" a violation means sent before it among the
messages stored by the end of its batch, whatever their order of arrival within the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, select, true, tuple_, update
from sqlalchemy.orm import Session

from storage.db import insert_many, one_of, one_of_param
from storage.models import EvidenceMessageRow, EvidenceWindowRow, MessageRow

_CHUNK = 500
_windows = EvidenceWindowRow.__table__


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """One message of a violation's evidence as captured (masked)."""

    position: int  # < 0 before the violating message, 0 the message itself, > 0 after it
    sender: str
    sent_at: datetime
    masked_text: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message just stored, as evidence copies it (masked text only)."""

    id: int
    chat_id: str
    sender: str
    sent_at: datetime
    masked_text: str


@dataclass(slots=True)
class _Window:
    message_id: int
    sent_at: datetime
    size: int
    missing: int
    stored_missing: int | None  # None: opened by this call


def capture(
    session: Session, *, messages: Sequence[StoredMessage], violated: Collection[int], size: int, now: datetime
) -> None:
    """Add just-stored `messages` (arrival order) to their groups' open evidence windows, and open a
    window for each message whose id is in `violated`.

    Called by the message handler once per batch, inside its transaction; never commits. `size` is
    `dashboard.evidence_messages` (0 keeps no evidence). Whatever the batch size: one read (and row
    lock) of the groups' open windows, one read of the messages before the new windows, then the
    places are handed out in memory, in arrival order, and written with three multi-row statements.
    """
    if not messages:
        return
    windows = _open_windows(session, {m.chat_id for m in messages})
    openers = [m for m in messages if m.id in violated] if size > 0 else []
    before = _messages_before(session, openers, size)
    copies: list[dict] = []
    for message in messages:
        for window in windows.get(message.chat_id, ()):
            if window.missing > 0 and window.sent_at <= message.sent_at and window.message_id != message.id:
                window.missing -= 1
                copies.append(_copy(message, window_id=window.message_id, position=window.size - window.missing))
        if size > 0 and message.id in violated:
            windows.setdefault(message.chat_id, []).append(_Window(message.id, message.sent_at, size, size, None))
            copies.extend(
                _copy(m, window_id=message.id, position=-index) for index, m in enumerate(before[message.id], start=1)
            )
            copies.append(_copy(message, window_id=message.id, position=0))
    every = [w for chat in windows.values() for w in chat]
    opened = [
        {"message_id": w.message_id, "chat_id": chat_id, "sent_at": w.sent_at, "size": w.size,
         "after_missing": w.missing, "created_at": now}
        for chat_id, chat in windows.items() for w in chat if w.stored_missing is None
    ]
    changed = [{"window": w.message_id, "left": w.missing} for w in every
               if w.stored_missing is not None and w.stored_missing != w.missing]
    # Core statements on the connection: plain rows, nothing for the ORM to track.
    connection = session.connection()
    if opened:
        connection.execute(*insert_many(session, _windows, opened))
    if changed:
        by_window = _windows.c.message_id == bindparam("window")
        connection.execute(update(_windows).where(by_window).values(after_missing=bindparam("left")), changed)
    if copies:
        connection.execute(*insert_many(session, EvidenceMessageRow.__table__, copies))


def _open_windows(session: Session, chat_ids: Collection[str]) -> dict[str, list[_Window]]:
    """The groups' windows still waiting for messages, locked (FOR UPDATE, in one order) until the
    transaction ends: two replicas adding to the same window serialize, so each message gets its own
    place and no window overfills."""
    found: dict[str, list[_Window]] = {}
    chats = sorted(chat_ids)
    for start in range(0, len(chats), _CHUNK):
        query = (
            select(_windows.c.chat_id, _windows.c.message_id, _windows.c.sent_at, _windows.c.size,
                   _windows.c.after_missing)
            .where(one_of(session, _windows.c.chat_id, chats[start:start + _CHUNK]), _windows.c.after_missing > 0)
            .order_by(_windows.c.message_id)
            .with_for_update()
        )
        for chat_id, message_id, sent_at, size, missing in session.connection().execute(query):
            found.setdefault(chat_id, []).append(_Window(message_id, sent_at, size, missing, missing))
    return found


def _messages_before(
    session: Session, openers: Sequence[StoredMessage], size: int
) -> dict[int, list[StoredMessage]]:
    """For each opening message (by id): the `size` messages before it in its group, newest first,
    as stored now (this batch's included). One statement per chunk of openers: for each opener
    (itself a stored message) an ordered, limited read of its group along ix_messages_chat_sent."""
    found: dict[int, list[StoredMessage]] = {m.id: [] for m in openers}
    query = _before_query(session.get_bind().dialect.name, size)
    ids = sorted(found)
    for start in range(0, len(ids), _CHUNK):
        for window_id, *stored in session.connection().execute(query, {"openers": ids[start:start + _CHUNK]}):
            found[window_id].append(StoredMessage(*stored))
    for stored_before in found.values():
        stored_before.sort(key=lambda m: (m.sent_at, m.id), reverse=True)
    return found


@functools.cache
def _before_query(dialect: str, size: int) -> Select:
    """The statement of `_messages_before`, built once per database kind and window size."""
    messages = MessageRow.__table__
    opener, earlier = messages.alias("opener"), messages.alias("earlier")
    before = (
        select(earlier.c.id, earlier.c.chat_id, earlier.c.sender, earlier.c.sent_at, earlier.c.masked_text)
        .where(
            earlier.c.chat_id == opener.c.chat_id,
            # A row comparison, not an OR: both databases start the index range right there and
            # read `size` entries, instead of walking back from the group's newest message.
            tuple_(earlier.c.sent_at, earlier.c.id) < tuple_(opener.c.sent_at, opener.c.id),
        )
        .order_by(earlier.c.sent_at.desc(), earlier.c.id.desc())
        .limit(size)
    )
    chosen = one_of_param(dialect, opener.c.id, "openers")
    if dialect == "postgresql":
        # LATERAL: one index range read per opener; a correlated IN would be re-run per message.
        prior = before.lateral("prior")
        return select(opener.c.id, *prior.c).select_from(opener).join(prior, true()).where(chosen)
    # SQLite has no LATERAL; it runs the correlated, limited IN once per opener.
    inner = before.with_only_columns(earlier.c.id)
    return (
        select(opener.c.id, messages.c.id, messages.c.chat_id, messages.c.sender, messages.c.sent_at,
               messages.c.masked_text)
        .select_from(opener)
        .join(messages, messages.c.id.in_(inner))
        .where(chosen)
    )


def _copy(message: StoredMessage, *, window_id: int, position: int) -> dict:
    return {
        "window_id": window_id,
        "position": position,
        "source_message_id": message.id,
        "sender": message.sender,
        "sent_at": message.sent_at,
        "masked_text": message.masked_text,
    }


def for_messages(
    session: Session, *, message_ids: Iterable[int], scope: Collection[str] | None
) -> dict[int, list[EvidenceLine]]:
    """The evidence of each violating message (by message id), oldest first; {} for none kept.

    `scope` is the viewer's groups (None: all): evidence of a group outside it is never returned,
    even for an id the caller got elsewhere.
    """
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    result: dict[int, list[EvidenceLine]] = {}
    # In chunks: an export may ask for thousands of violations, past SQLite's bound-parameter limit.
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(EvidenceMessageRow)
            .join(EvidenceWindowRow, EvidenceWindowRow.message_id == EvidenceMessageRow.window_id)
            .where(EvidenceMessageRow.window_id.in_(ids[start:start + _CHUNK]))
            .order_by(EvidenceMessageRow.window_id, EvidenceMessageRow.position)
        )
        if scope is not None:
            query = query.where(EvidenceWindowRow.chat_id.in_(list(scope)))
        for row in session.scalars(query):
            result.setdefault(row.window_id, []).append(
                EvidenceLine(position=row.position, sender=row.sender, sent_at=row.sent_at, masked_text=row.masked_text)
            )
    return result
