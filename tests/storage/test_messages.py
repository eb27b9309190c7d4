"""storage.messages on SQLite and PostgreSQL: masked text + keyed hash, and the history the rules need."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from rules.model import GroupMessage, Verdict
from storage.messages import get_by_msgid, recent_sent_at, save_message, text_hmac
from storage.models import MessageRow
from tests.conftest import sh

KEY = b"k" * 32
T = sh(2026, 3, 2, 10, 0)


def store(session, msgid: str, at: datetime, *, sender="zhangwei", chat="wr-sales-east", body="收到", masked=None):
    msg = GroupMessage(msgid=msgid, chat_id=chat, sender=sender, sent_at=at, text=body, source="callback")
    return save_message(session, msg=msg, verdict=Verdict(msgid, (), masked or body), hmac_key=KEY)


def test_save_keeps_the_masked_text_and_only_a_keyed_hash_of_the_original(session):
    row = store(session, "m-1", T, body="王总电话13812345678", masked="王总电话138****5678")
    session.commit()

    raw = session.execute(text("select msgid, masked_text, text_hmac, sent_at from messages")).one()
    assert raw[:3] == ("m-1", "王总电话138****5678", text_hmac("王总电话13812345678", KEY))
    assert "13812345678" not in repr(raw)
    assert row.id is not None and get_by_msgid(session, msgid="m-1").sent_at == T


@pytest.mark.parametrize(
    ("body_a", "key_a", "body_b", "key_b", "same"),
    [
        ("王总电话13812345678", KEY, "王总电话13812345678", KEY, True),
        ("王总电话13812345678", KEY, "王总电话13812345679", KEY, False),
        ("王总电话13812345678", KEY, "王总电话13812345678", b"other-key", False),
    ],
    ids=["same-text", "one-digit-differs", "other-key"],
)
def test_the_hash_proves_a_text_only_with_the_key(body_a, key_a, body_b, key_b, same):
    assert (text_hmac(body_a, key_a) == text_hmac(body_b, key_b)) is same
    assert len(text_hmac(body_a, key_a)) == 64


def test_a_msgid_is_stored_once(session):
    store(session, "m-1", T)
    session.commit()

    with pytest.raises(IntegrityError):
        store(session, "m-1", T + timedelta(seconds=5))
    session.rollback()
    assert session.scalars(select(MessageRow.msgid)).all() == ["m-1"]


@pytest.mark.parametrize(
    ("since", "until", "exclude", "expected"),
    [
        (T - timedelta(minutes=60), T, None, [-50, -10, 0]),
        (T - timedelta(minutes=50), T, None, [-10, 0]),  # the window opens after `since`
        (T - timedelta(minutes=60), T - timedelta(minutes=10), None, [-50, -10]),  # closes at `until`
        (T - timedelta(minutes=60), T, "m-0", [-50, -10]),
    ],
    ids=["whole-hour", "since-exclusive", "until-inclusive", "without-itself"],
)
def test_recent_sent_at_is_the_senders_history_in_that_group(session, since, until, exclude, expected):
    for minutes, msgid in [(-70, "m-70"), (-50, "m-50"), (-10, "m-10"), (0, "m-0"), (5, "m+5")]:
        store(session, msgid, T + timedelta(minutes=minutes))
    store(session, "other-group", T - timedelta(minutes=5), chat="wr-sales-south")
    store(session, "other-member", T - timedelta(minutes=5), sender="lisi")
    session.commit()

    got = recent_sent_at(
        session, chat_id="wr-sales-east", sender="zhangwei", since=since, until=until, exclude_msgid=exclude
    )

    assert got == [T + timedelta(minutes=m) for m in expected]
