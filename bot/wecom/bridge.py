"""POST /ingest/messages: a JSON batch in the replay input format, for bridges and imports.

Bearer-token protected (GROUPBOT_INGEST_TOKEN). The body is a JSON array of messages (or
`{"messages": [...]}`); every valid item is committed to the inbox in one transaction and each
invalid one is reported with its index and what is wrong. msgid is the idempotency key, so
re-sending a batch stores nothing twice.

Answer: `{"accepted": 2, "duplicates": 1, "errors": [{"index": 3, "reason": "sent_at: ..."}]}`.
"""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Request

from bot.errors import IngestError, PayloadError
from bot.wecom.callback import NotConfigured
from bot.wecom.ingest import IngestDep, read_body
from bot.wecom.normalize import Inbound, from_bridge_item

router = APIRouter(tags=["ingest"])

#: Items per request; larger imports are sent in several batches.
MAX_ITEMS = 5000


class Unauthorized(IngestError):
    """Raised when the bearer token is missing or wrong."""

    status = 401


@router.post("/ingest/messages")
async def ingest_messages(request: Request, ingest: IngestDep) -> dict:
    if ingest.ingest_token is None:
        raise NotConfigured("bridge ingest is disabled (GROUPBOT_INGEST_TOKEN is not set)")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), ingest.ingest_token.encode()):
        raise Unauthorized("missing or wrong bearer token")
    body = await read_body(request, ingest.max_body_bytes)
    try:
        doc = json.loads(body)
    except ValueError:
        raise PayloadError("body is not UTF-8 JSON") from None
    except RecursionError:  # a hostile nesting depth: refused, never a 500 with a traceback
        raise PayloadError("body is nested too deeply") from None
    items = doc.get("messages") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise PayloadError('body must be a JSON array of messages or {"messages": [...]}')
    if len(items) > MAX_ITEMS:
        raise PayloadError(f"{len(items)} items exceed the {MAX_ITEMS}-item batch limit", 413)

    valid: list[Inbound] = []
    errors: list[dict] = []
    now = ingest.clock()
    for index, item in enumerate(items):
        try:
            valid.append(from_bridge_item(item, now=now))
        except PayloadError as exc:
            errors.append({"index": index, "reason": exc.reason})
    created = await ingest.record(valid) if valid else []
    accepted = sum(created)
    return {"accepted": accepted, "duplicates": len(created) - accepted, "errors": errors}
