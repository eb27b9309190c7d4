"""Inbox payloads sealed at rest: what opens, and what is refused with a reason (never a crash)."""

from __future__ import annotations

import base64
import json

import pytest

from storage.sealing import PayloadSealer, SealError

PAYLOAD = {"msgid": "m-1", "chat_id": "wr-sales-east", "sender": "zhangwei", "text": "王总手机13812345678"}
SEALER = PayloadSealer.from_secret("sealing-test-secret-key-0123456789-ab")


def test_a_sealed_payload_opens_on_its_own_row_and_holds_no_clear_text() -> None:
    stored = SEALER.seal(PAYLOAD, aad="m-1")
    assert list(stored) == ["sealed"]
    blob = base64.b64decode(stored["sealed"])
    assert blob[0] == 1 and blob[1:5] == SEALER.key_id  # format version, then the key id
    assert b"13812345678" not in blob and "13812345678" not in json.dumps(stored)
    assert SEALER.open(stored, aad="m-1") == PAYLOAD


def test_each_row_gets_its_own_nonce() -> None:
    assert SEALER.seal(PAYLOAD, aad="m-1") != SEALER.seal(PAYLOAD, aad="m-1")


def test_the_key_is_derived_once_from_the_secret_and_depends_on_it() -> None:
    again = PayloadSealer.from_secret("sealing-test-secret-key-0123456789-ab")
    assert again.key_id == SEALER.key_id
    assert again.open(SEALER.seal(PAYLOAD, aad="m-1"), aad="m-1") == PAYLOAD
    assert PayloadSealer.from_secret("another-secret-key-0123456789-abcdefgh").key_id != SEALER.key_id


def tampered(stored: dict, index: int) -> dict:
    blob = bytearray(base64.b64decode(stored["sealed"]))
    blob[index] ^= 0x01
    return {"sealed": base64.b64encode(bytes(blob)).decode()}


@pytest.mark.parametrize(
    ("opener", "stored", "aad", "reason"),
    [
        (PayloadSealer.from_secret("rotated-secret-key-0123456789-abcdefg"), SEALER.seal(PAYLOAD, aad="m-1"), "m-1",
         "sealed with another secret key"),
        (SEALER, SEALER.seal(PAYLOAD, aad="m-1"), "m-2", "moved to another row"),
        (SEALER, tampered(SEALER.seal(PAYLOAD, aad="m-1"), -1), "m-1", "does not authenticate"),
        (SEALER, tampered(SEALER.seal(PAYLOAD, aad="m-1"), 0), "m-1", "unknown format version"),
        (SEALER, {"sealed": "not base64!"}, "m-1", "not valid base64"),
        (SEALER, {"sealed": "AQID"}, "m-1", "truncated"),
        (SEALER, None, "m-1", "missing or not a JSON object"),
    ],
    ids=["old key", "other row", "flipped tag", "unknown version", "not base64", "truncated", "missing"],
)
def test_what_cannot_be_opened_is_refused_with_a_reason(opener, stored, aad: str, reason: str) -> None:
    with pytest.raises(SealError, match=reason) as caught:
        opener.open(stored, aad=aad)
    assert "13812345678" not in str(caught.value)


def test_a_clear_payload_written_before_sealing_opens_as_it_is() -> None:
    """Rows already waiting when this version is installed are still judged."""
    assert SEALER.open(PAYLOAD, aad="m-1") == PAYLOAD
