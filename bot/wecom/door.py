"""The WeCom callbacks' own door: POST /wecom/callback and /wecom/aibot answered before FastAPI's router.

Every WeCom callback comes through these two routes, and WeCom gives up after 5 s (the AI bot after
1 s). In FastAPI they paid for the route walk over every dashboard route, dependency solving and
two exception layers, more than decrypting and storing the message itself (docs/benchmarks.md).
Here a pure ASGI layer answers them directly; it sits inside the request id and metrics middlewares
(`bot.app.create_app`), so log lines and /metrics see these requests as before. The GET URL checks
and every other route stay on the FastAPI routers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.errors import IngestError, StorageUnavailable
from bot.wecom import aibot, callback

Endpoint = Callable[[Request], Awaitable[Response]]

#: The POST routes served here, by exact path. Explicit on purpose: grep here.
ROUTES: dict[str, Endpoint] = {
    "/wecom/callback": callback.receive,
    "/wecom/aibot": aibot.receive,
}


def error_response(exc: IngestError | StorageUnavailable) -> Response:
    """A refused request: its status and reason as JSON; an outage: 503 with Retry-After (WeCom retries)."""
    if isinstance(exc, IngestError):
        return JSONResponse({"error": exc.reason}, status_code=exc.status)
    return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "5"})


class WeComDoor:
    """Pure ASGI: serves `routes` (POST, exact path) itself and passes everything else to `app`."""

    def __init__(self, app: ASGIApp, *, routes: dict[str, Endpoint] | None = None) -> None:
        self.app = app
        self.routes = ROUTES if routes is None else routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = endpoint  # what the metrics label reads (the path itself: no parameters)
        try:
            response = await endpoint(Request(scope, receive))
        except (IngestError, StorageUnavailable) as exc:
            response = error_response(exc)
        await response(scope, receive, send)
