"""The traffic generator posts callbacks as WeCom does: wechatpy-decryptable, same body on retry."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.simulator.serve import free_port, serve_in_thread
from bot.simulator.traffic import (
    CallbackKeys,
    CallbackPoster,
    aibot_text_json,
    app_text_xml,
    msgaudit_notify_xml,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Official vector A's key pair (wecom-protocol.md §b), so the same bytes decrypt in Tencent's samples.
APP = CallbackKeys("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
AIBOT = CallbackKeys("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "")
SENT_AT = datetime(2026, 3, 2, 9, 15, tzinfo=SHANGHAI)


class FakeService:
    """A stand-in for the groupbot callback: decrypts with wechatpy; can stall or fail on request."""

    def __init__(self, *, stall_first: float = 0.0, status: int = 200) -> None:
        self.stall_first = stall_first
        self.status = status
        self.raw: list[tuple[str, bytes]] = []
        self.plaintexts: list[str] = []
        self.app = FastAPI()
        self.app.post("/wecom/callback")(self.callback)
        self.app.post("/wecom/aibot")(self.aibot)
        self.app.get("/wecom/callback")(self.verify)

    async def _arrive(self, request: Request) -> bytes:
        body = await request.body()
        self.raw.append((str(request.url.query), body))
        if len(self.raw) == 1 and self.stall_first:
            await asyncio.sleep(self.stall_first)
        return body

    async def callback(self, request: Request) -> Response:
        body = await self._arrive(request)
        q = request.query_params
        crypto = WeChatCrypto(APP.token, APP.encoding_aes_key, APP.receive_id)
        self.plaintexts.append(crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"]))
        return Response(status_code=self.status)

    async def aibot(self, request: Request) -> Response:
        body = await self._arrive(request)
        q = request.query_params
        crypto = WeChatCrypto(AIBOT.token, AIBOT.encoding_aes_key, "")
        encrypt = json.loads(body)["encrypt"]
        plain = crypto.decrypt_message({"Encrypt": encrypt}, q["msg_signature"], q["timestamp"], q["nonce"])
        self.plaintexts.append(plain)
        return Response(status_code=self.status)

    async def verify(self, request: Request) -> PlainTextResponse:
        q = request.query_params
        crypto = WeChatCrypto(APP.token, APP.encoding_aes_key, APP.receive_id)
        echo = crypto.check_signature(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
        return PlainTextResponse(echo)


def poster_for(url: str, *, timeout: float = 5.0) -> CallbackPoster:
    return CallbackPoster(url, app=APP, aibot=AIBOT, agent_id=218, timeout=timeout)


@pytest.mark.parametrize(
    ("plaintext", "expected"),
    [
        (
            app_text_xml(corp_id=APP.receive_id, agent_id=218, sender="zhangwei", text="我的待办",
                         msgid="4561255354251345929", sent_at=SENT_AT),
            ["<FromUserName><![CDATA[zhangwei]]></FromUserName>", "<Content><![CDATA[我的待办]]></Content>",
             "<MsgId>4561255354251345929</MsgId>", f"<CreateTime>{int(SENT_AT.timestamp())}</CreateTime>"],
        ),
        (
            app_text_xml(corp_id=APP.receive_id, agent_id=218, sender="lisi", text="a]]>b <c>", msgid="1",
                         sent_at=SENT_AT),
            ["<Content><![CDATA[a]]]]><![CDATA[>b <c>]]></Content>"],
        ),
        (
            msgaudit_notify_xml(corp_id=APP.receive_id, agent_id=218, at=SENT_AT),
            ["<MsgType><![CDATA[event]]></MsgType>", "<Event><![CDATA[msgaudit_notify]]></Event>"],
        ),
    ],
)
def test_app_callbacks_decrypt_with_wechatpy(plaintext, expected):
    service = FakeService()
    with serve_in_thread(service.app) as server, poster_for(server.url) as poster:
        delivery = poster.post_app(plaintext)
    assert (delivery.status, delivery.attempts) == (200, 1)
    assert service.plaintexts == [plaintext]
    assert all(fragment in plaintext for fragment in expected)
    _, body = service.raw[0]
    assert body.startswith(b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt>")


def test_aibot_callback_is_json_with_receive_id_empty():
    service = FakeService()
    plaintext = aibot_text_json(aibot_id="aib-demo", chat_id="wr-sales-east", sender="zhangwei",
                                text="@销售助手 本周排行", msgid="aibot-1", response_url="http://127.0.0.1/r/1")
    with serve_in_thread(service.app) as server, poster_for(server.url) as poster:
        assert poster.post_aibot(plaintext).ok
    decoded = json.loads(service.plaintexts[0])
    assert decoded == {
        "msgid": "aibot-1", "aibotid": "aib-demo", "chatid": "wr-sales-east", "chattype": "group",
        "from": {"userid": "zhangwei"}, "response_url": "http://127.0.0.1/r/1", "msgtype": "text",
        "text": {"content": "@销售助手 本周排行"},
    }
    assert set(json.loads(service.raw[0][1])) == {"encrypt"}


def test_a_timeout_is_retried_with_the_same_request():
    service = FakeService(stall_first=1.0)
    xml = app_text_xml(corp_id=APP.receive_id, agent_id=218, sender="sunli", text="我的待办", msgid="77",
                       sent_at=SENT_AT)
    with serve_in_thread(service.app) as server, poster_for(server.url, timeout=0.3) as poster:
        delivery = poster.post_app(xml)
        assert (delivery.status, delivery.attempts) == (200, 2)
    assert len(service.raw) == 2
    assert service.raw[0] == service.raw[1]  # query (signature, timestamp, nonce) and body, byte for byte


def test_an_unreachable_service_gets_one_try_and_three_retries():
    with poster_for(f"http://127.0.0.1:{free_port()}", timeout=0.5) as poster:
        delivery = poster.post_app(msgaudit_notify_xml(corp_id=APP.receive_id, agent_id=218, at=SENT_AT))
    assert (delivery.status, delivery.attempts, delivery.error) == (None, 4, "ConnectError")


@pytest.mark.parametrize("status", [403, 503])
def test_an_answered_request_is_not_retried_whatever_its_status(status):
    service = FakeService(status=status)
    with serve_in_thread(service.app) as server, poster_for(server.url) as poster:
        delivery = poster.post_app(msgaudit_notify_xml(corp_id=APP.receive_id, agent_id=218, at=SENT_AT))
    assert (delivery.status, delivery.attempts) == (status, 1)


def test_url_verification_round_trip():
    service = FakeService()
    with serve_in_thread(service.app) as server, poster_for(server.url) as poster:
        delivery = poster.verify_url(APP, "/wecom/callback")
    assert delivery.ok and delivery.error is None and delivery.body.isdigit()


def test_keys_never_show_in_repr():
    assert "jWmYm7" not in repr(APP) and "QDG6eK" not in repr(APP)


def test_statuses_listed_as_retryable_are_retried_to_the_limit():
    service = FakeService(status=503)
    with serve_in_thread(service.app) as server:
        with CallbackPoster(server.url, app=APP, agent_id=218, retry_statuses=frozenset({503})) as poster:
            delivery = poster.post_app(msgaudit_notify_xml(corp_id=APP.receive_id, agent_id=218, at=SENT_AT))
    assert (delivery.status, delivery.attempts) == (503, 4)
    assert len(service.raw) == 4 and len(set(service.raw)) == 1
