"""`groupbot run`: migrate, then serve the app with uvicorn (one worker).

With WeCom credentials in the environment it serves real WeCom. Without them it is the demo: a
throw-away set of keys, the WeCom simulator on its own port, demo traffic posted to our callbacks
(encrypted exactly as WeCom does), and the chat-archive poller reading the simulator's archive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn
from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from bot.app import create_app
from bot.config import AppConfig, load_config
from bot.errors import ConfigError, StorageUnavailable
from bot.log import configure_logging
from bot.secret_key import data_dir, demo_secret_key, require_secret_key
from bot.settings import Settings
from bot.simulator.demo import DemoEnvironment, load_demo_config
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


def serve(
    config: AppConfig | None,
    *,
    host: str,
    port: int,
    log_level: str = "INFO",
    say: Callable[[str], None] = print,
    demo_interval: float = 1.0,
) -> None:
    configure_logging(log_level)
    settings = load_settings()
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    service_url = f"http://{local}:{port}"
    demo: DemoEnvironment | None = None
    config = config_to_serve(config, demo=not settings.has_wecom_credentials)
    if not settings.has_wecom_credentials:
        demo = DemoEnvironment(config, service_url=service_url, interval=demo_interval)
        # The demo's key is kept in its data directory: sessions and message hashes survive a restart.
        key = settings.secret_key or demo_secret_key(data_dir(settings.database_url))
        settings = load_settings(**{**demo.settings_overrides(), "secret_key": key}, public_url=service_url)
    require_secret_key(settings)  # real WeCom: no start without a strong key (exit 2 naming it)
    try:
        migrated = migrate(settings.database_url)
    except SQLAlchemyError as exc:
        raise StorageUnavailable(
            f"database {_safe_url(settings.database_url)} unreachable at start-up ({type(exc).__name__})"
        ) from None
    say(f"database: {_safe_url(settings.database_url)} ({migrated})")
    engine = make_engine(settings.database_url)
    app = create_app(config, settings, engine)
    if demo is not None:
        app.state.archive_sdk = demo.archive_sdk()
        demo.start()
        say("No WeCom credentials in the environment: demo mode with the built-in WeCom simulator.")
        say(f"  simulator (what WeCom shows the groups): {demo.page_url}")
        say(f"  demo traffic: {len(demo.messages)} messages, one every {demo_interval:g} s")
        say(f"  dashboard login (this demo only): admin / {_demo_admin(engine)}")
    else:
        say("Serving real WeCom: point the app's 接收消息 URL at /wecom/callback (AI bot: /wecom/aibot).")
    say(f"  dashboard: {service_url}/dashboard/   health: {service_url}/healthz")
    try:
        uvicorn.run(app, host=host, port=port, workers=1, log_config=None, access_log=False)
    finally:
        if demo is not None:
            demo.stop()
        engine.dispose()


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
