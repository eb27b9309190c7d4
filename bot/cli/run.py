"""`groupbot run`: migrate, then serve the app with uvicorn (one worker).

With WeCom credentials in the environment it serves real WeCom. Without them it is the demo: a
throw-away set of keys, the WeCom simulator on its own port, demo traffic posted to our callbacks
(encrypted exactly as WeCom does), and the chat-archive poller reading the simulator's archive.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Callable
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import ConfigOption, config_or_exit, fail, out
from bot.config import AppConfig, load_config
from bot.errors import ConfigError, PortInUse, StorageUnavailable
from bot.log import configure_logging
from bot.secret_key import data_dir, demo_secret_key, require_secret_key
from bot.settings import Settings
from bot.simulator.demo import DemoEnvironment, load_demo_config
from handlers.context import system_clock
from storage.db import make_engine
from storage.migrate import head_revision, upgrade
from storage.models import Base

log = logging.getLogger(__name__)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment / .env; a bad variable is a ConfigError naming it (exit 2)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "settings"
            key = name if name.isupper() or not name else f"GROUPBOT_{name.upper()}"
            problems.append((key, error["msg"]))
        raise ConfigError(problems, source="environment") from None


def migrate(url: str) -> str:
    """Bring the schema to the newest revision; returns what was done, for the start-up banner."""
    if head_revision() is not None:
        upgrade(url)
        return f"migrated to revision {head_revision()}"
    # No Alembic revision in this checkout (should not happen in a release): create the tables.
    engine = make_engine(url)
    try:
        fresh = not inspect(engine).get_table_names()
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()
    return "no migrations found; tables created" if fresh else "no migrations found; tables checked"


def config_to_serve(config: AppConfig | None, *, demo: bool) -> AppConfig:
    """The config given; without one, the demo's groups in demo mode, else the default config.yaml."""
    if config is not None:
        return config
    return load_demo_config() if demo else load_config()


def bind_port(host: str, port: int) -> socket.socket:
    """Bind the listening socket first, so a taken port is one clear line before anything starts.

    uvicorn serves on this very socket: no window between checking and listening.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or type(exc).__name__)
        raise PortInUse(host, port, reason) from None
    sock.set_inheritable(True)
    return sock


class _BannerServer(uvicorn.Server):
    """uvicorn's server that prints the start-up banner once it listens (not before, not between log lines)."""

    def __init__(self, config: uvicorn.Config, banner: Callable[[], None]) -> None:
        super().__init__(config)
        self._banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._banner()


def serve(
    config: AppConfig | None,
    *,
    host: str,
    port: int,
    log_level: str = "INFO",
    say: Callable[[str], None] = print,
    demo_interval: float = 1.0,
) -> None:
    settings = load_settings()
    configure_logging(log_level, fmt=settings.log_format)
    listener = bind_port(host, port)
    try:
        _serve_on(listener, config, settings, host=host, port=port, say=say, demo_interval=demo_interval)
    finally:
        listener.close()


def _serve_on(
    listener: socket.socket,
    config: AppConfig | None,
    settings: Settings,
    *,
    host: str,
    port: int,
    say: Callable[[str], None],
    demo_interval: float,
) -> None:
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    service_url = f"http://{local}:{port}"
    # Links in alerts and reports: GROUPBOT_PUBLIC_URL when set, else this very server.
    public_url = settings.public_url if "public_url" in settings.model_fields_set else service_url
    demo: DemoEnvironment | None = None
    config = config_to_serve(config, demo=not settings.has_wecom_credentials)
    if not settings.has_wecom_credentials:
        demo = DemoEnvironment(config, service_url=service_url, interval=demo_interval)
        # The demo's key is kept in its data directory: sessions and message hashes survive a restart.
        key = settings.secret_key or demo_secret_key(data_dir(settings.database_url))
        settings = load_settings(**{**demo.settings_overrides(), "secret_key": key}, public_url=public_url)
    elif public_url != settings.public_url:
        settings = load_settings(public_url=public_url)
    require_secret_key(settings)  # real WeCom: no start without a strong key (exit 2 naming it)
    try:
        migrated = migrate(settings.database_url)
    except SQLAlchemyError as exc:
        raise StorageUnavailable(
            f"database {_safe_url(settings.database_url)} unreachable at start-up ({type(exc).__name__})"
        ) from None
    banner = [f"database: {_safe_url(settings.database_url)} ({migrated})"]
    engine = make_engine(settings.database_url)
    from bot.app import create_app  # FastAPI and the web pages: only when serving, not for every command

    app = create_app(config, settings, engine)
    dashboard = f"{public_url.rstrip('/')}/dashboard/"
    if demo is not None:
        app.state.archive_sdk = demo.archive_sdk()
        demo.on_backlog = lambda: _demo_jobs(config, engine, public_url)
        demo.start()
        banner += [
            "No WeCom credentials in the environment: demo mode with the built-in WeCom simulator.",
            f"  dashboard: {dashboard}   login (this demo only): admin / {_demo_admin(engine)}",
            f"  simulator (what WeCom shows the groups): {demo.page_url}",
            f"  demo traffic: {len(demo.messages)} messages (last week and this week), one every {demo_interval:g} s",
            "Try:",
            f"  1. {dashboard} : this week's violations by rule, and the leaderboard with ↑↓ against last week",
            f"  2. {demo.page_url} : what groups and managers saw: warnings, a grouped alert (违规汇总),"
            " today's reminders (今天到期), the monthly report link (XLSX after login)",
            "  3. the appeal (申诉) message there links to the violation on the dashboard: accept or reject it",
        ]
    else:
        banner += [
            "Serving real WeCom: point the app's 接收消息 URL at /wecom/callback (AI bot: /wecom/aibot).",
            f"  dashboard: {dashboard}",
        ]
    banner.append(f"  health: {service_url}/healthz")

    def print_banner() -> None:
        for line in banner:
            say(line)

    server = _BannerServer(
        uvicorn.Config(app, host=host, port=port, workers=1, log_config=None, access_log=False), print_banner
    )
    try:
        server.run(sockets=[listener])
    finally:
        if demo is not None:
            demo.stop()
        engine.dispose()


def _demo_jobs(config: AppConfig, engine, public_url: str) -> None:
    """Once the demo's past traffic is judged: today's follow-up reminders and this month's evaluation
    so far, which the schedule would send only on a workday morning and on the 1st, so a first look
    finds both (with the report link) in the simulator."""
    from zoneinfo import ZoneInfo

    from handlers import monthly, reminders
    from storage.db import make_session_factory

    now = system_clock()
    this_month = now.astimezone(ZoneInfo(config.schedules.timezone)).date().replace(day=1)
    with make_session_factory(engine)() as session:
        reminders.send_reminders(session, config, now=now)
        monthly.send_monthly(session, config, now=now, public_url=public_url, month=this_month)
        session.commit()
    log.info("demo: today's reminders and this month's evaluation issued")


def _demo_admin(engine) -> str:
    """A throw-away admin account for the demo's dashboard, with a fresh password each start."""
    import secrets

    from bot.web.auth import hash_password
    from storage.db import make_session_factory
    from storage.users import put_user

    password = secrets.token_urlsafe(9)
    with make_session_factory(engine)() as session:
        put_user(session, username="admin", password_hash=hash_password(password), role="admin", source="demo")
        session.commit()
    return password


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def run_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Migrate and serve; without WeCom credentials, also the simulator and demo traffic."""
    # No --config and no GROUPBOT_CONFIG: serve() picks the demo's groups in demo mode, else config.yaml.
    app_config = config_or_exit(config) if config is not None or os.environ.get("GROUPBOT_CONFIG") else None
    try:
        # soft_wrap: a URL stays on one line whatever the terminal's width (rich wraps at 80 in a pipe).
        serve(app_config, host=host, port=port, log_level=log_level.upper(),
              say=lambda line: out.print(line, highlight=False, markup=False, soft_wrap=True))
    except (PortInUse, ConfigError) as exc:
        raise fail(str(exc)) from None
    except StorageUnavailable as exc:
        raise fail(str(exc), code=1) from None


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
