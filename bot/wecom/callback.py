"""The self-built app (自建应用) callback: GET URL verification and POST encrypted XML.

Thin on purpose: verify, decrypt, normalize, commit to the inbox, answer an empty 200 at once (the
inbox worker judges later, so WeCom's 5-second budget never depends on the rules). A msgaudit_notify
event wakes the chat-archive poller. Refusals are 4xx with a reason; a database outage is 503 so
WeCom retries.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from bot.errors import IngestError
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.ingest import IngestDep, echo_url_check, get_ingest, read_body, signature
from bot.wecom.normalize import from_app_xml

router = APIRouter(tags=["wecom"])

#: Seconds the inbox commit may take: WeCom gives up after 5 s, and a 503 before that gets a retry.
COMMIT_BUDGET = 4.0


class NotConfigured(IngestError):
    """Raised when a callback is called whose secrets are not set in the environment."""

    status = 404


def _crypto(ingest) -> CallbackCrypto:
    if ingest.app_crypto is None:
        raise NotConfigured(
            "self-built app callback is not configured (GROUPBOT_CORP_ID, _CALLBACK_TOKEN, _ENCODING_AES_KEY)"
        )
    return ingest.app_crypto


@router.get("/wecom/callback", response_class=PlainTextResponse)
def verify_url(request: Request, ingest: IngestDep) -> PlainTextResponse:
    """Answer WeCom's URL check with the decrypted echostr, nothing else (no quotes, no newline)."""
    return PlainTextResponse(echo_url_check(_crypto(ingest), request))


async def receive(request: Request) -> Response:
    """POST: verify, decrypt, normalize, commit to the inbox, answer an empty 200 (served by `door`)."""
    ingest = get_ingest(request)  # the hot path: a plain lookup, not a resolved dependency
    crypto = _crypto(ingest)
    body = await read_body(request, crypto.max_body_bytes)
    xml = crypto.decrypt_xml(body, **signature(request))
    await ingest.record([from_app_xml(xml, now=ingest.clock())], budget=COMMIT_BUDGET)
    return Response(status_code=200)
