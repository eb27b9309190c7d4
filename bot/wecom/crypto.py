"""WeCom callback crypto (WXBizMsgCrypt): verify, decrypt and encrypt, with every failure typed.

A thin layer over wechatpy's `WeChatCrypto`: wechatpy derives the key, signs and encrypts. Decryption
is checked here step by step because wechatpy 1.8.18 lets raw `KeyError`, `UnicodeDecodeError` and
`ExpatError` escape on hostile input and never checks the PKCS#7 padding byte; every failure becomes
`SignatureError` (→ 403) or `PayloadError` (→ 400/413) carrying a reason that names what is wrong,
never a key or plaintext. The envelope and the decrypted message are read with expat, DTDs and
entities refused (`xml_fields`: the protection defusedxml gives, without its per-call parser set-up
on the hot path).

Example::

    crypto = CallbackCrypto(token, aes_key, corp_id)
    xml = crypto.decrypt_xml(body, msg_signature=sig, timestamp=ts, nonce=nonce)
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import struct
import time
from xml.parsers import expat

from wechatpy.crypto.base import WeChatCipher
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.errors import PayloadError, SignatureError

#: Bodies above this many bytes are refused with 413 before any parsing.
DEFAULT_MAX_BODY = 1024 * 1024
#: WXBizMsgCrypt pads to 32-byte blocks (not AES's 16), so a valid pad byte is 1..32.
_PAD_BLOCK = 32


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 over the sorted (token, timestamp, nonce, encrypt), lowercase hex."""
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce, encrypt)
    return signer.signature


class _Refused(Exception):
    """Raised inside the expat callbacks to stop at a DTD or entity declaration."""


def xml_fields(xml: bytes | str, *, root: str = "xml") -> dict[str, str]:
    """The text of each child of a flat WeCom document `<xml><A>…</A><B>…</B></xml>`, stripped.

    Read with expat, DTDs and entities refused. The first of a repeated child wins; the text of
    deeper elements is left out (no WeCom field this bot reads is nested). One small parser for both
    the envelope and the decrypted message: wechatpy's `parse_message` builds the same dict through
    xmltodict and a message class, several times the cost on the callback's hot path.
    """
    parser = expat.ParserCreate()
    depth = 0
    current: str | None = None
    fields: dict[str, str] = {}
    chunks: list[str] = []
    root_name = ""

    def refuse(*_args: object) -> None:
        raise _Refused

    def start(name: str, _attrs: object) -> None:
        nonlocal depth, current, root_name
        depth += 1
        if depth == 1:
            root_name = name
        elif depth == 2:
            current = name
            chunks.clear()

    def end(_name: str) -> None:
        nonlocal depth, current
        if depth == 2 and current is not None and current not in fields:
            fields[current] = "".join(chunks).strip()
        depth -= 1
        if depth < 2:
            current = None

    def text(data: str) -> None:
        if depth == 2:
            chunks.append(data)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(xml, True)
    except _Refused:
        raise PayloadError("XML with DTD or entities is refused") from None
    except (expat.ExpatError, ValueError):
        raise PayloadError("not well-formed UTF-8 XML") from None
    if root_name != root:
        raise PayloadError(f"XML root is not <{root}>")
    return fields


def _envelope_encrypt(body: bytes) -> str:
    """The text of <xml><Encrypt> in a callback envelope."""
    try:
        encrypt = xml_fields(body).get("Encrypt", "")
    except PayloadError as exc:
        raise PayloadError(f"body: {exc.reason}") from None
    if not encrypt:
        raise PayloadError("XML has no <Encrypt> element")
    return encrypt


class CallbackCrypto:
    """One callback's crypto: token + EncodingAESKey + receive id (CorpID, or "" for the AI bot)."""

    __slots__ = ("_token", "_key", "_wechat", "receive_id", "max_body_bytes")

    def __init__(
        self, token: str, encoding_aes_key: str, receive_id: str, *, max_body_bytes: int = DEFAULT_MAX_BODY
    ) -> None:
        self._wechat = WeChatCrypto(token, encoding_aes_key, receive_id)
        self._token = token
        self._key: bytes = self._wechat.key
        self.receive_id = receive_id
        self.max_body_bytes = max_body_bytes

    def __repr__(self) -> str:
        return f"CallbackCrypto(receive_id={self.receive_id!r}, max_body_bytes={self.max_body_bytes})"

    # -- inbound ---------------------------------------------------------------------------------

    def verify_url(self, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The GET URL check: verify the signature over echostr and return its plaintext."""
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_xml(self, body: bytes, *, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Body `<xml><Encrypt>…</Encrypt>…</xml>` → the decrypted inner XML text."""
        self._check_size(body)
        encrypt = _envelope_encrypt(body)
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def decrypt_json(self, body: bytes, *, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Body `{"encrypt": "…"}` (the AI bot's JSON callback) → the decrypted JSON text."""
        self._check_size(body)
        try:
            doc = json.loads(body)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both
            raise PayloadError("body is not UTF-8 JSON") from None
        except RecursionError:  # 100,000 nested "[": the signature is inside, so refuse before it
            raise PayloadError("body is nested too deeply") from None
        encrypt = doc.get("encrypt", doc.get("Encrypt")) if isinstance(doc, dict) else None
        if not isinstance(encrypt, str) or not encrypt:
            raise PayloadError('JSON has no "encrypt" string')
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def decrypt(self, encrypt: str) -> str:
        """Decrypt one base64 `Encrypt` value whose signature was already checked."""
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise PayloadError("Encrypt is not valid base64") from None
        if not raw or len(raw) % 16:
            raise PayloadError("ciphertext length is not a multiple of the AES block")
        plain = WeChatCipher(self._key).decrypt(raw)
        pad = plain[-1]
        if not 1 <= pad <= _PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise PayloadError("bad padding: wrong EncodingAESKey or corrupted ciphertext")
        content = plain[16:-pad]
        if len(content) < 4:
            raise PayloadError("decrypted payload is too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise PayloadError("decrypted length field exceeds the payload")
        message, receive_id = content[4 : 4 + length], content[4 + length :]
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise PayloadError("receive id does not match this callback (wrong CorpID or key)")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("decrypted message is not UTF-8") from None

    # -- outbound (passive replies; the simulator and tests use them to build callbacks) ----------

    def encrypt(self, plaintext: str) -> str:
        return PrpCrypto(self._key).encrypt(plaintext, self.receive_id).decode("ascii")

    def encrypt_xml(self, plaintext: str, *, nonce: str, timestamp: str | None = None) -> str:
        """An encrypted XML envelope (the reply shape; also what WeCom POSTs, minus ToUserName)."""
        return self._wechat.encrypt_message(plaintext, nonce, timestamp or str(int(time.time())))

    def encrypt_json(self, plaintext: str, *, nonce: str, timestamp: str | None = None) -> str:
        """The AI bot's encrypted JSON reply `{"encrypt", "msgsignature", "timestamp", "nonce"}`."""
        ts = timestamp or str(int(time.time()))
        encrypt = self.encrypt(plaintext)
        return json.dumps(
            {
                "encrypt": encrypt,
                "msgsignature": signature(self._token, ts, nonce, encrypt),
                "timestamp": int(ts),
                "nonce": nonce,
            },
            separators=(",", ":"),
        )

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self._token, timestamp, nonce, encrypt)

    # -- checks ------------------------------------------------------------------------------------

    def _check_size(self, body: bytes) -> None:
        if len(body) > self.max_body_bytes:
            raise PayloadError(f"body of {len(body)} bytes exceeds the {self.max_body_bytes}-byte limit", 413)

    def _check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        if not (msg_signature and timestamp and nonce):
            raise SignatureError("msg_signature, timestamp and nonce are required")
        expected = signature(self._token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode("utf-8", "replace")):
            raise SignatureError("msg_signature does not match")
