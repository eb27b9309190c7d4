"""Hypothesis over the callback decoder: whatever the bytes, decrypt_xml/decrypt_json either return the
plaintext or raise our typed 4xx errors (never KeyError, UnicodeDecodeError, ExpatError, binascii.Error)."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import PayloadError, SignatureError
from bot.wecom.crypto import CallbackCrypto
from tests.helpers.wecom import AES_KEY, CORP_ID, TOKEN, app_text_xml, sign, xml_envelope

CRYPTO = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TS, NONCE = "1772413200", "7281"
PLAIN = app_text_xml(msgid="7001", content="【跟进】客户：王总 公司：华星科技 下一步：周三上门演示")
VALID = CRYPTO.encrypt(PLAIN)


def decode(body: bytes, params: dict[str, str], *, json_body: bool = False) -> str | None:
    """The plaintext, or None when the decoder refused with a typed 4xx error."""
    decrypt = CRYPTO.decrypt_json if json_body else CRYPTO.decrypt_xml
    try:
        return decrypt(body, msg_signature=params["msg_signature"], timestamp=params["timestamp"],
                       nonce=params["nonce"])
    except (PayloadError, SignatureError) as exc:
        assert 400 <= exc.status < 500 and exc.reason
        return None


def signed(encrypt: str) -> dict[str, str]:
    return {"msg_signature": sign(TOKEN, TS, NONCE, encrypt), "timestamp": TS, "nonce": NONCE}


@FUZZ
@given(body=st.binary(max_size=600), json_body=st.booleans(),
       signature=st.text(max_size=45), timestamp=st.text(max_size=12), nonce=st.text(max_size=12))
def test_arbitrary_bytes_are_refused_with_a_typed_error(body: bytes, json_body: bool, signature: str,
                                                        timestamp: str, nonce: str) -> None:
    params = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
    assert decode(body, params, json_body=json_body) is None


@FUZZ
@given(encrypt=st.one_of(st.text(max_size=200), st.binary(max_size=150).map(lambda b: base64.b64encode(b).decode())))
def test_any_signed_encrypt_value_decrypts_or_is_refused(encrypt: str) -> None:
    """A correctly signed envelope around garbage reaches the AES layer: still only typed errors."""
    if "]]>" in encrypt:
        return  # would end the CDATA section: a different envelope, covered by the bytes test
    decode(xml_envelope(encrypt), signed(encrypt))
    decode(json.dumps({"encrypt": encrypt}).encode(), signed(encrypt), json_body=True)


@FUZZ
@given(data=st.data())
def test_a_mutated_valid_ciphertext_never_escapes_as_an_untyped_error(data: st.DataObject) -> None:
    raw = bytearray(base64.b64decode(VALID))
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        i = data.draw(st.integers(0, len(raw) - 1), label="at")
        raw[i] ^= data.draw(st.integers(1, 255), label="xor")
    cut = data.draw(st.integers(0, 3), label="drop blocks")
    mutated = base64.b64encode(bytes(raw[: len(raw) - 16 * cut] if cut else raw)).decode()
    result = decode(xml_envelope(mutated), signed(mutated))
    # CBC: a flip in block k garbles k and flips a byte of k+1; a result that still decodes has the layout right.
    assert result is None or isinstance(result, str)


@FUZZ
@given(data=st.data())
def test_every_mutated_signature_is_refused(data: st.DataObject) -> None:
    good = signed(VALID)["msg_signature"]
    i = data.draw(st.integers(0, len(good) - 1))
    replacement = data.draw(st.sampled_from("0123456789abcdefABCDEF \x00é"))
    bad = good[:i] + replacement + good[i + 1 :]
    if bad.lower() == good:
        return  # hex is case-insensitive: the same signature
    params = {**signed(VALID), "msg_signature": bad}
    assert decode(xml_envelope(VALID), params) is None
    assert decode(xml_envelope(VALID), signed(VALID)) == PLAIN
