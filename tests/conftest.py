"""Shared fixtures: configuration, a real database on SQLite and PostgreSQL, a fixed clock.

PostgreSQL runs use their own throw-away database per test session (created on the server at
127.0.0.1:5432, database `test` as the maintenance connection), so parallel runs never collide.
With CI=true a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig, load_config
from storage.db import make_engine, make_session_factory
from storage.models import Base

REPO = Path(__file__).resolve().parent.parent
#: Tencent's published callback crypto samples (our own copy: the suite never reads ../shared).
WECOM_VECTORS = REPO / "tests" / "data" / "wecom-vectors.json"
#: Where WeCom API calls go in tests that do not start the simulator: a loopback port nothing
#: listens on, so a forgotten simulator fails fast with "connection refused" instead of reaching
#: qyapi.weixin.qq.com.
NO_WECOM_API = "http://127.0.0.1:9/cgi-bin"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PG_SERVER = os.environ.get("GROUPBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def sh(*args: int) -> datetime:
    """An aware Asia/Shanghai datetime: sh(2026, 3, 2, 9, 15)."""
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's WeCom secrets or database URL, and none reaches the real WeCom API."""
    for name in list(os.environ):
        if name.startswith("GROUPBOT_") and name != "GROUPBOT_TEST_PG" or name == "DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GROUPBOT_WECOM_API_BASE", NO_WECOM_API)


#: The demo's groups (wr-sales-east managed by lisi, wr-sales-south by zhaolei with a limit of 15),
#: members and robots; the shipped config.yaml lists no group.
DEMO_CONFIG = REPO / "bot" / "simulator" / "demo_config.yaml"


@pytest.fixture(scope="session")
def config() -> AppConfig:
    """The demo configuration: most tests speak of its groups, managers and members."""
    return load_config(DEMO_CONFIG)


@pytest.fixture(scope="session")
def shipped_config() -> AppConfig:
    """The repository's config.yaml as shipped: the contract's defaults in every group."""
    return load_config(REPO / "config.yaml")


def _pg_reachable() -> str | None:
    try:
        engine = make_engine(PG_SERVER)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any connect failure means "no server here"
        return f"{type(exc).__name__}"


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database named `prefix` + a random suffix, dropped afterwards.
    Skips the test without a server (fails it with CI=true)."""
    problem = _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at 127.0.0.1:5432 is not reachable ({problem})")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_SERVER).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database with the schema, dropped after the session."""
    with pg_database("groupbot_t_") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with the schema: a temp SQLite file, or the session's PG database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'groupbot.db'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        return url
    url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    _truncate_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def workers(db_url: str) -> Iterator[list[sessionmaker[Session]]]:
    """Two session factories, each on its own engine, as two replicas (or a replica and the CLI) have."""
    engines = [make_engine(db_url) for _ in range(2)]
    yield [make_session_factory(e) for e in engines]
    for e in engines:
        e.dispose()
