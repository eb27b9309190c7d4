"""JSON log lines with request ids, and a filter that masks personal identifiers in any record.

Code never logs message text; the filter is the second line of defence for what slips through
(an exception quoting a driver parameter, a userid that is a phone number): digit runs shaped like
a mainland mobile, an ID-card number or a bank card, and e-mail addresses, are masked wherever they
appear in the message, its arguments, extra fields or a traceback. Fields named in `SAFE_FIELDS`
hold WeCom ids (msgid is a 19-digit number) and are left as they are.

Example::

    configure_logging("INFO")
    log.info("stored %s", msgid, extra={"msgid": msgid})
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

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


def redact(text: str) -> str:
    """Mask credentials in URLs, e-mails and phone/ID/card-shaped digit runs in `text`."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


class RedactionFilter(logging.Filter):
    """Rewrites each record in place so no handler ever sees the unmasked values."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
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


def make_handler(stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str = "INFO", *, stream=None) -> None:
    """Route the root logger (and uvicorn's) through one redacting JSON handler."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(stream))
    root.setLevel(level)
    # One line per outbound HTTP request is noise: the dispatcher logs each outcome itself.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
