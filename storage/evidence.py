"""Evidence kept with every violation: the group's messages before and after it, masked, frozen.

When a message's violations are recorded, `capture` opens an evidence window for that message and
copies the `size` messages before it in the same group (and the message itself) as they are stored
then: masked text only, never a clear identifier. The messages after it do not exist yet; each later
message of the group is copied into the group's still-open windows as it is judged (the same
`capture` call), until each window holds `size` after-messages. At most the windows of the group's
last `size` violating messages are open, so the work per message is bounded and small.

The copies are a snapshot: a later change to a stored message, or voiding the violation, does not
rewrite them. A message judged late whose send time is before a window's violating message (a
history import arriving out of order) is not "after" it and is not added.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import EvidenceMessageRow, EvidenceWindowRow, MessageRow

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """One message of a violation's evidence as captured (masked)."""

    position: int  # < 0 before the violating message, 0 the message itself, > 0 after it
    sender: str
    sent_at: datetime
    masked_text: str


def capture(session: Session, *, message: MessageRow, violated: bool, size: int) -> None:
    """Add the just-stored `message` to its group's open evidence windows; open its own if it `violated`.

    Called by the message handler once per stored message, inside its transaction; never commits.
    `size` is `dashboard.evidence_messages` (0 keeps no evidence).
    """
    _append_after(session, message=message)
    if violated and size > 0:
        _open_window(session, message=message, size=size)


def _append_after(session: Session, *, message: MessageRow) -> None:
    # One UPDATE claims a place in every open window of the group: concurrent writers (two replicas,
    # PostgreSQL) serialize on the window rows, so each gets its own position and none overfills.
    claimed = session.execute(
        update(EvidenceWindowRow)
        .where(
            EvidenceWindowRow.chat_id == message.chat_id,
            EvidenceWindowRow.after_missing > 0,
            EvidenceWindowRow.sent_at <= message.sent_at,
            EvidenceWindowRow.message_id != message.id,
        )
        .values(after_missing=EvidenceWindowRow.after_missing - 1)
        .returning(EvidenceWindowRow.message_id, EvidenceWindowRow.size, EvidenceWindowRow.after_missing)
        .execution_options(synchronize_session=False)
    ).all()
    if claimed:
        session.execute(
            insert(EvidenceMessageRow),
            [_copy(message, window_id=window_id, position=size - missing) for window_id, size, missing in claimed],
        )


def _open_window(session: Session, *, message: MessageRow, size: int) -> None:
    before = session.scalars(
        select(MessageRow)
        .where(
            MessageRow.chat_id == message.chat_id,
            MessageRow.id != message.id,
            or_(
                MessageRow.sent_at < message.sent_at,
                (MessageRow.sent_at == message.sent_at) & (MessageRow.id < message.id),
            ),
        )
        .order_by(MessageRow.sent_at.desc(), MessageRow.id.desc())
        .limit(size)
    ).all()
    session.add(
        EvidenceWindowRow(
            message_id=message.id, chat_id=message.chat_id, sent_at=message.sent_at, size=size, after_missing=size
        )
    )
    session.flush()
    rows = [_copy(m, window_id=message.id, position=-index) for index, m in enumerate(before, start=1)]
    rows.append(_copy(message, window_id=message.id, position=0))
    session.execute(insert(EvidenceMessageRow), rows)


def _copy(message: MessageRow, *, window_id: int, position: int) -> dict:
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
