"""Build WeCom callback requests the way WeCom does: encrypted and signed with wechatpy (not our code),
plus hand-sealed ciphertexts for the broken cases wechatpy cannot produce (bad padding, non-UTF-8).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
OTHER_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
AIBOT_TOKEN = "aibotToken2026"
AIBOT_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def sign(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def seal(encoding_aes_key: str, plain: bytes) -> str:
    """AES-256-CBC (IV = key[:16]) over `plain` exactly as given: no padding added."""
    key = base64.b64decode(encoding_aes_key + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def layout(message: bytes, receive_id: bytes, *, pad: int | None = None) -> bytes:
    """random(16) ‖ len ‖ message ‖ receive id ‖ PKCS#7(32); `pad` forces the last byte."""
    body = os.urandom(16) + struct.pack(">I", len(message)) + message + receive_id
    n = 32 - len(body) % 32
    body += bytes([n]) * n
    if pad is not None:
        body = body[:-1] + bytes([pad])
    return body


@dataclass(frozen=True)
class Signed:
    params: dict[str, str]
    body: bytes


def xml_envelope(encrypt: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        "<AgentID><![CDATA[1000002]]></AgentID></xml>"
    ).encode()


def signed_xml(encrypt: str, *, token: str = TOKEN, timestamp: str = "1772413200", nonce: str = "7281") -> Signed:
    params = {"msg_signature": sign(token, timestamp, nonce, encrypt), "timestamp": timestamp, "nonce": nonce}
    return Signed(params, xml_envelope(encrypt))


def encrypt_with_wechatpy(plaintext: str, *, key: str = AES_KEY, receive_id: str = CORP_ID) -> str:
    crypto = WeChatCrypto(TOKEN, key, receive_id)
    return PrpCrypto(crypto.key).encrypt(plaintext, receive_id).decode()


def app_text_xml(*, msgid: str, sender: str = "zhangwei", content: str, create_time: int = 1772413200) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msgid}</MsgId><AgentID>1000002</AgentID></xml>"
    )


def app_event_xml(*, event: str, sender: str = "sys", create_time: int = 1772413200, extra: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{extra}<AgentID>1000002</AgentID></xml>"
    )


def callback_request(plaintext: str, **kwargs) -> Signed:
    """A POST /wecom/callback request for `plaintext`, encrypted and signed with wechatpy."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    nonce, timestamp = "1372623149", "1772413200"
    envelope = crypto.encrypt_message(plaintext, nonce, timestamp)
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    return signed_xml(encrypt, timestamp=timestamp, nonce=nonce, **kwargs)


def aibot_request(doc: dict, *, timestamp: str = "1772413200", nonce: str = "99") -> Signed:
    encrypt = encrypt_with_wechatpy(json.dumps(doc, ensure_ascii=False), key=AIBOT_KEY, receive_id="")
    params = {"msg_signature": sign(AIBOT_TOKEN, timestamp, nonce, encrypt), "timestamp": timestamp, "nonce": nonce}
    return Signed(params, json.dumps({"encrypt": encrypt}).encode())


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b"<xml><Encrypt>&d;</Encrypt></xml>"
)


XXE = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>'


def broken_requests() -> list[tuple[str, Signed, int, str]]:
    """(case, request, status, reason fragment) for every way a callback body can be wrong."""
    good = encrypt_with_wechatpy(app_text_xml(msgid="1", content="你好"))
    bad_b64 = "不是base64!!"
    return [
        ("malformed XML", Signed(signed_xml(good).params, b"<xml><Encrypt>abc"), 400, "well-formed"),
        ("entity bomb", Signed(signed_xml(good).params, BILLION_LAUGHS), 400, "DTD"),
        ("external entity", Signed(signed_xml(good).params, XXE), 400, "DTD"),
        ("over 1 MiB", Signed(signed_xml(good).params, b"<xml>" + b" " * (1024 * 1024) + b"</xml>"), 413, "limit"),
        (
            "missing <Encrypt>",
            Signed(signed_xml(good).params, b"<xml><ToUserName>x</ToUserName></xml>"),
            400,
            "<Encrypt>",
        ),
        (
            "non-UTF-8 body",
            Signed(signed_xml(good).params, b"<xml><Encrypt>\xff\xfe\xfa</Encrypt></xml>"),
            400,
            "UTF-8",
        ),
        (
            "bad signature",
            Signed({**signed_xml(good).params, "msg_signature": "0" * 40}, xml_envelope(good)),
            403,
            "msg_signature",
        ),
        (
            "wrong receive id",
            signed_xml(encrypt_with_wechatpy(app_text_xml(msgid="2", content="x"), receive_id="ww0000000000000000")),
            400,
            "receive id",
        ),
        ("wrong key", signed_xml(seal(OTHER_KEY, layout(b"<xml/>", CORP_ID.encode()))), 400, ""),
        ("pad byte 0", signed_xml(seal(AES_KEY, layout(b"<xml/>", CORP_ID.encode(), pad=0))), 400, "padding"),
        ("pad byte 200", signed_xml(seal(AES_KEY, layout(b"<xml/>", CORP_ID.encode(), pad=200))), 400, "padding"),
        ("non-UTF-8 plaintext", signed_xml(seal(AES_KEY, layout(b"\xff\xfe<xml/>", CORP_ID.encode()))), 400, "UTF-8"),
        ("bad base64", signed_xml(bad_b64), 400, "base64"),
        ("length field too big", signed_xml(seal(AES_KEY, _lying_length())), 400, "length"),
    ]


def _lying_length() -> bytes:
    body = os.urandom(16) + struct.pack(">I", 10_000) + b"<xml/>" + CORP_ID.encode()
    n = 32 - len(body) % 32
    return body + bytes([n]) * n
