"""`storage.db.insert_many`, the multi-row insert every batch write goes through, on SQLite and PostgreSQL.

On PostgreSQL plain columns travel as one array each and JSON columns as one JSON array, zipped by
ordinality; the statement of each shape is built once. Whatever the path, what is read back is
what was given, row for row and in order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import insert_many
from storage.models import InboxEventRow

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TABLE = InboxEventRow.__table__
#: The columns every new inbox row shares (sent once, not per row).
FRESH = {"received_at": NOW, "attempts": 0}

PAYLOADS = [
    ("a dict", {"text": "王总说\"下周\"再聊", "n": 1}),
    ("a list (not a nested array)", [1, "二", {"三": 3}]),
    ("an empty list", []),
    ("quotes, backslashes and braces", {"v": '{"a": "\\\\n"}', "w": "a,b} {c"}),
    ("a JSON string", "只是一句话"),
    ("a number", 12.5),
]


def insert(session: Session, rows: list[dict], **options) -> list[str]:
    stmt, params = insert_many(session, TABLE, rows, returning=["dedupe_key"], **options)
    return list(session.connection().execute(stmt, params).scalars())


def test_every_value_reads_back_as_given(session: Session) -> None:
    rows = [
        {"dedupe_key": f"k{i}", "source": "bridge", "kind": "message", "payload": payload}
        for i, (_, payload) in enumerate(PAYLOADS)
    ]
    returned = insert(session, rows, same=FRESH)
    assert sorted(returned) == sorted(r["dedupe_key"] for r in rows)
    stored = session.execute(select(TABLE.c.dedupe_key, TABLE.c.payload, TABLE.c.received_at, TABLE.c.attempts)
                             .order_by(TABLE.c.id)).all()
    assert [(key, payload) for key, payload, _, _ in stored] == [(r["dedupe_key"], r["payload"]) for r in rows]
    assert {(received.replace(tzinfo=UTC) if received.tzinfo is None else received, attempts)
            for _, _, received, attempts in stored} == {(NOW, 0)}


def test_conflicting_rows_are_skipped_and_not_returned(session: Session) -> None:
    first = [{"dedupe_key": "dup", "source": "bridge", "kind": "message", "payload": {"n": 1}}]
    assert insert(session, first, conflict=["dedupe_key"], same=FRESH) == ["dup"]
    again = [*first, {"dedupe_key": "new", "source": "bridge", "kind": "message", "payload": {"n": 2}}]
    assert insert(session, again, conflict=["dedupe_key"], same=FRESH) == ["new"]


@pytest.mark.parametrize("rows_in_batch", [1, 2, 300])
def test_the_same_shape_serves_every_batch_size(session: Session, rows_in_batch: int) -> None:
    rows = [
        {"dedupe_key": f"b{i}", "source": "callback", "kind": "command", "payload": {"i": i}}
        for i in range(rows_in_batch)
    ]
    assert len(insert(session, rows, conflict=["dedupe_key"], same=FRESH)) == rows_in_batch
    stored = session.execute(select(TABLE.c.payload).order_by(TABLE.c.id)).scalars().all()
    assert stored == [{"i": i} for i in range(rows_in_batch)]

