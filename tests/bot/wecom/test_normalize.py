"""Every inbound shape becomes an inbox row whose payload builds a GroupMessage."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from bot.errors import PayloadError
from bot.wecom.normalize import Inbound, from_aibot_json, from_app_xml, from_bridge_item
from tests.helpers.wecom import app_event_xml, app_text_xml

NOW = datetime(2026, 3, 2, 1, 15, tzinfo=UTC)


def test_app_text_message_is_a_command_keyed_on_msgid() -> None:
    xml = app_text_xml(msgid="4561255354251345929", sender="zhangwei", content="查询 本周 业绩", create_time=1772413200)
    assert from_app_xml(xml) == Inbound(
        dedupe_key="4561255354251345929",
        source="callback",
        kind="command",
        payload={
            "msgid": "4561255354251345929",
            "chat_id": "",
            "sender": "zhangwei",
            "sent_at": "2026-03-02T01:00:00+00:00",
            "text": "查询 本周 业绩",
            "msgtype": "text",
            "source": "callback",
        },
    )


def test_events_dedupe_on_a_hash_of_the_whole_payload() -> None:
    # Two approvals in the same second from the same sender: only the whole payload tells them apart.
    first = app_event_xml(event="msgaudit_notify", extra="<Seq>1</Seq>")
    second = app_event_xml(event="msgaudit_notify", extra="<Seq>2</Seq>")
    a, b = from_app_xml(first), from_app_xml(second)
    assert a.dedupe_key == "evt:" + hashlib.sha256(first.encode()).hexdigest()
    assert a.dedupe_key != b.dedupe_key
    assert (a.kind, a.event, a.payload["sender"]) == ("event", "msgaudit_notify", "sys")
    assert from_app_xml(first).dedupe_key == a.dedupe_key


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ("<xml><MsgType>text</MsgType>", "not a WeCom message"),
        ("<xml><FromUserName>a</FromUserName></xml>", "not a WeCom message"),
        (app_text_xml(msgid="", content="你好"), "without MsgId"),
        (app_text_xml(msgid="1", content="你好").replace("1772413200", "昨天"), "CreateTime"),
        # Signed, but read like the envelope: no DTD, no entity expansion (billion laughs and XXE).
        ('<!DOCTYPE xml [<!ENTITY a "啊啊啊啊">]><xml><MsgType>text</MsgType><Content>&a;&a;</Content></xml>',
         "not a WeCom message"),
        ("<note><MsgType>text</MsgType></note>", "not a WeCom message"),
        (app_text_xml(msgid="1", content="你好").replace("<xml>", "<xml><!-- x -->", 1)[:-6], "not a WeCom message"),
    ],
)
def test_unreadable_app_xml_is_a_payload_error(xml: str, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        from_app_xml(xml)


def aibot_doc(msgid: str, msgtype: str, body: dict, *, chatid: str | None = "wr-sales-east") -> dict:
    """An aibot callback as WeCom sends it, from lina: in the group `chatid`, or one to one (no chatid)."""
    doc = {"msgid": msgid, "aibotid": "bot", "chattype": "group" if chatid else "single", "from": {"userid": "lina"},
           "msgtype": msgtype, msgtype: body}
    return doc if chatid is None else {**doc, "chatid": chatid}


@pytest.mark.parametrize(
    ("doc", "kind", "chat_id", "text"),
    [
        (aibot_doc("a1", "text", {"content": "@销售助手 今天的跟进怎么填？"}), "message", "wr-sales-east",
         "@销售助手 今天的跟进怎么填？"),
        (aibot_doc("a2", "text", {"content": "帮助"}, chatid=None), "command", "", "帮助"),
        (aibot_doc("a3", "image", {"url": "https://x"}), "message", "wr-sales-east", ""),
    ],
)
def test_aibot_messages(doc: dict, kind: str, chat_id: str, text: str) -> None:
    inbound = from_aibot_json(json.dumps(doc, ensure_ascii=False), received_at=NOW)
    assert (inbound.dedupe_key, inbound.kind, inbound.source) == (doc["msgid"], kind, "aibot")
    assert (inbound.payload["chat_id"], inbound.payload["text"], inbound.payload["sent_at"]) == (
        chat_id,
        text,
        NOW.isoformat(),
    )


def test_aibot_stream_refresh_is_not_recorded_and_events_are() -> None:
    assert from_aibot_json('{"msgtype": "stream", "stream": {"id": "s1"}}', received_at=NOW) is None
    event = from_aibot_json(
        '{"msgtype": "event", "from": {"userid": "lina"}, "event": {"eventtype": "enter_chat"}}', received_at=NOW
    )
    assert (event.kind, event.event) == ("event", "enter_chat")


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [("{not json", "not JSON"), ("[1]", "JSON object"), ('{"msgtype": "text", "msgid": "x"}', "from.userid")],
)
def test_unreadable_aibot_json_is_a_payload_error(plaintext: str, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        from_aibot_json(plaintext, received_at=NOW)


GOOD = {
    "msgid": "m-0001",
    "chat_id": "wr-sales-east",
    "sender": "zhangwei",
    "sent_at": "2026-03-02T09:15:00+08:00",
    "text": "【成交】华星科技 王总 签约 5万",
}


def test_bridge_item_in_the_replay_format() -> None:
    inbound = from_bridge_item({**GOOD, "sender_name": "张伟", "chat_name": "华东销售群"})
    assert inbound == Inbound(
        dedupe_key="m-0001",
        source="bridge",
        kind="message",
        payload={**GOOD, "msgtype": "text", "source": "bridge", "sender_name": "张伟", "chat_name": "华东销售群"},
    )


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**GOOD, "sent_at": "2026-03-02T09:15:00"}, "sent_at: Input should have timezone info"),
        ({k: v for k, v in GOOD.items() if k != "msgid"}, "msgid: Field required"),
        ({**GOOD, "chat_id": ""}, "chat_id: String should have at least 1 character"),
        ({**GOOD, "text": 5}, "text: Input should be a valid string"),
        ("m-0001", "item is not a JSON object"),
    ],
)
def test_bad_bridge_items_name_the_field(item, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        from_bridge_item(item)
    assert caught.value.reason == reason
    assert "华星科技" not in caught.value.reason


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("客户姓名：王\x0b建国\n公司名称：华星\x1f科技", "客户姓名：王建国\n公司名称：华星科技"),
        ("【跟进】\t刘女士\r\n需求：门禁\x07\x1b[31m", "【跟进】\t刘女士\r\n需求：门禁[31m"),
        ("收到\x7f\x85\x9f", "收到"),
    ],
)
def test_control_characters_are_stripped_from_text_where_it_enters(sent: str, kept: str) -> None:
    """Issue 11 item 6: one control character in a client name broke every XLSX export. Text is
    kept (minus the control characters); names are refused at the door instead (item 4), below."""
    bridged = from_bridge_item({**GOOD, "text": sent})
    assert bridged.payload["text"] == kept
    doc = {"msgid": "ab-9", "chatid": "wr-sales-east", "chattype": "group", "from": {"userid": "lina"},
           "msgtype": "text", "text": {"content": sent}}
    assert from_aibot_json(json.dumps(doc, ensure_ascii=False), received_at=NOW).payload["text"] == kept


@pytest.mark.parametrize("field", ["sender_name", "chat_name"])
def test_a_name_with_a_control_character_is_refused_naming_the_field(field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        from_bridge_item({**GOOD, field: "华东\x00销售群"})
    assert caught.value.reason.startswith(f"{field}: ")
    assert "华东" not in caught.value.reason

