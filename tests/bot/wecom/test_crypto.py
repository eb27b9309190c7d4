"""CallbackCrypto: Tencent's official vectors verify and decrypt; every broken body is a typed 4xx."""

from __future__ import annotations

import json

import pytest

from bot.errors import PayloadError, SignatureError
from bot.wecom.crypto import CallbackCrypto
from tests.conftest import WECOM_VECTORS
from tests.helpers.wecom import AES_KEY, CORP_ID, TOKEN, broken_requests, callback_request

VECTORS = json.loads(WECOM_VECTORS.read_text(encoding="utf-8"))["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_official_vectors_verify_and_decrypt(vector: dict) -> None:
    crypto = CallbackCrypto(vector["token"], vector["encoding_aes_key"], vector["receive_id"])
    signed = {"msg_signature": vector["msg_signature"], "timestamp": vector["timestamp"], "nonce": vector["nonce"]}
    if vector["kind"] == "verify_url":
        out = crypto.verify_url(echostr=vector["echostr"], **signed)
    elif vector["kind"] == "decrypt_xml":
        out = crypto.decrypt_xml(vector["post_body"].encode(), **signed)
    else:
        out = crypto.decrypt_json(vector["post_body"].encode(), **signed)
    assert out == vector["expected_plaintext"]


@pytest.mark.parametrize(
    ("case", "request_", "status", "reason"), broken_requests(), ids=[row[0] for row in broken_requests()]
)
def test_broken_bodies_raise_typed_errors_with_a_reason(case: str, request_, status: int, reason: str) -> None:
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    expected = SignatureError if status == 403 else PayloadError
    with pytest.raises(expected) as caught:
        crypto.decrypt_xml(request_.body, **request_.params)
    assert caught.value.status == status
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe{}", "not UTF-8 JSON"),
        (b"[1, 2]", '"encrypt"'),
        (b'{"encrypt": 5}', '"encrypt"'),
        (b"{}", '"encrypt"'),
    ],
)
def test_json_bodies_without_a_readable_encrypt_are_refused(body: bytes, reason: str) -> None:
    crypto = CallbackCrypto(TOKEN, AES_KEY, "")
    with pytest.raises(PayloadError, match=reason):
        crypto.decrypt_json(body, msg_signature="a" * 40, timestamp="1", nonce="2")


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce"])
def test_missing_query_parameters_are_a_signature_error(missing: str) -> None:
    request = callback_request("<xml/>")
    params = {**request.params, missing: ""}
    with pytest.raises(SignatureError, match="required"):
        CallbackCrypto(TOKEN, AES_KEY, CORP_ID).decrypt_xml(request.body, **params)


@pytest.mark.parametrize(
    "plaintext", ["<xml><Content>【跟进】客户：王总，明天上门拜访</Content></xml>", "1616140317555161061"]
)
def test_our_encryption_round_trips_through_wechatpy_layout(plaintext: str) -> None:
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_xml(plaintext, nonce="42", timestamp="1772413200").encode()
    encrypt = envelope.split(b"<Encrypt><![CDATA[")[1].split(b"]]>")[0].decode()
    assert crypto.decrypt(encrypt) == plaintext
    reply = json.loads(crypto.encrypt_json(plaintext, nonce="42", timestamp="1772413200"))
    assert reply["msgsignature"] == crypto.sign("1772413200", "42", reply["encrypt"])
    assert crypto.decrypt(reply["encrypt"]) == plaintext


def test_repr_never_shows_the_token_or_key() -> None:
    text = repr(CallbackCrypto(TOKEN, AES_KEY, CORP_ID))
    assert TOKEN not in text and AES_KEY not in text
