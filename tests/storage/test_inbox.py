"""storage.inbox on SQLite and PostgreSQL: idempotent record, exclusive leased claims, done/failed, lag."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from storage import inbox
from storage.models import InboxEventRow
from tests.helpers.threads import claimed_by_racing_owners

T0 = datetime(2026, 3, 2, 1, 15, tzinfo=UTC)  # 09:15 in Shanghai


def _payload(msgid: str, text: str = "【跟进】客户：王总 公司：华星科技") -> dict:
    return {
        "msgid": msgid,
        "chat_id": "wr-sales-east",
        "sender": "zhangwei",
        "sent_at": "2026-03-02T09:15:00+08:00",
        "text": text,
        "msgtype": "text",
        "source": "callback",
    }


def _record(session: Session, key: str, *, now: datetime = T0, kind: str = "message") -> bool:
    return inbox.record_event(session, dedupe_key=key, source="callback", kind=kind, payload=_payload(key), now=now)


@pytest.mark.parametrize(
    ("keys", "expected_created", "expected_rows"),
    [
        (["4561255354251345929"], [True], 1),
        (["4561255354251345929"] * 3, [True, False, False], 1),
        (["m-1", "m-2", "m-1", "evt:ab12"], [True, True, False, True], 3),
    ],
)
def test_record_event_is_idempotent_on_the_dedupe_key(
    session: Session, keys: list[str], expected_created: list[bool], expected_rows: int
) -> None:
    created = [_record(session, key) for key in keys]
    session.commit()
    assert created == expected_created
    assert len(session.scalars(select(InboxEventRow)).all()) == expected_rows


def test_record_event_keeps_the_payload_and_time(session: Session) -> None:
    _record(session, "m-1")
    session.commit()
    row = session.scalars(select(InboxEventRow)).one()
    assert (row.source, row.kind, row.payload, row.received_at, row.attempts) == (
        "callback",
        "message",
        _payload("m-1"),
        T0,
        0,
    )


def test_claim_leases_oldest_first_and_not_twice(session: Session) -> None:
    for key in ["m-1", "m-2", "m-3"]:
        _record(session, key)
    session.commit()
    first = inbox.claim(session, owner="w1", limit=2, lease_seconds=60, now=T0)
    session.commit()
    second = inbox.claim(session, owner="w2", limit=10, lease_seconds=60, now=T0)
    session.commit()
    assert [r.dedupe_key for r in first] == ["m-1", "m-2"]
    assert [(r.lease_owner, r.lease_until, r.attempts) for r in first] == [("w1", T0 + timedelta(seconds=60), 1)] * 2
    assert [r.dedupe_key for r in second] == ["m-3"]


@pytest.mark.parametrize(
    ("later", "reclaimed"),
    [(timedelta(seconds=59), []), (timedelta(seconds=60), []), (timedelta(seconds=61), ["m-1"])],
)
def test_an_expired_lease_is_claimed_again(session: Session, later: timedelta, reclaimed: list[str]) -> None:
    _record(session, "m-1")
    session.commit()
    inbox.claim(session, owner="dead-worker", limit=10, lease_seconds=60, now=T0)
    session.commit()
    rows = inbox.claim(session, owner="w2", limit=10, lease_seconds=60, now=T0 + later)
    session.commit()
    assert [r.dedupe_key for r in rows] == reclaimed
    assert all(r.attempts == 2 and r.lease_owner == "w2" for r in rows)


def test_mark_done_clears_the_payload_and_is_never_claimed_again(session: Session) -> None:
    _record(session, "m-1")
    session.commit()
    [row] = inbox.claim(session, owner="w1", limit=10, lease_seconds=60, now=T0)
    inbox.mark_done(session, row.id, now=T0 + timedelta(seconds=1))
    session.commit()
    session.expire_all()
    stored = session.get(InboxEventRow, row.id)
    assert (stored.payload, stored.processed_at, stored.lease_owner) == (None, T0 + timedelta(seconds=1), None)
    assert inbox.claim(session, owner="w2", limit=10, lease_seconds=60, now=T0 + timedelta(hours=1)) == []


@pytest.mark.parametrize(("max_attempts", "parked"), [(3, False), (1, True)])
def test_mark_failed_retries_later_or_parks_with_the_error(session: Session, max_attempts: int, parked: bool) -> None:
    _record(session, "m-1")
    session.commit()
    [row] = inbox.claim(session, owner="w1", limit=10, lease_seconds=60, now=T0)
    assert (
        inbox.mark_failed(session, row.id, error="KeyError", now=T0, max_attempts=max_attempts, retry_seconds=30)
        is parked
    )
    session.commit()
    assert inbox.claim(session, owner="w2", limit=10, lease_seconds=60, now=T0 + timedelta(seconds=29)) == []
    later = inbox.claim(session, owner="w2", limit=10, lease_seconds=60, now=T0 + timedelta(seconds=31))
    assert [r.dedupe_key for r in later] == ([] if parked else ["m-1"])
    session.rollback()
    session.expire_all()
    stored = session.get(InboxEventRow, row.id)
    assert (stored.error, stored.payload is not None) == ("KeyError" if parked else None, True)


def test_pending_lag_and_counts(session: Session) -> None:
    assert inbox.pending_lag(session, now=T0) == 0.0
    _record(session, "m-1", now=T0)
    _record(session, "m-2", now=T0 + timedelta(seconds=5))
    session.commit()
    assert inbox.pending_lag(session, now=T0 + timedelta(seconds=12)) == 12.0
    [first, _] = inbox.claim(session, owner="w1", limit=10, lease_seconds=60, now=T0)
    inbox.mark_done(session, first.id, now=T0)
    session.commit()
    assert inbox.pending_lag(session, now=T0 + timedelta(seconds=12)) == 7.0
    assert inbox.counts(session) == {"pending": 1, "failed": 0}


def test_concurrent_claimers_never_share_a_row(engine: Engine) -> None:
    """Four threads claim in small batches at once; each of 40 rows goes to exactly one of them."""

    def claim(session: Session, owner: str) -> list[str]:
        return [r.dedupe_key for r in inbox.claim(session, owner=owner, limit=3, lease_seconds=60, now=T0)]

    keys = [f"m-{i}" for i in range(40)]
    assert sorted(claimed_by_racing_owners(engine, keys, add=_record, claim=claim)) == sorted(keys)


@pytest.mark.parametrize(
    ("already", "keys", "expected"),
    [
        ([], ["m-1", "m-2", "m-3"], [True, True, True]),
        (["m-2"], ["m-1", "m-2", "m-3"], [True, False, True]),
        ([], ["m-1", "m-1", "evt:9f", "m-1"], [True, False, True, False]),
        ([], [], []),
    ],
)
def test_record_events_inserts_a_batch_in_one_statement(
    session: Session, already: list[str], keys: list[str], expected: list[bool]
) -> None:
    for key in already:
        _record(session, key)
    events = [{"dedupe_key": k, "source": "callback", "kind": "message", "payload": _payload(k)} for k in keys]
    assert inbox.record_events(session, events=events, now=T0) == expected
    session.commit()
    stored = session.scalars(select(InboxEventRow.dedupe_key).order_by(InboxEventRow.id)).all()
    assert sorted(stored) == sorted(set(keys) | set(already))


def test_record_events_handles_more_rows_than_one_statement_takes(session: Session) -> None:
    events = [
        {"dedupe_key": f"m-{i}", "source": "bridge", "kind": "message", "payload": _payload(f"m-{i}")}
        for i in range(1203)
    ]
    assert sum(inbox.record_events(session, events=events, now=T0)) == 1203
    session.commit()
    assert session.scalar(select(func.count()).select_from(InboxEventRow)) == 1203


def test_write_gate_lets_a_waiting_callback_write_before_the_next_worker_row() -> None:
    gate = inbox.WriteGate(enabled=True)
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def first_worker_row() -> None:
        with gate.background():
            holding.set()
            release.wait(5)
            order.append("worker row 1")

    def enter(kind: str, label: str) -> None:
        with getattr(gate, kind)():
            order.append(label)

    threads = [threading.Thread(target=first_worker_row)]
    threads[0].start()
    holding.wait(5)
    threads.append(threading.Thread(target=enter, args=("background", "worker row 2")))
    threads[-1].start()
    time.sleep(0.05)  # the second worker row is waiting at the gate before the callback arrives
    threads.append(threading.Thread(target=enter, args=("urgent", "callback")))
    threads[-1].start()
    time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["worker row 1", "callback", "worker row 2"]


def test_an_open_write_gate_never_blocks() -> None:
    gate = inbox.WriteGate(enabled=False)
    with gate.background(), gate.urgent(), gate.background():
        pass


def test_a_key_too_long_for_its_column_is_refused_never_cut_short(session: Session) -> None:
    """The batch inserts send one array per column on PostgreSQL: a value longer than its column must
    fail the insert as a VALUES list does, not be truncated by a cast into another event's key."""
    long_key = "k" * 300
    events = [{"dedupe_key": long_key, "source": "bridge", "kind": "message", "payload": {}}]
    if session.get_bind().dialect.name == "postgresql":
        with pytest.raises(DataError):
            inbox.record_events(session, events=events, now=T0)
    else:  # SQLite does not enforce VARCHAR lengths: the key is stored whole, never cut
        assert inbox.record_events(session, events=events, now=T0) == [True]
        assert session.scalars(select(InboxEventRow.dedupe_key)).all() == [long_key]


def test_the_claim_walks_only_due_rows_in_id_order(session: Session) -> None:
    """A claim reads the due rows through the partial index ix_inbox_due in id order and stops after
    its batch: no sort of the whole backlog, no walk past the rows processed or parked before."""
    for i in range(600):
        _record(session, f"m-{i}")
    session.commit()
    for row in inbox.claim(session, owner="w1", limit=500, lease_seconds=60, now=T0):
        inbox.mark_done(session, row.id, now=T0)
    session.commit()
    stmt = inbox.due_ids(now=T0, limit=50)
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    if session.get_bind().dialect.name == "postgresql":
        # Tiny test tables would be read whole; what matters is that the index serves the claim.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(session.scalars(text("EXPLAIN " + sql)))
        assert "Index Scan using ix_inbox_due" in plan and "Sort" not in plan, plan
    else:
        plan = "\n".join(row.detail for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "USING INDEX ix_inbox_due" in plan and "TEMP B-TREE" not in plan, plan
    assert [r.dedupe_key for r in inbox.claim(session, owner="w2", limit=50, lease_seconds=60, now=T0)] == [
        f"m-{i}" for i in range(500, 550)
    ]
