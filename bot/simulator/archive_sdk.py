"""A simulated 会话内容存档 (chat archive): the store WeCom keeps, and an SDK with pywecomarchive's protocol.

`SimArchiveSdk` answers like `pywecomarchive.WecomArchiveSdk`: `get_chat_data(seq, limit)` returns
the records after `seq` as `{seq, msgid, publickey_ver, encrypt_random_key, encrypt_chat_msg}`, and
`decrypt_data(random_key, encrypt_chat_msg, adapter=...)` returns the message JSON
`{msgid, action, from, tolist, roomid, msgtime, msgtype, text}`. As in WeCom, each message gets its
own random key, wrapped with the corp's RSA public key for `publickey_ver` (PKCS#1 v1.5), so the
poller's unwrap step runs for real. The message cipher inside Tencent's native library is not
published; here it is AES-256-CBC with the 32-character random key, IV = key[:16], PKCS#7, base64.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import TypeAdapter

from bot.errors import ArchiveSdkError

#: GetChatData refuses more than this many records per call.
MAX_LIMIT = 1000


def _sdk_error(operation: str, code: int) -> ArchiveSdkError:
    """What the native SDK reports: the failed call and its error number."""
    return ArchiveSdkError(f"{operation} failed with code {code}", operation=operation, code=code)


@dataclass(frozen=True)
class EncryptedChatData:
    seq: int
    msgid: str
    publickey_ver: int
    encrypt_random_key: str
    encrypt_chat_msg: str


@dataclass(frozen=True)
class ChatDataResponse:
    errcode: int
    errmsg: str
    chatdata: tuple[EncryptedChatData, ...]


def generate_archive_key() -> tuple[rsa.RSAPrivateKey, str]:
    """A fresh corp key pair, as an admin generates for the archive; returns the key and its private PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, pem


def _aes(random_key: str) -> Cipher:
    raw = random_key.encode()
    if len(raw) != 32:
        raise _sdk_error("DecryptData", 10008)
    return Cipher(algorithms.AES(raw), modes.CBC(raw[:16]))


def seal_message(random_key: str, message: dict[str, Any]) -> str:
    padder = sym_padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(message, ensure_ascii=False).encode()) + padder.finalize()
    encryptor = _aes(random_key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


class ArchiveStore:
    """WeCom's side of the archive: messages in seq order, each sealed for the corp's public key."""

    def __init__(self, public_keys: dict[int, rsa.RSAPublicKey], *, corp_id: str, secret: str) -> None:
        if not public_keys:
            raise ValueError("the archive needs at least one public key")
        self.public_keys = dict(public_keys)
        self.current_version = max(public_keys)
        self.corp_id = corp_id
        self.secret = secret
        self._records: list[EncryptedChatData] = []
        self._lock = threading.Lock()

    def append(self, message: dict[str, Any]) -> EncryptedChatData:
        random_key = secrets.token_hex(16)
        public_key = self.public_keys[self.current_version]
        wrapped = public_key.encrypt(random_key.encode(), padding.PKCS1v15())
        with self._lock:
            record = EncryptedChatData(
                seq=len(self._records) + 1,
                msgid=message["msgid"],
                publickey_ver=self.current_version,
                encrypt_random_key=base64.b64encode(wrapped).decode(),
                encrypt_chat_msg=seal_message(random_key, message),
            )
            self._records.append(record)
        return record

    def add_text(
        self, *, msgid: str, room_id: str, sender: str, tolist: list[str], text: str, sent_at: datetime
    ) -> EncryptedChatData:
        """A text message sent in a group (room_id) or 1:1 (room_id "")."""
        return self.append(
            {
                "msgid": msgid,
                "action": "send",
                "from": sender,
                "tolist": tolist,
                "roomid": room_id,
                "msgtime": int(sent_at.timestamp() * 1000),
                "msgtype": "text",
                "text": {"content": text},
            }
        )

    def add_recall(self, *, msgid: str, room_id: str, sender: str, at: datetime) -> EncryptedChatData:
        return self.append(
            {"msgid": msgid, "action": "recall", "from": sender, "tolist": [], "roomid": room_id,
             "msgtime": int(at.timestamp() * 1000), "msgtype": "revoke", "revoke": {"pre_msgid": msgid}}
        )

    def after(self, seq: int, limit: int) -> tuple[EncryptedChatData, ...]:
        with self._lock:
            return tuple(r for r in self._records if r.seq > seq)[:limit]

    def __len__(self) -> int:
        return len(self._records)


class SimArchiveSdk:
    """Same calls as `pywecomarchive.WecomArchiveSdk`, backed by an `ArchiveStore`."""

    def __init__(self, store: ArchiveStore, corpid: str, secret: str) -> None:
        if corpid != store.corp_id or not secrets.compare_digest(secret, store.secret):
            raise _sdk_error("Init", 10002)  # the native SDK's code for a bad corp id / secret
        self._store = store
        self._closed = False

    def get_chat_data(self, seq: int = 0, limit: int = 1000) -> ChatDataResponse:
        if self._closed:
            raise _sdk_error("GetChatData", 10000)
        if seq < 0 or not 1 <= limit <= MAX_LIMIT:
            raise _sdk_error("GetChatData", 10001)
        return ChatDataResponse(errcode=0, errmsg="ok", chatdata=self._store.after(seq, limit))

    def decrypt_data(self, encrypt_key: str, encrypt_msg: str, *, adapter: TypeAdapter[Any] | None = None) -> Any:
        try:
            decryptor = _aes(encrypt_key).decryptor()
            padded = decryptor.update(base64.b64decode(encrypt_msg)) + decryptor.finalize()
            unpadder = sym_padding.PKCS7(128).unpadder()
            value = json.loads(unpadder.update(padded) + unpadder.finalize())
        except (ValueError, UnicodeDecodeError):
            raise _sdk_error("DecryptData", 10008) from None
        return value if adapter is None else adapter.validate_python(value, strict=True)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> SimArchiveSdk:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
