"""The demo WeCom for `groupbot run` without credentials: throw-away keys, the simulator, demo traffic.

    demo = DemoEnvironment(config, service_url="http://127.0.0.1:8000")
    settings = Settings(**demo.settings_overrides())      # keys + wecom_api_base → the simulator
    demo.start()                                          # simulator thread + traffic thread
    ...                                                   # serve the app; build the archive poller
    ...                                                   # with demo.archive_sdk() (ingest.archive)
    demo.stop()

Group messages reach the service the way WeCom delivers them: all of them through the chat
archive (a `msgaudit_notify` callback, then the poller pulls from `archive_sdk()`), @-mentions of
the AI bot also as AI-bot callbacks, and reps' 1:1 messages to the app as app callbacks.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import SecretStr

from bot.config import AppConfig, load_config
from bot.settings import Settings
from bot.simulator.api import create_simulator_app
from bot.simulator.archive_sdk import ArchiveStore, SimArchiveSdk, generate_archive_key
from bot.simulator.corpus import DemoMessage, demo_corpus
from bot.simulator.directory import GROUP_MEMBERS
from bot.simulator.faults import FaultConfig
from bot.simulator.serve import RunningServer, ThreadedServer, free_port
from bot.simulator.state import DEFAULT_AGENT_ID, SimApp, SimulatorState
from bot.simulator.traffic import (
    CallbackKeys,
    CallbackPoster,
    aibot_text_json,
    app_text_xml,
    msgaudit_notify_xml,
)
from handlers.context import Clock, system_clock
from rules.model import GroupMessage

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The demo's groups, managers, robots, override and member names (package data). The shipped
#: config.yaml lists no group: it is the written rules, applied alike everywhere.
DEMO_CONFIG_PATH = Path(__file__).with_name("demo_config.yaml")


def load_demo_config(path: Path | None = None) -> AppConfig:
    """`path` (or GROUPBOT_CONFIG) when given, else the demo's own bot/simulator/demo_config.yaml."""
    if path is None and not os.environ.get("GROUPBOT_CONFIG"):
        path = DEMO_CONFIG_PATH
    return load_config(path)


def _aes_key() -> str:
    """A 43-character EncodingAESKey, as the admin console generates."""
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


@dataclass(frozen=True)
class DemoCredentials:
    """Fresh secrets for one demo run; nothing here is ever valid against real WeCom."""

    corp_id: str = field(default_factory=lambda: "wwdemo" + secrets.token_hex(6))
    agent_id: int = DEFAULT_AGENT_ID
    callback_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    encoding_aes_key: str = field(default_factory=_aes_key)
    app_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    aibot_id: str = field(default_factory=lambda: "aib" + secrets.token_hex(8))
    aibot_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    aibot_encoding_aes_key: str = field(default_factory=_aes_key)
    archive_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    ingest_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: GROUPBOT_SECRET_KEY for a service started with these credentials (`groupbot simulate`).
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def __repr__(self) -> str:
        return f"DemoCredentials(corp_id={self.corp_id!r}, agent_id={self.agent_id}, secrets='***')"

    @classmethod
    def from_settings(cls, settings: Settings) -> DemoCredentials:
        """The service's own keys, for a standalone simulator talking to an already configured service."""

        def secret(value: SecretStr | None, fallback: str) -> str:
            return value.get_secret_value() if value is not None else fallback

        fresh = cls()
        return cls(
            corp_id=settings.corp_id or fresh.corp_id,
            agent_id=settings.agent_id or fresh.agent_id,
            callback_token=secret(settings.callback_token, fresh.callback_token),
            encoding_aes_key=secret(settings.encoding_aes_key, fresh.encoding_aes_key),
            app_secret=secret(settings.app_secret, fresh.app_secret),
            aibot_token=secret(settings.aibot_token, fresh.aibot_token),
            aibot_encoding_aes_key=secret(settings.aibot_encoding_aes_key, fresh.aibot_encoding_aes_key),
            archive_secret=secret(settings.archive_secret, fresh.archive_secret),
            ingest_token=secret(settings.ingest_token, fresh.ingest_token),
            secret_key=secret(settings.secret_key, fresh.secret_key),
        )


def last_monday(now: datetime) -> date:
    """Monday of the week before `now` (Asia/Shanghai): the demo replays a full, finished week."""
    today = now.astimezone(SHANGHAI).date()
    return today - timedelta(days=today.weekday() + 7)


class DemoEnvironment:
    """Owns the simulator server and the traffic thread of one demo run."""

    def __init__(
        self,
        config: AppConfig,
        *,
        service_url: str = "http://127.0.0.1:8000",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 2026,
        interval: float = 1.0,
        faults: FaultConfig | None = None,
        clock: Clock = system_clock,
        messages: Sequence[DemoMessage] | None = None,
        credentials: DemoCredentials | None = None,
        robot_keys: dict[str, str] | None = None,
        archive_private_pem: str | None = None,
        group_channel: Literal["archive", "bridge"] = "archive",
    ) -> None:
        self.credentials = credentials or DemoCredentials()
        creds = self.credentials
        self.service_url = service_url.rstrip("/")
        address = RunningServer(host, port or free_port(host))
        self.host, self.port = address.host, address.port
        #: Known before the simulator starts, so settings can point at it.
        self.url, self.api_base = address.url, address.api_base
        self.interval = interval
        #: "archive" needs the service in this process (its poller reads `archive_sdk()`); a service in
        #: another process gets group messages through the bridge endpoint instead.
        self.group_channel = group_channel
        self.robot_keys = dict(robot_keys or {})
        for group in config.groups:
            if group.robot and group.robot not in self.robot_keys:
                self.robot_keys[group.robot] = secrets.token_hex(18)
        self.state = SimulatorState(
            corp_id=creds.corp_id,
            apps=[SimApp(creds.corp_id, creds.app_secret, creds.agent_id)],
            robots=self.robot_keys,
            faults=faults,
            clock=clock,
        )
        self.state.robot_labels = {g.robot: g.name for g in config.groups if g.robot}
        if archive_private_pem:
            archive_key = load_pem_private_key(archive_private_pem.encode(), None)
            if not isinstance(archive_key, RSAPrivateKey):
                raise ValueError("the archive key must be an RSA private key")
            self._archive_pem = archive_private_pem
        else:
            archive_key, self._archive_pem = generate_archive_key()
        self.archive = ArchiveStore({1: archive_key.public_key()}, corp_id=creds.corp_id, secret=creds.archive_secret)
        groups = {g.chat_id: GROUP_MEMBERS.get(g.chat_id, ()) for g in config.groups}
        groups = {chat: members for chat, members in groups.items() if members} or GROUP_MEMBERS
        self.clock = clock
        self.messages = list(messages) if messages is not None else demo_corpus(now=clock(), seed=seed, groups=groups)
        #: Called once the messages dated up to now are in and judged (the demo issues reports then).
        self.on_backlog: Callable[[], None] | None = None
        self.delivered: list[tuple[str, int | None]] = []
        self._stop = threading.Event()
        self._server: ThreadedServer | None = None
        self._traffic: threading.Thread | None = None

    @property
    def page_url(self) -> str:
        return f"{self.url}/_sim/"

    def settings_overrides(self) -> dict[str, object]:
        """Keyword arguments for `Settings(...)` that point the service at this demo WeCom."""
        creds = self.credentials
        return {
            "corp_id": creds.corp_id,
            "agent_id": creds.agent_id,
            "callback_token": creds.callback_token,
            "encoding_aes_key": creds.encoding_aes_key,
            "app_secret": creds.app_secret,
            "aibot_token": creds.aibot_token,
            "aibot_encoding_aes_key": creds.aibot_encoding_aes_key,
            "archive_secret": creds.archive_secret,
            "archive_private_keys": json.dumps({"1": self._archive_pem}),
            "robot_keys": json.dumps(self.robot_keys),
            "ingest_token": creds.ingest_token,
            "secret_key": creds.secret_key,
            "wecom_api_base": self.api_base,
        }

    def env_lines(self) -> list[str]:
        """The settings as `.env` lines, for a service started separately from `groupbot simulate`."""
        # Single quotes keep values literal in .env files; none of ours contains one (JSON escapes newlines).
        return [f"GROUPBOT_{name.upper()}='{value}'" for name, value in self.settings_overrides().items()]

    def archive_sdk(self) -> SimArchiveSdk:
        """What the archive poller uses instead of pywecomarchive in the demo."""
        return SimArchiveSdk(self.archive, self.credentials.corp_id, self.credentials.archive_secret)

    def poster(self, *, timeout: float = 5.0) -> CallbackPoster:
        creds = self.credentials
        return CallbackPoster(
            self.service_url,
            app=CallbackKeys(creds.callback_token, creds.encoding_aes_key, creds.corp_id),
            aibot=CallbackKeys(creds.aibot_token, creds.aibot_encoding_aes_key, ""),
            agent_id=creds.agent_id,
            timeout=timeout,
        )

    def start(self, *, traffic: bool = True) -> None:
        self._server = ThreadedServer(create_simulator_app(self.state), host=self.host, port=self.port)
        self._server.start()
        if traffic:
            self._traffic = threading.Thread(target=self.run_traffic, name="demo-traffic", daemon=True)
            self._traffic.start()

    def stop(self) -> None:
        self._stop.set()
        if self._traffic is not None:
            self._traffic.join(10)
        if self._server is not None:
            self._server.stop()

    def wait_for_service(self, timeout: float = 60.0) -> bool:
        deadline = system_clock() + timedelta(seconds=timeout)
        while not self._stop.is_set() and system_clock() < deadline:
            try:
                if httpx.get(f"{self.service_url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            self._stop.wait(0.5)
        return False

    def run_traffic(self) -> None:
        """Feed the messages dated up to now at once (they happened already: the backlog), then the
        rest one per `interval` seconds, stamped with the time they are sent; until done or stopped."""
        if not self.wait_for_service():
            log.warning("demo traffic not started: the service did not answer /healthz")
            return
        now = self.clock()
        with self.poster() as poster:
            backlog = [m for m in self.messages if m.sent_at <= now]
            for message in backlog:
                if self._stop.is_set():
                    return
                self.send(poster, message)
            if self.on_backlog is not None and self.wait_until_judged():
                try:
                    self.on_backlog()
                except Exception:
                    log.exception("demo: the start-up jobs failed")
            for message in self.messages[len(backlog):]:
                if self._stop.wait(self.interval):
                    return
                self.send(poster, replace(message, sent_at=self.clock()))
        log.info("demo traffic done", extra={"messages": len(self.messages)})

    def wait_until_judged(self, timeout: float = 60.0) -> bool:
        """True once the service's inbox has nothing pending (the archive poller has pulled too)."""
        deadline = system_clock() + timedelta(seconds=timeout)
        quiet = 0
        while not self._stop.is_set() and system_clock() < deadline:
            try:
                health = httpx.get(f"{self.service_url}/healthz", timeout=5).json()
                # Two quiet looks in a row: the poller may not have pulled the last notify yet.
                quiet = quiet + 1 if health["inbox"]["pending"] == 0 else 0
            except (httpx.TransportError, ValueError, KeyError):
                quiet = 0
            if quiet >= 2:
                return True
            self._stop.wait(1.0)
        return False

    def send(self, poster: CallbackPoster, message: DemoMessage) -> None:
        """One message, through the channels real WeCom would use for it."""
        creds = self.credentials
        if not message.chat_id:
            xml = app_text_xml(corp_id=creds.corp_id, agent_id=creds.agent_id, sender=message.sender,
                               text=message.text, msgid=message.msgid, sent_at=message.sent_at)
            self.delivered.append(("app", poster.post_app(xml).status))
            return
        if self.group_channel == "bridge":
            item = GroupMessage(msgid=message.msgid, chat_id=message.chat_id, sender=message.sender,
                                sent_at=message.sent_at, text=message.text, source="bridge").to_payload()
            self.delivered.append(("bridge", poster.post_bridge([item], creds.ingest_token).status))
            return
        members = [m for m in GROUP_MEMBERS.get(message.chat_id, ()) if m != message.sender]
        self.archive.add_text(msgid=message.msgid, room_id=message.chat_id, sender=message.sender,
                              tolist=members, text=message.text, sent_at=message.sent_at)
        notify = msgaudit_notify_xml(corp_id=creds.corp_id, agent_id=creds.agent_id, at=self.state.clock())
        self.delivered.append(("archive", poster.post_app(notify).status))
        if message.mentions_bot:
            payload = aibot_text_json(
                aibot_id=creds.aibot_id, chat_id=message.chat_id, sender=message.sender, text=message.text,
                msgid=f"aibot-{message.msgid}",
                response_url=self.state.new_response_url(self.url, message.chat_id),
            )
            self.delivered.append(("aibot", poster.post_aibot(payload).status))
