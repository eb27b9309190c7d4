"""Secrets come from the environment, never print, and placeholders are refused by name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import DEFAULT_DATABASE_URL, Settings

AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def test_defaults_run_on_sqlite_without_credentials() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert not settings.has_wecom_credentials


def test_secrets_come_from_the_environment_and_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUPBOT_CORP_ID", "wx5823bf96d3bd56c7")
    monkeypatch.setenv("GROUPBOT_CALLBACK_TOKEN", "QDG6eK")
    monkeypatch.setenv("GROUPBOT_ENCODING_AES_KEY", AES_KEY)
    monkeypatch.setenv("GROUPBOT_ROBOT_KEYS", '{"east": "robot-key-123"}')
    settings = Settings(_env_file=None)
    assert settings.has_app_callback
    assert settings.robot_key("east") == "robot-key-123"
    shown = repr(settings) + str(settings.model_dump())
    for secret in ("QDG6eK", AES_KEY, "robot-key-123"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@db:5432/groupbot", "postgresql+psycopg://u@db:5432/groupbot"),
        ("postgresql://u@db/groupbot", "postgresql+psycopg://u@db/groupbot"),
        ("sqlite:///./data/x.db", "sqlite:///./data/x.db"),
    ],
)
def test_database_url_spellings_map_to_psycopg3(monkeypatch: pytest.MonkeyPatch, given: str, expected: str) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert Settings(_env_file=None).database_url == expected


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("GROUPBOT_ENCODING_AES_KEY", "too-short", "43-character EncodingAESKey"),
        ("GROUPBOT_ROBOT_KEYS", "east=abc", "JSON object"),
        ("GROUPBOT_CALLBACK_TOKEN", "changethis", "GROUPBOT_CALLBACK_TOKEN is a placeholder"),
    ],
)
def test_bad_secrets_are_refused_by_name_without_echoing(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert words in str(caught.value)
