"""Security headers on every dashboard response (pure ASGI middleware, installed by `bot.app.create_app`).

Only paths under the dashboard prefix are touched: the WeCom callbacks and ingest doors pass through
after one string comparison, so the callback hot path does no extra work. The templates have no
inline script or style, so the CSP needs no 'unsafe-inline'.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: A year; only sent when GROUPBOT_PUBLIC_URL is https (HSTS over http would be ignored or harmful).
HSTS = "max-age=31536000"


def dashboard_headers(*, https: bool, cacheable: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if not cacheable:  # pages, JSON, charts and exports carry customer data: never in a shared cache
        headers["Cache-Control"] = "no-store"
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


class SecurityHeaders:
    """Adds `dashboard_headers` to responses under `prefix` (a header the route set itself wins)."""

    def __init__(self, app: ASGIApp, *, prefix: str, https: bool) -> None:
        self.app = app
        self.prefix = prefix
        self.static = prefix + "/static/"
        self.pages = dashboard_headers(https=https, cacheable=False)
        self.assets = dashboard_headers(https=https, cacheable=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        extra = self.assets if path.startswith(self.static) else self.pages

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [(name, value) for name, value in extra if name not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)
