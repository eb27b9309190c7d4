"""Inbox payloads sealed at rest: AES-GCM under a key derived from GROUPBOT_SECRET_KEY.

The inbox payload is the only place clear message text (customers' mobiles, ID numbers …) exists
before the engine masks it, and a parked row keeps it until an admin looks. Sealed, neither the
table, the SQLite WAL, a PostgreSQL dump nor a backup holds a clear identifier.

Stored shape (the JSON column keeps a JSON object)::

    {"sealed": base64( version:1 | key_id:4 | nonce:12 | AES-GCM ciphertext+tag )}

- The key is HKDF-SHA256 over the secret key with a fixed info label, derived once per process
  (`PayloadSealer.from_secret` at app creation), never per request.
- The nonce is random per row (96 bits); the row's dedupe key is the associated data, so a sealed
  payload copied onto another row does not open.
- `key_id` is the first 4 bytes of SHA-256 over the derived key: a row sealed before the secret key
  changed is recognised and refused with a clear reason (`SealError`), never a crash. Rotation is
  "drain, then rotate": wait for `/healthz` inbox pending 0, change the key; anything left is parked
  with that reason.

Rows without the envelope (written before sealing existed) open as they are, so an upgrade does not
strand messages already waiting. Nothing here touches the database.

Example::

    sealer = PayloadSealer.from_secret(settings.secret_key.get_secret_value())
    stored = sealer.seal({"msgid": "m1", "text": "王总13812345678"}, aad="m1")
    sealer.open(stored, aad="m1")  # -> {"msgid": "m1", "text": "王总13812345678"}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.errors import InputError

#: HKDF info label: changing it changes every key, so it is fixed for the life of the format.
KDF_INFO = b"groupbot/inbox-payload/aes-gcm/v1"
#: The blob's first byte; a new layout gets a new version.
VERSION = 1
ENVELOPE_KEY = "sealed"
_NONCE = 12
_KEY_ID = 4
_HEADER = 1 + _KEY_ID + _NONCE


class SealError(InputError):
    """Raised when a stored payload cannot be opened; the message says why, never what it holds."""


class PayloadSealer:
    """Seals and opens inbox payloads with one derived key. Thread-safe (AESGCM is stateless)."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the payload key must be 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).digest()[:_KEY_ID]

    @classmethod
    def from_secret(cls, secret: str) -> PayloadSealer:
        """Derive the payload key from GROUPBOT_SECRET_KEY (HKDF-SHA256, fixed info label)."""
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KDF_INFO).derive(secret.encode("utf-8"))
        return cls(key)

    def __repr__(self) -> str:
        return f"PayloadSealer(key_id={self.key_id.hex()})"

    def seal(self, payload: dict[str, Any], *, aad: str) -> dict[str, str]:
        """The stored form of `payload`, bound to `aad` (the row's dedupe key)."""
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        nonce = os.urandom(_NONCE)
        blob = bytes([VERSION]) + self.key_id + nonce + self._aead.encrypt(nonce, plain, aad.encode("utf-8"))
        return {ENVELOPE_KEY: base64.b64encode(blob).decode("ascii")}

    def open(self, stored: Any, *, aad: str) -> dict[str, Any]:
        """The payload `seal` was given; a clear dict from before sealing is returned as is."""
        if not is_sealed(stored):
            if isinstance(stored, dict):
                return stored
            raise SealError("inbox payload is missing or not a JSON object")
        try:
            blob = base64.b64decode(stored[ENVELOPE_KEY], validate=True)
        except (binascii.Error, ValueError):
            raise SealError("sealed inbox payload is not valid base64") from None
        if len(blob) < _HEADER + 16:
            raise SealError("sealed inbox payload is truncated")
        if blob[0] != VERSION:
            raise SealError(f"sealed inbox payload has unknown format version {blob[0]}")
        key_id = blob[1 : 1 + _KEY_ID]
        if key_id != self.key_id:
            raise SealError(
                f"inbox payload was sealed with another secret key (key id {key_id.hex()}, current "
                f"{self.key_id.hex()}): GROUPBOT_SECRET_KEY changed while it waited"
            )
        nonce = blob[1 + _KEY_ID : _HEADER]
        try:
            plain = self._aead.decrypt(nonce, blob[_HEADER:], aad.encode("utf-8"))
        except InvalidTag:
            raise SealError("sealed inbox payload does not authenticate (corrupted, or moved to another row)") from None
        payload = json.loads(plain)
        if not isinstance(payload, dict):
            raise SealError("sealed inbox payload is not a JSON object")
        return payload


def is_sealed(stored: Any) -> bool:
    return isinstance(stored, dict) and len(stored) == 1 and isinstance(stored.get(ENVELOPE_KEY), str)
