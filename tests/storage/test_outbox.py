"""The outbox's life cycle on SQLite and PostgreSQL: enqueue, lease, send, retry, dead letter, requeue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage import outbox
from storage.models import OutboxItemRow
from tests.conftest import sh
from tests.helpers.threads import claimed_by_racing_owners

T0 = sh(2026, 3, 2, 10, 0)
BODY = {"msgtype": "text", "text": {"content": "张伟，温馨提醒：工作消息请在工作日 09:00-11:00、14:00-17:00 发送。"}}


def add(session: Session, key: str, *, at=T0, channel: str = "robot") -> OutboxItemRow:
    item = outbox.enqueue(session, key=key, channel=channel, target="east", payload=BODY, now=at, not_before=at)
    session.flush()
    return item


def test_enqueue_is_idempotent_on_the_key(session: Session) -> None:
    assert add(session, "warn:m-1") is not None
    assert outbox.enqueue(session, key="warn:m-1", channel="robot", target="east", payload=BODY, now=T0) is None


@pytest.mark.parametrize(
    ("due_offsets", "now_offset", "limit", "expected"),
    [
        ([0, 10, 20], 30, 10, ["a", "b", "c"]),  # all due, oldest first
        ([0, 10, 20], 15, 10, ["a", "b"]),  # the future one waits
        ([0, 10, 20], 30, 2, ["a", "b"]),  # batch limit
        ([5], 0, 10, []),  # nothing due yet
    ],
)
def test_claim_due_takes_due_rows_oldest_first(
    session: Session, due_offsets: list[int], now_offset: int, limit: int, expected: list[str]
) -> None:
    for name, offset in zip("abc", due_offsets, strict=False):
        add(session, name, at=T0 + timedelta(seconds=offset))
    claimed = outbox.claim_due(
        session, owner="d1", limit=limit, lease_seconds=60, now=T0 + timedelta(seconds=now_offset)
    )
    assert [i.idempotency_key for i in claimed] == expected
    assert all(i.lease_owner == "d1" for i in claimed)


def test_a_lease_hides_the_row_until_it_expires(session: Session) -> None:
    add(session, "a")
    assert len(outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=T0)) == 1
    assert outbox.claim_due(session, owner="d2", limit=10, lease_seconds=60, now=T0 + timedelta(seconds=59)) == []
    [again] = outbox.claim_due(session, owner="d2", limit=10, lease_seconds=60, now=T0 + timedelta(seconds=61))
    assert again.lease_owner == "d2"
    # d1 lost its lease: it can no longer start the send.
    assert outbox.begin_send(session, item_id=again.id, owner="d1", now=T0, lease_seconds=60) is None


def test_send_then_mark_sent(session: Session) -> None:
    item = add(session, "a")
    outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=T0)
    assert outbox.begin_send(session, item_id=item.id, owner="d1", now=T0, lease_seconds=60) is item
    assert (item.status, item.attempts) == ("sending", 1)
    assert outbox.mark_sent(session, item_id=item.id, owner="d1", now=T0 + timedelta(seconds=1))
    assert (item.status, item.sent_at, item.lease_owner) == ("sent", T0 + timedelta(seconds=1), None)
    assert outbox.claim_due(session, owner="d2", limit=10, lease_seconds=60, now=T0 + timedelta(hours=1)) == []


@pytest.mark.parametrize(("refund", "attempts_after"), [(False, 1), (True, 0)])
def test_retry_goes_back_to_pending_later(session: Session, refund: bool, attempts_after: int) -> None:
    item = add(session, "a")
    outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=T0)
    outbox.begin_send(session, item_id=item.id, owner="d1", now=T0, lease_seconds=60)
    later = T0 + timedelta(seconds=4)
    assert outbox.schedule_retry(session, item_id=item.id, owner="d1", not_before=later, error="502", refund=refund)
    assert (item.status, item.attempts, item.next_attempt_at, item.last_error) == (
        "pending", attempts_after, later, "502"
    )
    assert outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=later - timedelta(seconds=1)) == []
    assert outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=later) == [item]


def test_dead_letters_stay_visible_and_can_be_requeued(session: Session) -> None:
    item = add(session, "a")
    outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=T0)
    outbox.begin_send(session, item_id=item.id, owner="d1", now=T0, lease_seconds=60)
    assert outbox.mark_dead(session, item_id=item.id, owner="d1", error="webhook/send: invalid robot webhook key")
    assert outbox.list_dead(session) == [item]
    assert outbox.count_by_status(session) == {"dead": 1}

    assert outbox.requeue(session, item_id=item.id, now=T0 + timedelta(hours=1)) is item
    assert (item.status, item.attempts) == ("pending", 0)
    assert outbox.requeue(session, item_id=item.id, now=T0) is None  # only dead rows


def test_defer_gives_the_row_back_without_counting_an_attempt(session: Session) -> None:
    item = add(session, "a")
    outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=T0)
    assert outbox.defer(session, item_id=item.id, owner="d1", not_before=T0 + timedelta(seconds=30))
    assert (item.status, item.attempts, item.lease_owner) == ("pending", 0, None)


@pytest.mark.parametrize(
    ("channel", "status", "resent", "dead"),
    [
        ("app", "pending", True, False),  # message/send with enable_duplicate_check: WeCom drops a repeat
        ("robot", "dead", False, True),  # a repeated group post would be public: a person decides
        ("appchat", "dead", False, True),
    ],
)
def test_rows_left_sending_by_a_crash_are_settled_not_blindly_resent(
    session: Session, channel: str, status: str, resent: bool, dead: bool
) -> None:
    item = add(session, "a", channel=channel)
    outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=T0)
    outbox.begin_send(session, item_id=item.id, owner="d1", now=T0, lease_seconds=60)
    # Still within the lease: the sender may be waiting on WeCom, nothing is touched.
    assert outbox.recover_in_doubt(session, now=T0 + timedelta(seconds=30), resend_channels=["app"]) == ([], [])
    got = outbox.recover_in_doubt(session, now=T0 + timedelta(seconds=61), resend_channels=["app"])
    assert got == ([item.id] if resent else [], [item.id] if dead else [])
    assert item.status == status
    if dead:
        assert "groupbot outbox requeue" in item.last_error


def test_burst_rows_may_change_only_before_any_claim(session: Session) -> None:
    item = add(session, "a")
    assert outbox.never_claimed(item)
    outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=T0)
    assert not outbox.never_claimed(item)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_claimers_on_postgres_never_share_a_row(engine: Engine) -> None:
    def claim(session: Session, owner: str) -> list[str]:
        return [i.idempotency_key for i in outbox.claim_due(session, owner=owner, limit=7, lease_seconds=60, now=T0)]

    keys = [f"k{n}" for n in range(200)]
    assert sorted(claimed_by_racing_owners(engine, keys, add=add, claim=claim)) == sorted(keys)


def test_defer_many_gives_back_only_this_owners_leased_rows(session: Session) -> None:
    mine = [add(session, f"m{n}") for n in range(3)]
    outbox.claim_due(session, owner="d1", limit=3, lease_seconds=60, now=T0)
    theirs = add(session, "t")
    outbox.claim_due(session, owner="d2", limit=10, lease_seconds=60, now=T0)
    later = T0 + timedelta(seconds=61)
    assert outbox.defer_many(session, ids=[i.id for i in mine] + [theirs.id], owner="d1", not_before=later) == 3
    session.expire_all()
    assert [(i.lease_owner, i.next_attempt_at) for i in mine] == [(None, later)] * 3
    assert theirs.lease_owner == "d2"
