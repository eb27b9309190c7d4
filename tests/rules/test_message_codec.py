"""The one stored message shape: `GroupMessage.to_payload()` and `GroupMessage.from_payload()`.

Every door stores `to_payload()`; the inbox worker and replay read it back with `from_payload()`,
which names the field that is wrong (replay prints that reason on the bad line).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest

from rules.model import GroupMessage, MessageFieldError, Source

SHANGHAI = timezone(timedelta(hours=8))
SENT = datetime(2026, 3, 2, 10, 15, tzinfo=SHANGHAI)
MSGTYPES = ["text", "markdown", "card", "redpacket", "external_redpacket", "link", "file", "weapp", "image", "voice"]
NAMES = [(None, None), ("张伟", None), (None, "华东销售群"), ("张伟", "华东销售群")]


def message(msgtype: str, source: Source, sender_name: str | None, chat_name: str | None) -> GroupMessage:
    return GroupMessage(
        msgid="m-1", chat_id="wr-sales-east", sender="zhangwei", sent_at=SENT,
        text="【跟进】客户：王总，电话138****5678" if msgtype == "text" else "", msgtype=msgtype,
        source=source, sender_name=sender_name, chat_name=chat_name,
    )


@pytest.mark.parametrize("msgtype", MSGTYPES)
@pytest.mark.parametrize("source", get_args(Source))
@pytest.mark.parametrize(("sender_name", "chat_name"), NAMES)
def test_every_message_round_trips(msgtype, source, sender_name, chat_name) -> None:
    msg = message(msgtype, source, sender_name, chat_name)
    assert GroupMessage.from_payload(msg.to_payload()) == msg


def test_the_payload_is_the_replay_input_shape_with_msgtype_and_source() -> None:
    assert message("text", "archive", "张伟", None).to_payload() == {
        "msgid": "m-1",
        "chat_id": "wr-sales-east",
        "sender": "zhangwei",
        "sent_at": "2026-03-02T10:15:00+08:00",
        "text": "【跟进】客户：王总，电话138****5678",
        "msgtype": "text",
        "source": "archive",
        "sender_name": "张伟",
    }
    # Unknown names are left out, not stored as null; the key order is fixed.
    assert list(message("card", "aibot", None, None).to_payload()) == [
        "msgid", "chat_id", "sender", "sent_at", "text", "msgtype", "source",
    ]


def test_a_direct_message_keeps_its_empty_chat_id() -> None:
    msg = GroupMessage(msgid="d-1", chat_id="", sender="zhangwei", sent_at=SENT.astimezone(UTC), text="日报",
                       source="callback")
    assert GroupMessage.from_payload(msg.to_payload()) == msg
    assert not GroupMessage.from_payload(msg.to_payload()).is_group


def test_a_replay_line_is_judged_as_replay_whatever_it_says() -> None:
    line = {"msgid": "r-1", "chat_id": "wr-sales-east", "sender": "zhangwei", "sent_at": SENT.isoformat(),
            "text": "收到", "source": "bridge", "msgtype": None}
    msg = GroupMessage.from_payload(line, source="replay")
    assert (msg.source, msg.msgtype, msg.sender_name) == ("replay", "text", None)


BASE = message("text", "callback", None, None).to_payload()


@pytest.mark.parametrize(
    ("payload", "field", "error"),
    [
        (["m-1"], "", "expected a JSON object"),
        ("m-1", "", "expected a JSON object"),
        ({k: v for k, v in BASE.items() if k != "msgid"}, "msgid", "missing field 'msgid'"),
        ({k: v for k, v in BASE.items() if k != "chat_id"}, "chat_id", "missing field 'chat_id'"),
        ({k: v for k, v in BASE.items() if k != "text"}, "text", "missing field 'text'"),
        ({**BASE, "msgid": 1}, "msgid", "field 'msgid' must be a string"),
        ({**BASE, "chat_id": None}, "chat_id", "field 'chat_id' must be a string"),
        ({**BASE, "text": {"content": "你好"}}, "text", "field 'text' must be a string"),
        ({**BASE, "msgid": ""}, "msgid", "field 'msgid' is empty"),
        ({**BASE, "sender": ""}, "sender", "field 'sender' is empty"),
        ({**BASE, "sender_name": ["张伟"]}, "sender_name", "field 'sender_name' must be a string"),
        ({**BASE, "chat_name": 7}, "chat_name", "field 'chat_name' must be a string"),
        ({**BASE, "msgtype": 3}, "msgtype", "field 'msgtype' must be a string"),
        ({**BASE, "sent_at": "昨天中午"}, "sent_at", "sent_at is not an ISO 8601 time: '昨天中午'"),
        ({**BASE, "sent_at": "2026-03-02 10:15"}, "sent_at", "sent_at has no UTC offset: '2026-03-02 10:15'"),
        ({**BASE, "source": "carrier-pigeon"}, "source", "field 'source' is not a known source"),
        ({k: v for k, v in BASE.items() if k != "source"}, "source", "field 'source' is not a known source"),
    ],
)
def test_from_payload_names_the_field_that_is_wrong(payload, field, error) -> None:
    with pytest.raises(MessageFieldError) as caught:
        GroupMessage.from_payload(payload)
    assert (caught.value.field, str(caught.value)) == (field, error)
    assert isinstance(caught.value, ValueError)


def test_the_reason_never_quotes_the_value() -> None:
    with pytest.raises(MessageFieldError) as caught:
        GroupMessage.from_payload({**BASE, "sent_at": "王总手机13812345678"})
    assert caught.value.reason == "sent_at is not an ISO 8601 time"
    assert "138" not in caught.value.reason
