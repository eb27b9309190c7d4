"""GROUPBOT_SECRET_KEY: no built-in default; real WeCom refuses to start without a strong key; the demo
keeps one random key per data directory. A cookie signed with the old built-in key opens nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app
from bot.config import AppConfig
from bot.errors import ConfigError
from bot.secret_key import KEY_FILE, data_dir, demo_secret_key, require_secret_key
from bot.settings import Settings
from bot.simulator.demo import DemoEnvironment
from bot.simulator.serve import free_port
from storage.db import make_session_factory
from storage.users import put_user
from tests.bot.test_app import AES_KEY, CORP_ID, TOKEN

#: What every install used before: anyone who read the source could sign an admin session with it.
OLD_BUILT_IN = "dev-insecure-secret-key-change-me-0000"
STRONG = "f3Vq9LrT0xWk2mYp7ZsB4nHc8JdG1aEu6QiRo5Ut"


def wecom_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    for name in ("GROUPBOT_SECRET_KEY", "DATABASE_URL", "GROUPBOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GROUPBOT_CORP_ID", CORP_ID)
    monkeypatch.setenv("GROUPBOT_CALLBACK_TOKEN", TOKEN)
    monkeypatch.setenv("GROUPBOT_ENCODING_AES_KEY", AES_KEY)
    # Should the key check ever be skipped, start-up fails on this database instead of serving (exit 1).
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize(("key", "why"), [
    (None, "is not set"),
    (OLD_BUILT_IN, "placeholder"),
    ("change-me-change-me-change-me-change-me", "placeholder"),
    ("a" * 40, "placeholder"),
    ("Short-But-Random-9x2", "at least 32 characters"),
])
def test_real_wecom_refuses_to_start_without_a_strong_key(monkeypatch, tmp_path, key, why):
    wecom_env(monkeypatch, tmp_path)
    if key is not None:
        monkeypatch.setenv("GROUPBOT_SECRET_KEY", key)
    result = CliRunner().invoke(app, ["run", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert "GROUPBOT_SECRET_KEY" in result.output and why in result.output
    if key is not None:
        assert key not in result.output


def test_the_app_cannot_be_built_without_a_key(config: AppConfig, engine: Engine) -> None:
    settings = Settings(_env_file=None, corp_id=CORP_ID, callback_token=TOKEN, encoding_aes_key=AES_KEY)
    with pytest.raises(ConfigError, match="GROUPBOT_SECRET_KEY"):
        create_app(config, settings, engine, background=False)


def test_a_cookie_signed_with_the_old_built_in_key_opens_nothing(config: AppConfig, engine: Engine) -> None:
    with make_session_factory(engine)() as s:
        put_user(s, username="boss", password_hash="$argon2id$unused", role="admin")
        s.commit()
    forged = URLSafeTimedSerializer(OLD_BUILT_IN, salt="groupbot-dashboard").dumps(
        {"u": "boss", "c": "x" * 32, "g": 0}, salt="session")
    service = create_app(config, Settings(_env_file=None, secret_key=STRONG), engine, background=False)
    with TestClient(service) as c:
        c.cookies.set("groupbot_session", forged, path="/dashboard")
        response = c.get("/dashboard/violations", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"


def test_the_demo_key_is_made_once_per_data_directory_and_kept_private(tmp_path: Path) -> None:
    directory = data_dir(f"sqlite:///{tmp_path / 'demo' / 'groupbot.db'}")
    assert directory == (tmp_path / "demo").resolve()
    first = demo_secret_key(directory)
    again = demo_secret_key(directory)  # a restart
    elsewhere = demo_secret_key(tmp_path / "other")
    assert first.get_secret_value() == again.get_secret_value() != elsewhere.get_secret_value()
    assert require_secret_key(Settings(_env_file=None, secret_key=first)) == first
    assert stat.S_IMODE((directory / KEY_FILE).stat().st_mode) == 0o600


def test_a_tampered_demo_key_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("short\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=KEY_FILE) as caught:
        demo_secret_key(tmp_path)
    assert "short\n" not in str(caught.value)


def test_the_standalone_simulator_hands_out_a_strong_key(config: AppConfig) -> None:
    lines = DemoEnvironment(config, messages=[]).env_lines()
    key = next(line for line in lines if line.startswith("GROUPBOT_SECRET_KEY="))
    assert require_secret_key(Settings(_env_file=None, secret_key=key.split("=", 1)[1].strip("'")))
