"""The web application: ingest routes, /healthz, and the background tasks of one replica.

`create_app(config, settings, db_engine)` is a factory (nothing happens at import). Routes are thin:
verify, record to the inbox, answer. The lifespan starts every entry of `BACKGROUND_TASKS` as an
asyncio task and stops them on shutdown; add a task by adding one line there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import AppConfig
from bot.errors import IngestError, StorageUnavailable
from bot.log import request_id
from bot.metrics import install_metrics
from bot.scheduler import run_scheduler_task
from bot.secret_key import require_secret_key
from bot.senders.service import run_outbound_task
from bot.settings import Settings
from bot.web import create_alert_link_router, create_dashboard_router
from bot.web.headers import SecurityHeaders
from bot.wecom import aibot, archive, bridge, callback
from bot.wecom.door import WeComDoor, error_response
from bot.wecom.ingest import IngestState
from handlers.context import Clock, HandlerContext, system_clock
from handlers.inbox_worker import InboxWorker
from rules.engine import RuleEngine
from storage import inbox
from storage.dashboard import outbox_health
from storage.db import is_sqlite, make_session_factory
from storage.sealing import PayloadSealer

log = logging.getLogger(__name__)

INGEST_PREFIXES = ("/wecom/", "/ingest/")
#: A background task runs until `stop` is set; it gets the app to reach `app.state`.
BackgroundTask = Callable[[FastAPI, asyncio.Event], Awaitable[None]]


def message_hmac_key(settings: Settings) -> bytes:
    """The key of the stored messages' text HMAC, derived from GROUPBOT_SECRET_KEY (never the key itself,
    so the dashboard's signing key and the audit hashes stay independent). ConfigError without a strong key."""
    return hmac.new(
        require_secret_key(settings).get_secret_value().encode(), b"groupbot/message-text-hmac", hashlib.sha256
    ).digest()


def payload_sealer(settings: Settings) -> PayloadSealer:
    """Seals inbox payloads at rest; derived from GROUPBOT_SECRET_KEY (HKDF), once per app."""
    return PayloadSealer.from_secret(require_secret_key(settings).get_secret_value())


def build_handler_context(
    config: AppConfig, settings: Settings, clock: Clock = system_clock, *, sealer: PayloadSealer | None = None
) -> HandlerContext:
    def unknown_year(year: int) -> None:
        log.warning("holiday calendar does not know %s; weekends only until chinesecalendar is updated", year)

    engine = RuleEngine.from_config(config.rules, config.group_rules(), on_unknown_year=unknown_year)
    return HandlerContext(
        config=config,
        engine=engine,
        hmac_key=message_hmac_key(settings),
        public_url=settings.public_url,
        clock=clock,
        sealer=sealer or payload_sealer(settings),
    )


#: While callbacks are arriving, the in-process inbox worker takes at most this share of the time.
WORKER_SHARE_UNDER_LOAD = 0.3


async def run_inbox_worker(app: FastAPI, stop: asyncio.Event) -> None:
    cfg = app.state.config.ingest.worker
    worker = InboxWorker(
        app.state.sessions,
        app.state.handler_context,
        batch_size=cfg.batch_size,
        lease_seconds=cfg.lease_seconds,
        write_gate=app.state.write_gate,
        max_share=WORKER_SHARE_UNDER_LOAD,
        contended=app.state.ingest.recently_busy,
    )
    await worker.run_forever(stop, poll_seconds=cfg.poll_seconds, wake=app.state.ingest.inbox_wakeup)


#: Everything one replica runs beside the web server, by name. Explicit on purpose: grep here.
BACKGROUND_TASKS: dict[str, BackgroundTask] = {
    "inbox-worker": run_inbox_worker,
    "archive-poller": archive.run_archive_task,
    "scheduler": run_scheduler_task,
    "outbound": run_outbound_task,
}


#: groupbot exports Prometheus at /metrics, not OpenTelemetry; with FastAPI's native telemetry on,
#: every request would look up the global OpenTelemetry providers first.
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}


class GroupbotApp(FastAPI):
    """FastAPI with layers of our own outside its middleware stack (`add_outer_middleware`).

    FastAPI's stack always starts with its error, telemetry and body-limit layers; what is added
    here wraps them, so the WeCom door answers callbacks before any of that runs.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.outer_middleware: list[Middleware] = []

    def add_outer_middleware(self, middleware_class: Any, **options: Any) -> None:
        """Like `add_middleware` (the last added is outermost), outside FastAPI's own layers."""
        self.outer_middleware.insert(0, Middleware(middleware_class, **options))

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for middleware_class, args, options in reversed(self.outer_middleware):
            app = middleware_class(app, *args, **options)
        return app


def create_app(
    config: AppConfig,
    settings: Settings,
    db_engine: Engine,
    *,
    background: bool = True,
    clock: Clock = system_clock,
    tasks: dict[str, BackgroundTask] | None = None,
) -> FastAPI:
    """The FastAPI app; `background=False` serves requests only (tests, benchmarks)."""
    chosen = dict(BACKGROUND_TASKS if tasks is None else tasks) if background else {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        running = {name: asyncio.create_task(task(app, stop), name=name) for name, task in chosen.items()}
        app.state.stop = stop
        app.state.tasks = running
        if running:
            log.info("background tasks started: %s", ", ".join(running))
        try:
            yield
        finally:
            stop.set()
            done, pending = await asyncio.wait(running.values(), timeout=10) if running else (set(), set())
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("background task %s ended with %s", task.get_name(), type(task.exception()).__name__)
            app.state.ingest.close()

    app = GroupbotApp(
        title="groupbot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None, telemetry=NO_TELEMETRY
    )
    sessions = make_session_factory(db_engine)
    app.state.config = config
    app.state.settings = settings
    app.state.db_engine = db_engine
    app.state.sessions = sessions
    app.state.clock = clock
    sealer = payload_sealer(settings)
    app.state.handler_context = build_handler_context(config, settings, clock, sealer=sealer)
    app.state.write_gate = inbox.WriteGate(enabled=is_sqlite(db_engine))
    app.state.ingest = IngestState.from_settings(
        settings, sessions, clock, config.ingest.max_body_bytes, sealer, write_gate=app.state.write_gate
    )

    app.add_middleware(SecurityHeaders, prefix="/dashboard", https=settings.public_url.startswith("https://"))
    # Outside FastAPI's own stack, innermost first: WeCom's POSTs are answered by the door, inside
    # the request id and the metrics, and never reach FastAPI's layers or router.
    app.add_outer_middleware(WeComDoor)
    app.add_outer_middleware(RequestContext, max_body_bytes=max(config.ingest.max_body_bytes, 1))
    app.add_exception_handler(IngestError, _refused)
    app.add_exception_handler(StorageUnavailable, _refused)
    app.include_router(callback.router)
    app.include_router(aibot.router)
    app.include_router(bridge.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.include_router(create_dashboard_router(config, settings, sessions, clock=clock))
    app.include_router(create_alert_link_router())
    counting = install_metrics(app, sessions)
    app.add_outer_middleware(counting.cls, **counting.kwargs)
    return app


async def _refused(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IngestError | StorageUnavailable)
    return error_response(exc)


#: Parked inbox rows listed (newest first) in /healthz; `inbox.failed` counts them all.
HEALTHZ_PARKED = 20


async def healthz(request: Request) -> JSONResponse:
    """200 with the inbox lag when the database answers; 503 when it does not."""
    state = request.app.state

    def probe() -> dict:
        with state.sessions() as session:
            session.execute(text("select 1"))
            now = state.clock()
            outbox = outbox_health(session)
            # Parked rows by id and reason only: /healthz is unauthenticated, the masked text is on the
            # dashboard's dead-letter page (admins).
            parked = [
                {"id": r.id, "source": r.source, "kind": r.kind, "received_at": r.received_at.isoformat(),
                 "error": r.error}
                for r in inbox.list_parked(session, limit=HEALTHZ_PARKED)
            ]
            return {"lag_seconds": round(inbox.pending_lag(session, now=now), 3), **inbox.counts(session),
                    "parked": parked, "outbox": {"pending": outbox.pending, "dead": outbox.dead}}

    try:
        inbox_state = await run_in_threadpool(probe)
    except SQLAlchemyError as exc:
        log.warning("healthz: database unreachable (%s)", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    tasks = getattr(state, "tasks", {})
    return JSONResponse(
        {
            "status": "ok",
            "database": "ok",
            "outbox": inbox_state.pop("outbox"),
            "inbox": inbox_state,
            "tasks": {name: ("running" if not t.done() else "stopped") for name, t in tasks.items()},
        }
    )


class RequestContext:
    """Pure ASGI middleware: a request id for every log line, and 413 before reading an oversized body."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or secrets.token_hex(8)
        token = request_id.set(rid)
        try:
            declared = headers.get(b"content-length", b"")
            # Only ingest bodies are bounded here (the dashboard has its own forms and uploads); a body
            # without Content-Length is bounded while it is read (bot.wecom.ingest.read_body).
            if scope["path"].startswith(INGEST_PREFIXES) and declared.isdigit() and int(declared) > self.max_body_bytes:
                response = JSONResponse(
                    {"error": f"body of {int(declared)} bytes exceeds the {self.max_body_bytes}-byte limit"},
                    status_code=413,
                )
                await response(scope, receive, send)
                return

            async def send_with_id(message) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", []).append((b"x-request-id", rid.encode("latin-1")))
                await send(message)

            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
