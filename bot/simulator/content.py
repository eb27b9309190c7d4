"""Message bodies as WeCom checks them: known msgtype, content present and within the byte limits.

Returns WeCom's own error codes, so a sender sees here what it would see in production:
text over 2048 bytes or markdown over 4096 bytes → 45002, an image over 2 MB → 40009,
an image whose md5 does not match → 301019 (the code WeCom documents for a media md5 mismatch).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
APP_MARKDOWN_LIMIT = 2048
IMAGE_LIMIT = 2 * 1024 * 1024

ROBOT_TYPES = ("text", "markdown", "image", "news", "file", "template_card")
APP_TYPES = ("text", "markdown", "textcard", "news", "image", "file", "template_card")


class ContentError(Exception):
    """Raised when a message body breaks one of WeCom's content rules; carries WeCom's errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


def _text_field(part: object, name: str, limit: int) -> str:
    content = part.get(name) if isinstance(part, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise ContentError(44004, f"empty {name}")
    if len(content.encode("utf-8")) > limit:
        raise ContentError(45002, f"content size out of limit ({limit} bytes)")
    return content


def check_body(body: dict, *, allowed: tuple[str, ...], markdown_limit: int) -> tuple[str, str]:
    """Validate a message body; return `(msgtype, what a reader sees)` or raise ContentError."""
    msgtype = body.get("msgtype")
    if msgtype not in allowed:
        raise ContentError(40008, "invalid message type")
    part = body.get(msgtype)
    if not isinstance(part, dict):
        raise ContentError(40035, f"invalid parameter: {msgtype} must be an object")
    if msgtype == "text":
        return msgtype, _text_field(part, "content", TEXT_LIMIT)
    if msgtype == "markdown":
        return msgtype, _text_field(part, "content", markdown_limit)
    if msgtype == "textcard":
        title = _text_field(part, "title", 128)
        description = _text_field(part, "description", 512)
        return msgtype, f"{title}\n{description}"
    if msgtype == "image":
        return msgtype, _check_image(part)
    if msgtype == "news":
        articles = part.get("articles")
        if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
            raise ContentError(40035, "invalid parameter: news needs 1 to 8 articles")
        return msgtype, "\n".join(str(a.get("title", "")) for a in articles if isinstance(a, dict))
    if msgtype == "template_card":
        title = part.get("main_title", {}).get("title", "") if isinstance(part.get("main_title"), dict) else ""
        return msgtype, f"[卡片] {title}".strip()
    media_id = part.get("media_id")
    if not isinstance(media_id, str) or not media_id:
        raise ContentError(40007, "invalid media_id")
    return msgtype, "[文件]"


def _check_image(part: dict) -> str:
    encoded, md5 = part.get("base64"), part.get("md5")
    if not isinstance(encoded, str) or not isinstance(md5, str):
        if isinstance(part.get("media_id"), str):
            return "[图片]"
        raise ContentError(40035, "invalid parameter: image needs base64 and md5")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ContentError(40009, "invalid image: base64 does not decode") from None
    if len(raw) > IMAGE_LIMIT:
        raise ContentError(40009, "invalid image size (over 2 MB)")
    if hashlib.md5(raw).hexdigest() != md5.lower():
        raise ContentError(301019, "media md5 not match")
    return f"[图片 {len(raw)} 字节]"
