"""Tencent's chat-archive SDK in a process of its own.

`libWeWorkFinanceSdk_C.so` aborts the whole interpreter ("free(): invalid pointer") when it is
loaded into a process that already loaded other C++ extensions — matplotlib's ft2font and
kiwisolver do it, and the service imports those for leaderboard charts. A crash inside native code
would also take every request down with it. So the SDK lives in a child started as
`python -m bot.wecom.archive_process`, which imports nothing but pywecomarchive, and the poller
talks to it over stdin/stdout, one JSON object per line. The secret travels in the child's
environment, never on its command line.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from bot.errors import ArchiveSdkError

_SECRET_ENV = "GROUPBOT_ARCHIVE_CHILD_SECRET"
_CORP_ENV = "GROUPBOT_ARCHIVE_CHILD_CORP"


@dataclass(frozen=True, slots=True)
class ChatItem:
    seq: int
    msgid: str
    publickey_ver: int
    encrypt_random_key: str
    encrypt_chat_msg: str


@dataclass(frozen=True, slots=True)
class ChatDataAnswer:
    chatdata: tuple[ChatItem, ...]


_ITEM_FIELDS = ("seq", "msgid", "publickey_ver", "encrypt_random_key", "encrypt_chat_msg")


class IsolatedArchiveSdk:
    """`WecomArchiveSdk` with the same two methods the poller uses, hosted in a child process."""

    def __init__(self, corp_id: str, secret: str, *, timeout: float = 60.0) -> None:
        self._timeout = timeout
        env = {**os.environ, _CORP_ENV: corp_id, _SECRET_ENV: secret}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot.wecom.archive_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self._call({"op": "ready"})

    def get_chat_data(self, seq: int = 0, limit: int = 1000) -> ChatDataAnswer:
        answer = self._call({"op": "get", "seq": seq, "limit": limit})
        return ChatDataAnswer(tuple(ChatItem(**item) for item in answer["chatdata"]))

    def decrypt_data(self, encrypt_key: str, encrypt_msg: str, *, adapter: TypeAdapter[Any]) -> Any:
        answer = self._call({"op": "decrypt", "key": encrypt_key, "msg": encrypt_msg})
        return adapter.validate_python(answer["message"])

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._send({"op": "close"})
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> IsolatedArchiveSdk:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send(self, request: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            self._send(request)
        except OSError:
            raise ArchiveSdkError(f"archive SDK process is gone (exit code {self._proc.poll()})") from None
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self._timeout)
        line = self._proc.stdout.readline() if ready else ""
        if not line:
            if not ready:
                self._proc.kill()
            self._proc.wait()
            raise ArchiveSdkError(f"archive SDK process stopped answering (exit code {self._proc.returncode})")
        answer = json.loads(line)
        if "error" in answer:
            raise ArchiveSdkError(f"archive SDK failed: {answer['error']}")
        return answer


def _serve() -> int:
    """The child: log in, then answer requests until stdin closes."""
    from pywecomarchive import WecomArchiveSdk

    raw: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
    out = sys.stdout

    def reply(answer: dict[str, Any]) -> None:
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()

    try:
        sdk = WecomArchiveSdk(os.environ.pop(_CORP_ENV), os.environ.pop(_SECRET_ENV))
    except Exception as exc:  # report the type only: SDK messages may echo what it was given
        reply({"error": type(exc).__name__})
        return 1
    with sdk:
        for line in sys.stdin:
            request = json.loads(line)
            op = request["op"]
            if op == "close":
                break
            try:
                if op == "ready":
                    reply({"ok": True})
                elif op == "get":
                    batch = sdk.get_chat_data(request["seq"], request["limit"])
                    items = [{name: getattr(item, name) for name in _ITEM_FIELDS} for item in batch.chatdata]
                    reply({"chatdata": items})
                elif op == "decrypt":
                    reply({"message": sdk.decrypt_data(request["key"], request["msg"], adapter=raw)})
                else:
                    reply({"error": f"unknown op {op!r}"})
            except Exception as exc:
                reply({"error": type(exc).__name__})
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
