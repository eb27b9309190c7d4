"""Log lines for people (a terminal) or machines (JSON), and a filter that masks personal identifiers.

On a terminal the lines are rich's, with Asia/Shanghai times; anywhere else (a pipe, a file,
journald, a container) and with `GROUPBOT_LOG_FORMAT=json` they are one JSON object per line.

Code never logs message text; the filter is the second line of defence for what slips through
(an exception quoting a driver parameter, a userid that is a phone number): digit runs shaped like
a mainland mobile, an ID-card number or a bank card, and e-mail addresses, are masked wherever they
appear in the message, its arguments, extra fields or a traceback. Fields named in `SAFE_FIELDS`
hold WeCom ids (msgid is a 19-digit number) and are left as they are.

Example::

    configure_logging("INFO")                 # console on a terminal, JSON otherwise
    configure_logging("INFO", fmt="json")
    log.info("stored %s", msgid, extra={"msgid": msgid})
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

LogFormat = Literal["auto", "console", "json"]
#: The operators read Beijing time, whatever the server's clock zone is.
LOG_ZONE = ZoneInfo("Asia/Shanghai")

#: The id of the HTTP request being served (set by bot.app's middleware), "-" outside requests.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

#: Extra fields that carry WeCom/inbox ids, never personal data.
SAFE_FIELDS = frozenset({"msgid", "inbox_id", "request_id", "dedupe_key", "status", "path", "method"})

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credentials WeCom carries in query strings: an access token or a robot key alone can post.
    (re.compile(r"(?i)\b(access_token|key|corpsecret|secret|echostr|msg_signature)=[^&\s\"']+"), r"\1=[redacted]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # ID card (18, last may be X) and bank cards (15-19 digits), not inside a longer digit run.
    (re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])|(?<!\d)\d{15,19}(?!\d)"), "[number]"),
    # Mainland mobiles, optionally +86 / spaced / dashed as people type them.
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "[mobile]"),
)

# Attributes every LogRecord has; anything else was passed as `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}
# uvicorn adds its message again with ANSI colour codes; neither format wants it.
_DROPPED = frozenset({"color_message"})
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def redact(text: str) -> str:
    """Mask credentials in URLs, e-mails and phone/ID/card-shaped digit runs in `text`."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


class RedactionFilter(logging.Filter):
    """Rewrites each record in place so no handler ever sees the unmasked values."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(_ANSI.sub("", record.getMessage()))
        record.args = None
        for key in _DROPPED & vars(record).keys():
            delattr(record, key)
        for key, value in list(vars(record).items()):
            if key in _STANDARD or key in SAFE_FIELDS:
                continue
            if isinstance(value, str):
                setattr(record, key, redact(value))
            elif value is not None and not isinstance(value, int | float | bool):
                setattr(record, key, redact(str(value)))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, request_id, msg, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or request_id.get(),
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_text or record.exc_info:
            line["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """The message, then its extra fields as `key=value` (rich's handler adds time, level and logger)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        extras = [f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and k != "request_id"]
        if extras:
            text += "  " + " ".join(extras)
        if record.exc_text:
            text += "\n" + record.exc_text
        return text


def _local_time(when: datetime) -> Text:
    # rich hands over a naive local-time datetime; astimezone() reads it as the machine's zone.
    return Text(when.astimezone(LOG_ZONE).strftime("%m-%d %H:%M:%S"))


def resolve_format(fmt: str | None, stream) -> Literal["console", "json"]:
    """"console" or "json": as asked, else console only when `stream` is a terminal."""
    if fmt in ("console", "json"):
        return fmt
    if fmt not in (None, "", "auto"):
        raise ValueError(f"log format must be auto, console or json, got {fmt!r}")
    isatty = getattr(stream, "isatty", None)
    return "console" if isatty is not None and isatty() else "json"


def make_handler(stream=None, fmt: str | None = "json") -> logging.Handler:
    stream = stream or sys.stderr
    handler: logging.Handler
    if resolve_format(fmt, stream) == "console":
        console = Console(file=stream, stderr=stream is sys.stderr)
        handler = RichHandler(
            console=console, show_path=False, markup=False, rich_tracebacks=False, log_time_format=_local_time
        )
        handler.setFormatter(ConsoleFormatter())
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactionFilter())
    return handler


def configure_logging(level: str = "INFO", *, stream=None, fmt: str | None = "auto") -> None:
    """Route the root logger (and uvicorn's) through one redacting handler: console or JSON (`resolve_format`)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(stream, fmt))
    root.setLevel(level)
    # One line per outbound HTTP request is noise: the dispatcher logs each outcome itself.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # Start-up chatter (each job added, the migration context) repeats what the banner says.
    for name in ("apscheduler", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # An earlier uvicorn.Config(log_level=...) in this process leaves its own level behind;
        # the root's level is the one that decides.
        logger.setLevel(logging.NOTSET)
