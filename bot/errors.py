"""groupbot's exceptions. They carry the key, msgid or errcode that went wrong, never a secret.

    GroupbotError
    ├── ConfigError            config.yaml or the environment does not validate (key path + reason)
    ├── IngestError            an inbound request is refused (→ HTTP 4xx with `reason`)
    │   ├── SignatureError     msg_signature does not match (→ 403)
    │   └── PayloadError       body unreadable: XML/JSON, padding, key, receive id, size (→ 400/413)
    ├── InputError             (also a ValueError) what a person or a stored row gave us cannot be used;
    │   │                      the message names the field, line or key, never the text
    │   ├── handlers.exports.ExportError            unknown kind, format or layout, or not allowed
    │   ├── handlers.announcements.AnnouncementError   a field of a new announcement
    │   ├── handlers.whatif.WhatIfError             the proposed rule change or uploaded file
    │   │   └── handlers.whatif.WhatIfTimeout       past its time budget
    │   ├── handlers.replay.LineError               one replay input line
    │   ├── handlers.inbox_worker.BadPayload        an inbox payload that is no message (parked)
    │   └── storage.sealing.SealError               a sealed payload that cannot be opened
    ├── StorageUnavailable     the database cannot be reached (→ HTTP 503, WeCom retries)
    ├── ArchiveSdkError        the chat-archive SDK (native, or the simulator's) failed: operation + native code
    ├── PortInUse              `groupbot run` cannot listen on its host and port (exit 2)
    ├── UnknownJobError        `groupbot jobs run` / the dashboard named no job of bot.scheduler.JOBS
    └── SendError              an outbound WeCom call failed
        ├── RetryableSendError     try again later (5xx, timeouts, 45009, -1 system busy)
        ├── TokenExpiredError      refresh the access token, then retry (40014, 42001)
        └── PermanentSendError     will never succeed as is (60020, 81013, bad request)

The errors of one use stay beside it (handlers.exports.ExportError ...) but join this tree, so
`except GroupbotError` catches everything raised on purpose. Not here on purpose: the WeCom
simulator's `WeComError` and `ContentError` (bot/simulator) model WeCom's own `{errcode, errmsg}`
answers inside the fake server's routes; they are WeCom's errors, not groupbot's, and never leave it.
`rules` imports nothing of ours: its `rules.model.MessageFieldError` is a plain ValueError that the
handlers turn into `LineError` (replay) or `BadPayload` (inbox worker).
"""

from __future__ import annotations


class GroupbotError(Exception):
    """Base of every error groupbot raises on purpose."""


class ConfigError(GroupbotError):
    """Raised when configuration does not validate; `problems` lists `(key_path, message)`."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "config.yaml") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  {key}: {msg}" for key, msg in problems)
        super().__init__(f"{source} is invalid ({len(problems)} problem(s)):\n{lines}")

    def __repr__(self) -> str:
        return f"ConfigError(source={self.source!r}, problems={self.problems!r})"


class IngestError(GroupbotError):
    """Raised when an inbound request is refused; `status` is the HTTP status to answer."""

    status = 400

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r})"


class SignatureError(IngestError):
    """Raised when msg_signature does not match the token, timestamp, nonce and payload."""

    status = 403


class PayloadError(IngestError):
    """Raised when a signed body cannot be read: bad XML/JSON, padding, key, receive id."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


class InputError(GroupbotError, ValueError):
    """Raised when input cannot be used; a ValueError too, as every one of them was before joining the tree."""


class StorageUnavailable(GroupbotError):
    """Raised when the database cannot be reached; the request is answered 503 so WeCom retries."""


class ArchiveSdkError(GroupbotError):
    """Raised when the chat-archive SDK fails: `operation` and its native `code` (10001 parameters,
    10002 corp id/secret, 10008 decrypt) when the SDK said so; None when its process died or hung."""

    def __init__(self, reason: str, *, operation: str | None = None, code: int | None = None) -> None:
        self.reason = reason
        self.operation = operation
        self.code = code
        super().__init__(reason)


class PortInUse(GroupbotError):
    """Raised before anything starts when `groupbot run`'s host:port is taken (or not ours to bind)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(
            f"cannot listen on {host}:{port} ({reason}); another groupbot? "
            f"Choose a free port: groupbot run --port 8080, or make run PORT=8080"
        )

    def __repr__(self) -> str:
        return f"PortInUse(host={self.host!r}, port={self.port}, reason={self.reason!r})"


class UnknownJobError(GroupbotError):
    """Raised when a job is asked for by a name the scheduler does not have; `name` is that name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"no job named {name[:64]!r}; known jobs: {', '.join(known)}")


class SendError(GroupbotError):
    """Raised when an outbound call fails; `errcode` is WeCom's code or None for network faults."""

    def __init__(self, reason: str, errcode: int | None = None) -> None:
        self.reason = reason
        self.errcode = errcode
        super().__init__(f"{reason} (errcode={errcode})" if errcode is not None else reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, errcode={self.errcode!r})"


class RetryableSendError(SendError):
    """Raised when a send may succeed later: 5xx, timeouts, rate limits (45009), system busy (-1)."""

    def __init__(self, reason: str, errcode: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason, errcode)
        self.retry_after = retry_after


class TokenExpiredError(RetryableSendError):
    """Raised when WeCom rejects the access token (40014, 42001): refresh it and retry."""


class PermanentSendError(SendError):
    """Raised when a send can never succeed as is (60020 untrusted IP, 81013 no recipient, ...)."""
