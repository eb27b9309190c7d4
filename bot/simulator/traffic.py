"""Posts callbacks the way WeCom's servers do: encrypted and signed, 5 s timeout, 3 retries.

Encryption is wechatpy's `WeChatCrypto` (the crypto the service decrypts with). A request is built
once and re-sent byte for byte, query included, when the connection fails or times out; WeCom
does not retry an answered request, whatever its status ("仅针对网络连接失败或者网络请求超时情况重试").

Example:
    poster = CallbackPoster("http://127.0.0.1:8000", app=CallbackKeys(token, aes_key, corp_id))
    poster.post_app(app_text_xml(corp_id=corp_id, agent_id=1000002, sender="zhangwei", text="我的待办",
                                 msgid="7001", sent_at=now))
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from xml.etree import ElementTree

import httpx
from wechatpy.enterprise.crypto import WeChatCrypto

log = logging.getLogger(__name__)

#: WeCom drops the connection after 5 s and tries again, three more times at most.
WECOM_TIMEOUT = 5.0
WECOM_RETRIES = 3


@dataclass(frozen=True)
class CallbackKeys:
    """A callback's token, EncodingAESKey and receive id (the CorpID; "" for the AI bot)."""

    token: str
    encoding_aes_key: str
    receive_id: str

    def __repr__(self) -> str:
        return f"CallbackKeys(receive_id={self.receive_id!r}, token='***', encoding_aes_key='***')"


@dataclass(frozen=True)
class Delivery:
    """How one callback went: the HTTP status of the answer (None if none came) and the attempts made."""

    status: int | None
    attempts: int
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def app_text_xml(*, corp_id: str, agent_id: int, sender: str, text: str, msgid: str, sent_at: datetime) -> str:
    """The plaintext of a text message a member sends to the app (the official sample's shape)."""
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata(sender)}</FromUserName>"
        f"<CreateTime>{int(sent_at.timestamp())}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
        f"<Content>{_cdata(text)}</Content><MsgId>{msgid}</MsgId><AgentID>{agent_id}</AgentID></xml>"
    )


def msgaudit_notify_xml(*, corp_id: str, agent_id: int, at: datetime) -> str:
    """The event that tells the archive poller new messages wait (会话内容存档 产生会话回调事件)."""
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata('sys')}</FromUserName>"
        f"<CreateTime>{int(at.timestamp())}</CreateTime><MsgType>{_cdata('event')}</MsgType>"
        f"<Event>{_cdata('msgaudit_notify')}</Event><AgentID>{agent_id}</AgentID></xml>"
    )


def aibot_text_json(
    *, aibot_id: str, chat_id: str, sender: str, text: str, msgid: str, response_url: str
) -> str:
    """The plaintext of a group message that @-mentions the AI bot (智能机器人)."""
    return json.dumps(
        {
            "msgid": msgid,
            "aibotid": aibot_id,
            "chatid": chat_id,
            "chattype": "group",
            "from": {"userid": sender},
            "response_url": response_url,
            "msgtype": "text",
            "text": {"content": text},
        },
        ensure_ascii=False,
    )


class CallbackPoster:
    """Sends encrypted callbacks to the service; one instance per target service."""

    def __init__(
        self,
        base_url: str,
        *,
        app: CallbackKeys | None = None,
        aibot: CallbackKeys | None = None,
        agent_id: int = 1000002,
        app_path: str = "/wecom/callback",
        aibot_path: str = "/wecom/aibot",
        timeout: float = WECOM_TIMEOUT,
        retries: int = WECOM_RETRIES,
        retry_pause: float = 0.0,
        retry_statuses: frozenset[int] = frozenset(),
        wall_clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app, self.aibot, self.agent_id = app, aibot, agent_id
        self.app_path, self.aibot_path = app_path, aibot_path
        self.retries, self.retry_pause = retries, retry_pause
        #: WeCom's documented rule retries only on no answer; list statuses here to test stricter senders.
        self.retry_statuses = retry_statuses
        self.wall_clock = wall_clock
        self._client = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CallbackPoster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _sealed(self, keys: CallbackKeys, plaintext: str) -> tuple[str, dict[str, str]]:
        """Encrypt and sign with wechatpy; returns the ciphertext and the query WeCom sends with it."""
        timestamp, nonce = str(int(self.wall_clock())), str(secrets.randbelow(10**10))
        crypto = WeChatCrypto(keys.token, keys.encoding_aes_key, keys.receive_id)
        sealed = ElementTree.fromstring(crypto.encrypt_message(plaintext, nonce, timestamp))
        query = {"msg_signature": sealed.findtext("MsgSignature"), "timestamp": timestamp, "nonce": nonce}
        return sealed.findtext("Encrypt") or "", query

    def post_app(self, plaintext_xml: str) -> Delivery:
        """POST a self-built-app callback: `<xml><ToUserName/><Encrypt/><AgentID/></xml>`."""
        if self.app is None:
            raise ValueError("no app callback keys: pass app=CallbackKeys(...)")
        encrypt, query = self._sealed(self.app, plaintext_xml)
        body = (
            f"<xml><ToUserName>{_cdata(self.app.receive_id)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt>"
            f"<AgentID>{_cdata(str(self.agent_id))}</AgentID></xml>"
        ).encode()
        return self._send(self.app_path, query, body, "text/xml")

    def post_aibot(self, plaintext_json: str) -> Delivery:
        """POST an AI-bot callback: JSON `{"encrypt": ...}`, receive id ""."""
        if self.aibot is None:
            raise ValueError("no AI-bot callback keys: pass aibot=CallbackKeys(...)")
        encrypt, query = self._sealed(self.aibot, plaintext_json)
        return self._send(self.aibot_path, query, json.dumps({"encrypt": encrypt}).encode(), "application/json")

    def post_bridge(self, messages: list[dict], ingest_token: str, path: str = "/ingest/messages") -> Delivery:
        """POST a batch in the replay input format to the bridge endpoint (bearer token); same retries."""
        body = json.dumps(messages, ensure_ascii=False).encode()
        return self._send(path, {}, body, "application/json", {"Authorization": f"Bearer {ingest_token}"})

    def verify_url(self, keys: CallbackKeys, path: str) -> Delivery:
        """The URL check an admin triggers when saving the callback URL: GET with an encrypted echostr."""
        echo = str(secrets.randbelow(10**19))
        encrypt, query = self._sealed(keys, echo)
        url = f"{self.base_url}{path}?" + "&".join(
            f"{k}={quote(v, safe='')}" for k, v in (query | {"echostr": encrypt}).items()
        )
        answer = self._client.get(url)
        return Delivery(answer.status_code, 1, answer.text, None if answer.text == echo else "echostr mismatch")

    def _send(
        self, path: str, query: dict[str, str], body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> Delivery:
        url = f"{self.base_url}{path}"
        headers = {"Content-Type": content_type} | (headers or {})
        error = None
        for attempt in range(1, self.retries + 2):
            try:
                answer = self._client.post(url, params=query, content=body, headers=headers)
            except httpx.TransportError as exc:
                error = type(exc).__name__
                log.info("callback attempt failed", extra={"path": path, "attempt": attempt, "error": error})
                if self.retry_pause:
                    time.sleep(self.retry_pause)
                continue
            if answer.status_code in self.retry_statuses and attempt <= self.retries:
                error = f"HTTP {answer.status_code}"
                continue
            return Delivery(answer.status_code, attempt, answer.text)
        return Delivery(None, self.retries + 1, error=error)
