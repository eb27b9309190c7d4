"""The 智能机器人 (AI bot) callback: JSON `{"encrypt": …}` bodies, receive id "", answer within 1 s.

The bot sees a group message only when it is @-mentioned; those land in the inbox as group
messages (kind "mention" when the chat archive is on, since the archive delivers every group
message and it must be judged once), 1:1 chats as commands. We answer an empty 200 (no passive
reply: answers go out through the outbox); WeCom's stream-refresh polls get a finished, empty
stream so they stop. The inbox commit gets `COMMIT_BUDGET` seconds; past that we answer 503
and WeCom's retry is deduplicated.
"""

from __future__ import annotations

import json
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from bot.wecom.callback import NotConfigured
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.ingest import IngestDep, echo_url_check, get_ingest, read_body, signature
from bot.wecom.normalize import from_aibot_doc, parse_aibot_json

router = APIRouter(tags=["wecom"])

#: Seconds the inbox commit may take before we give up and let WeCom retry (its limit is 1 s).
COMMIT_BUDGET = 0.8


def _crypto(ingest) -> CallbackCrypto:
    if ingest.aibot_crypto is None:
        raise NotConfigured("AI bot callback is not configured (GROUPBOT_AIBOT_TOKEN, _AIBOT_ENCODING_AES_KEY)")
    return ingest.aibot_crypto


@router.get("/wecom/aibot", response_class=PlainTextResponse)
def verify_url(request: Request, ingest: IngestDep) -> PlainTextResponse:
    return PlainTextResponse(echo_url_check(_crypto(ingest), request))


async def receive(request: Request) -> Response:
    """POST: a message, command or stream-refresh poll (served by `door`)."""
    ingest = get_ingest(request)  # the hot path: a plain lookup, not a resolved dependency
    crypto = _crypto(ingest)
    body = await read_body(request, crypto.max_body_bytes)
    signed = signature(request)
    plaintext = crypto.decrypt_json(body, **signed)
    doc = parse_aibot_json(plaintext)  # typed: a field of the wrong JSON type is a 400
    inbound = from_aibot_doc(doc, plaintext, received_at=ingest.clock())
    if inbound is None:
        return _finish_stream(crypto, doc.stream_id, signed["nonce"])
    if inbound.kind == "message" and _archive_active(request):
        # The chat archive delivers this group message too (under its own msgid): judge it once.
        inbound = replace(inbound, kind="mention")
    await ingest.record([inbound], budget=COMMIT_BUDGET)
    return Response(status_code=200)


def _archive_active(request: Request) -> bool:
    state = request.app.state
    return state.config.ingest.archive.enabled or getattr(state, "archive_sdk", None) is not None


def _finish_stream(crypto: CallbackCrypto, stream_id: str, nonce: str) -> Response:
    reply = {"msgtype": "stream", "stream": {"id": stream_id, "finish": True, "content": ""}}
    body = crypto.encrypt_json(json.dumps(reply, ensure_ascii=False), nonce=nonce)
    return Response(body, media_type="application/json")
