"""Secrets and deployment settings, from the environment or `.env` (never from config.yaml).

Every variable is prefixed `GROUPBOT_` except `DATABASE_URL`. Secret values are `SecretStr`, so
they print as '**********' in reprs, logs and tracebacks.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./data/groupbot.db"
_PLACEHOLDERS = {"changethis", "change-me", "changeme", "secret", "xxx"}


def normalize_database_url(url: str) -> str:
    """Map the URL spellings admins paste (postgres://, postgresql://) to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GROUPBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL", "GROUPBOT_DATABASE_URL")
    )

    # Self-built app (自建应用): callback crypto and the sending API.
    corp_id: str = ""
    agent_id: int | None = None
    callback_token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    app_secret: SecretStr | None = None

    # 智能机器人 (AI bot) callback: its own token and key; its receive id is "".
    aibot_token: SecretStr | None = None
    aibot_encoding_aes_key: SecretStr | None = None

    # 会话内容存档 (chat archive): secret plus the RSA private keys by publickey_ver (JSON object of PEMs).
    archive_secret: SecretStr | None = None
    archive_private_keys: SecretStr | None = None

    #: Group-robot webhook keys by the robot name used in config.yaml (JSON object).
    robot_keys: SecretStr | None = None

    #: Bearer token for POST /ingest/messages (bridges, imports).
    ingest_token: SecretStr | None = None
    #: Signs dashboard sessions and keys the hash of message text; long and random, no built-in
    #: default. Checked where it is used (`bot.secret_key.require_secret_key`), not here, so commands
    #: that never use it (`groupbot user add`, `db upgrade`) still run without it.
    secret_key: SecretStr | None = None

    #: Base URL of the WeCom API; the simulator's address in demos and tests.
    wecom_api_base: str = "https://qyapi.weixin.qq.com/cgi-bin"
    #: Public base URL of this service, for every link it sends (alerts, reports); `groupbot run`
    #: defaults it to http://127.0.0.1:<port>.
    public_url: str = "http://127.0.0.1:8000"
    #: Log lines: "auto" (readable on a terminal, JSON otherwise), "console" or "json".
    log_format: Literal["auto", "console", "json"] = "auto"

    @field_validator("database_url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("encoding_aes_key", "aibot_encoding_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        raw = value.get_secret_value()
        try:
            ok = len(raw) == 43 and len(base64.b64decode(raw + "=", validate=True)) == 32
        except binascii.Error:
            ok = False
        if not ok:
            raise ValueError("must be the 43-character EncodingAESKey from the WeCom admin console")
        return value

    @field_validator("robot_keys", "archive_private_keys")
    @classmethod
    def _json_object(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        try:
            parsed = json.loads(value.get_secret_value())
        except json.JSONDecodeError:
            raise ValueError("must be a JSON object, e.g. {\"east\": \"KEY\"}") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise ValueError("must be a JSON object of strings")
        return value

    @model_validator(mode="after")
    def _no_placeholders(self) -> Settings:
        for name in ("callback_token", "app_secret", "ingest_token", "aibot_token"):
            value = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ValueError(f"GROUPBOT_{name.upper()} is a placeholder; set a real value")
        return self

    @property
    def has_app_callback(self) -> bool:
        return bool(self.corp_id and self.callback_token and self.encoding_aes_key)

    @property
    def has_aibot(self) -> bool:
        return bool(self.aibot_token and self.aibot_encoding_aes_key)

    @property
    def has_wecom_credentials(self) -> bool:
        """True when real WeCom can be served; `make run` starts the simulator otherwise."""
        return self.has_app_callback or self.has_aibot

    def robot_key(self, name: str) -> str | None:
        if self.robot_keys is None:
            return None
        return json.loads(self.robot_keys.get_secret_value()).get(name)

    def archive_keys(self) -> dict[str, str]:
        if self.archive_private_keys is None:
            return {}
        return json.loads(self.archive_private_keys.get_secret_value())
