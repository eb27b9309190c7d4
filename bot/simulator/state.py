"""Everything the simulated WeCom knows and remembers: apps, tokens, robots, chats, members, the record.

The record (`SimulatorState.records`) is the judge of delivery in tests and the demo page: one entry
per send request that reached WeCom's logic, saying what was shown to whom, or why not.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.simulator.directory import DEMO_MEMBERS, Member
from bot.simulator.faults import FaultConfig, FaultInjector
from bot.simulator.limits import RollingLimit
from handlers.context import Clock, system_clock

DEFAULT_CORP_ID = "wwsim0000000000001"
DEFAULT_AGENT_ID = 1000002


class Status(StrEnum):
    DELIVERED = "delivered"  # shown to every recipient
    PARTIAL = "partial"  # shown to some recipients; the others were dropped or invalid
    DROPPED = "dropped"  # accepted with errcode 0 but silently not shown (per-member limits)
    DUPLICATE = "duplicate"  # accepted with errcode 0, dropped by enable_duplicate_check
    RATE_LIMITED = "rate_limited"  # refused with 45009
    REJECTED = "rejected"  # refused with another errcode (bad content, unknown chat, 81013, ...)


@dataclass(frozen=True)
class SimApp:
    """A self-built app (自建应用): its secret gets tokens; messages go out under its agentid."""

    corp_id: str
    secret: str
    agent_id: int
    name: str = "销售助手"


@dataclass
class Token:
    value: str
    app: SimApp
    expires_at: datetime
    revoked: bool = False


@dataclass
class Record:
    id: int
    at: datetime
    api: str  # "webhook/send" | "message/send" | "appchat/send" | "aibot/response"
    target: str  # robot name, "|"-joined touser, or chatid
    msgtype: str
    content: str  # what a person would read (text/markdown content, card title + description)
    status: Status
    errcode: int
    delivered_to: list[str] = field(default_factory=list)
    dropped_for: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)
    body: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["status"] = self.status.value
        return data


@dataclass
class AppChat:
    chatid: str
    name: str
    owner: str
    userlist: list[str]
    agent_id: int


class SimulatorState:
    """The fake corp. Build it with your credentials or let it generate throw-away ones.

    Example: `SimulatorState(robots={"east": "key-east"})`, then `state.app.secret` for gettoken.
    """

    def __init__(
        self,
        *,
        corp_id: str = DEFAULT_CORP_ID,
        apps: Iterable[SimApp] | None = None,
        robots: dict[str, str] | None = None,
        members: Iterable[Member] = DEMO_MEMBERS,
        faults: FaultConfig | None = None,
        token_ttl: timedelta = timedelta(seconds=7200),
        clock: Clock = system_clock,
    ) -> None:
        self.corp_id = corp_id
        self.apps = list(apps or [SimApp(corp_id, secrets.token_urlsafe(32), DEFAULT_AGENT_ID)])
        #: Robot name → webhook key; the record names robots, never their keys.
        self.robots = dict(robots or {})
        #: Robot name → the group it posts in (华东销售群), for the page.
        self.robot_labels: dict[str, str] = {}
        #: One-shot AI-bot response_url codes → the chat the @-mention came from.
        self.response_urls: dict[str, str] = {}
        self.members = {m.userid: m for m in members}
        self.faults = FaultInjector(faults)
        self.token_ttl = token_ttl
        self.clock = clock
        self.lock = threading.RLock()
        self.tokens: dict[str, Token] = {}
        self.chats: dict[str, AppChat] = {}
        self.records: list[Record] = []
        self.robot_limit = RollingLimit(20, timedelta(seconds=60))
        self.member_minute_limit = RollingLimit(30, timedelta(seconds=60))
        self.member_hour_limit = RollingLimit(1000, timedelta(hours=1))
        #: appchat/send counts per member across groups: 200/min and 10,000/day, then silent drops.
        self.chat_member_minute_limit = RollingLimit(200, timedelta(seconds=60))
        self.chat_member_day_limit = RollingLimit(10_000, timedelta(days=1))

    @property
    def app(self) -> SimApp:
        return self.apps[0]

    def robot_name(self, key: str) -> str | None:
        for name, known in self.robots.items():
            if secrets.compare_digest(known, key):
                return name
        return None

    def add_robot(self, name: str, key: str | None = None) -> str:
        with self.lock:
            self.robots[name] = key or secrets.token_hex(18)
            return self.robots[name]

    def new_response_url(self, base_url: str, chat_id: str) -> str:
        """A one-shot URL the AI bot may answer an @-mention on (WeCom's `response_url`)."""
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.response_urls[code] = chat_id
        return f"{base_url.rstrip('/')}/_sim/aibot/response/{code}"

    # Tokens ------------------------------------------------------------------------------------

    def issue_token(self, app: SimApp) -> Token:
        """Within its lifetime WeCom hands out the same token again; afterwards a new one."""
        now = self.clock()
        with self.lock:
            for token in self.tokens.values():
                if token.app == app and not token.revoked and token.expires_at > now:
                    return token
            token = Token(secrets.token_urlsafe(48), app, now + self.token_ttl)
            self.tokens[token.value] = token
            return token

    def revoke_tokens(self) -> int:
        with self.lock:
            live = [t for t in self.tokens.values() if not t.revoked]
            for token in live:
                token.revoked = True
            return len(live)

    # The record --------------------------------------------------------------------------------

    def record(self, **fields) -> Record:
        with self.lock:
            entry = Record(id=len(self.records) + 1, at=self.clock(), **fields)
            self.records.append(entry)
            return entry

    def is_repeat(self, *, api: str, target: str, msgtype: str, content: str, within_seconds: float) -> bool:
        """An identical message to the same recipients was shown within the interval
        (WeCom's `enable_duplicate_check`: the repeat is answered ok and not shown)."""
        since = self.clock() - timedelta(seconds=within_seconds)
        with self.lock:
            return any(
                r.api == api and r.target == target and r.msgtype == msgtype and r.content == content
                and r.at >= since and r.status in (Status.DELIVERED, Status.PARTIAL)
                for r in reversed(self.records)
            )

    def query(
        self,
        *,
        api: str | None = None,
        target: str | None = None,
        status: str | None = None,
        contains: str | None = None,
        recipient: str | None = None,
    ) -> list[Record]:
        with self.lock:
            found = list(self.records)
        if api:
            found = [r for r in found if r.api == api]
        if target:
            found = [r for r in found if r.target == target]
        if status:
            found = [r for r in found if r.status == status]
        if contains:
            found = [r for r in found if contains in r.content]
        if recipient:
            found = [r for r in found if recipient in r.delivered_to]
        return found

    def reset(self) -> None:
        """Forget what was sent and every rate-limit window (tests call this between cases)."""
        with self.lock:
            self.records.clear()
            self.robot_limit.reset()
            self.member_minute_limit.reset()
            self.member_hour_limit.reset()
            self.chat_member_minute_limit.reset()
            self.chat_member_day_limit.reset()
