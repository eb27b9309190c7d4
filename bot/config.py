"""config.yaml, loaded into pydantic models, with errors that name the key path and line.

`load_config(path)` is the only entry point; the service and `groupbot check-config` share it, so
they refuse the same files with the same words. Secrets never live here (see bot/settings.py).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.errors import ConfigError
from rules.config import GroupRules, RulesConfig

#: The repository's config.yaml (present in a checkout, absent in an installed wheel).
REPO_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.yaml"


def default_config_path() -> Path:
    """GROUPBOT_CONFIG if set, else the repository's config.yaml, else ./config.yaml (Docker)."""
    if env := os.environ.get("GROUPBOT_CONFIG"):
        return Path(env)
    return REPO_CONFIG_PATH if REPO_CONFIG_PATH.exists() else Path("config.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupConfig(_Model):
    """One work group: who manages it, where its robot posts, how its rules differ."""

    chat_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    managers: tuple[str, ...] = ()
    #: Who hears about escalations (repeat offenders); defaults to the managers.
    escalation_contacts: tuple[str, ...] = ()
    #: Name of the group robot whose webhook key is in GROUPBOT_ROBOT_KEYS; None: no group posts.
    robot: str | None = None
    #: Members exempt in this group like its managers: from every rule whose `exemptible` is True
    #: (posting_window, frequency, template, content_type), never from sensitive.
    exempt: tuple[str, ...] = ()
    #: Partial per-rule overrides, e.g. {"frequency": {"limit": 20}}.
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def rule_view(self) -> GroupRules:
        return GroupRules(
            chat_id=self.chat_id, overrides=self.rules, exempt=frozenset(self.exempt) | set(self.managers)
        )


class MemberOverride(_Model):
    """A name for a userid, for corps whose app may not read the contacts API."""

    name: str
    department: str | None = None


class JobSchedule(_Model):
    enabled: bool = True
    #: Standard five-field cron expression, evaluated in `schedules.timezone`.
    cron: str
    #: Skip the run on days that are not mainland-China workdays.
    workdays_only: bool = False

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return value


class StaleClientsSchedule(JobSchedule):
    #: Days without an update after which a client of each grade is stale.
    days_by_grade: dict[Literal["A", "B", "C"], int] = Field(
        default_factory=lambda: {"A": 3, "B": 7, "C": 14}
    )


class SchedulesConfig(_Model):
    timezone: str = "Asia/Shanghai"
    #: A period missed while every replica was down is caught up on start within this many minutes.
    grace_minutes: int = Field(180, ge=0)
    leaderboard: JobSchedule = JobSchedule(cron="30 9 * * mon")
    reminders: JobSchedule = JobSchedule(cron="5 9 * * *", workdays_only=True)
    stale_clients: StaleClientsSchedule = StaleClientsSchedule(cron="0 10 * * *", workdays_only=True)
    digest: JobSchedule = JobSchedule(cron="30 17 * * *", workdays_only=True)
    missing_report: JobSchedule = JobSchedule(enabled=False, cron="30 16 * * *", workdays_only=True)
    monthly: JobSchedule = JobSchedule(cron="0 9 1-7 * *", workdays_only=True)
    #: Where the monthly evaluation XLSX files are written; the dashboard serves them at
    #: GROUPBOT_PUBLIC_URL/dashboard/reports/<file>, each viewer's groups only.
    reports_dir: str = "data/reports"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class WorkerConfig(_Model):
    """The inbox worker that judges accepted messages behind the callback."""

    #: Rows claimed, and group messages judged in one transaction, at a time.
    batch_size: int = Field(500, ge=1, le=1000)
    poll_seconds: float = Field(0.5, gt=0)
    #: A claimed row whose worker died is claimed again after this long.
    lease_seconds: int = Field(15, ge=5)


class ArchiveConfig(_Model):
    enabled: bool = False
    poll_seconds: float = Field(30, gt=0)
    limit: int = Field(1000, ge=1, le=1000)


class IngestConfig(_Model):
    worker: WorkerConfig = WorkerConfig()
    archive: ArchiveConfig = ArchiveConfig()
    #: Request bodies above this size are refused with 413.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    #: Messages older than this when judged (history imports, a long outage) are stored and counted
    #: but ping nobody: no warning, alert or escalation. "2h", "90m", "1d" or seconds.
    alert_max_age: timedelta = timedelta(hours=2)

    @field_validator("alert_max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", value)):
            unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
            return timedelta(**{unit: int(m.group(1))})
        return value


class DashboardAccount(_Model):
    """A dashboard login kept in config.yaml (the password only as an argon2 hash)."""

    username: str = Field(min_length=1, max_length=128)
    role: Literal["admin", "manager"] = "manager"
    #: `groupbot user hash` prints one; a clear password is refused.
    password_hash: str
    #: WeCom userid whose managed groups a manager sees; defaults to the username.
    userid: str | None = None

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str) -> str:
        if not value.startswith("$argon2"):
            raise ValueError("must be an argon2 hash (groupbot user hash), never a clear password")
        return value


class LockoutConfig(_Model):
    """Login throttling (storage.login_throttle): growing delays, never a lock an outsider can hold."""

    #: Wrong passwords from one address on one account before its delays start ...
    pair_free: int = Field(3, ge=1)
    #: ... failures from one address over all usernames before that address is delayed ...
    address_free: int = Field(20, ge=1)
    #: ... failures on one account over all addresses before addresses that failed on it are delayed.
    account_free: int = Field(10, ge=1)
    #: The first delay; it doubles with each further failure ...
    base_seconds: float = Field(1.0, gt=0, le=60)
    #: ... up to this, for a pair or an address ...
    max_seconds: float = Field(900.0, gt=0, le=86400)
    #: ... and up to this for an account (a modest delay: the owner from a clean address is not held).
    account_max_seconds: float = Field(60.0, gt=0, le=3600)
    #: Failures are forgotten this long after the last one.
    forget_after_minutes: int = Field(60, ge=1, le=7 * 24 * 60)

    @model_validator(mode="before")
    @classmethod
    def _old_lockout_keys(cls, value: Any) -> Any:
        # Configs from before throttling: say what replaced the keys instead of "extra inputs".
        if isinstance(value, dict) and {"attempts", "minutes"} & value.keys():
            raise ValueError("attempts/minutes: accounts are no longer locked; use pair_free, address_free, "
                             "account_free, base_seconds, max_seconds (docs/security.md, Login throttling)")
        return value


class DashboardConfig(_Model):
    #: A session cookie is valid this long after login.
    session_hours: int = Field(12, ge=1, le=24 * 30)
    lockout: LockoutConfig = LockoutConfig()
    users: tuple[DashboardAccount, ...] = ()
    #: Evidence kept with every violation: this many of the group's messages before and after it,
    #: masked, copied when it is recorded (storage/evidence.py). 0 keeps none.
    evidence_messages: int = Field(5, ge=0, le=20)

    @field_validator("users")
    @classmethod
    def _unique(cls, value: tuple[DashboardAccount, ...]) -> tuple[DashboardAccount, ...]:
        names = [u.username for u in value]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate username {dupes[0]!r}")
        return value


_ALERT_VARIABLES = frozenset({"name", "department", "group", "when", "rule", "why", "snippet", "link"})
#: What handlers/alerts.py passes to each template; anything else is a typo caught at load time.
TEMPLATE_VARIABLES: dict[str, frozenset[str]] = {
    "manager_alert": _ALERT_VARIABLES,
    "manager_alert_grouped": frozenset({"name", "department", "group", "since", "until", "items", "more"}),
    "member_warning": frozenset({"name", "hint"}),
    "quiet_warning": frozenset({"name", "since", "until", "count", "day", "hints"}),
    "escalation": (_ALERT_VARIABLES - {"snippet"}) | {"days", "count"},
}
RULE_TEXT_VARIABLES = frozenset(
    {"sent", "windows", "limit", "window_minutes", "missing", "kinds", "contact_hint", "recognised", "format"}
)


def _jinja_ok(name: str, source: str, known: frozenset[str]) -> str:
    """Refuse a template jinja2 cannot parse or that names a variable it will never get."""
    from jinja2 import Environment, TemplateSyntaxError, meta

    try:
        unknown = meta.find_undeclared_variables(Environment().parse(source)) - known
    except TemplateSyntaxError as exc:
        raise ValueError(f"template {name!r} line {exc.lineno}: {exc.message}") from None
    if unknown:
        raise ValueError(
            f"template {name!r} uses unknown variable(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )
    return source


class TemplatesConfig(_Model):
    """Chinese texts groupbot sends (jinja2); the variables each one gets are listed in config.yaml."""

    manager_alert: str = (
        "**【违规提醒】{{ group }}**\n> 成员：{{ name }}{% if department %}（{{ department }}）{% endif %}\n"
        "> 时间：{{ when }}\n> 规则：{{ rule }}\n> 原因：{{ why }}\n> 内容：{{ snippet }}\n\n"
        "[查看详情]({{ link }})"
    )
    manager_alert_grouped: str = (
        "**【违规汇总】{{ group }}**\n{{ name }} 在 {{ since }}-{{ until }} 又有 {{ items | length }} 条违规：\n"
        "{% for item in items %}> {{ item.when }} {{ item.rule }}：{{ item.why }} [详情]({{ item.link }})\n"
        "{% endfor %}{% if more %}> 另有 {{ more }} 条较早的违规，请到看板查看\n{% endif %}"
    )
    member_warning: str = "{{ name }}，温馨提醒：{{ hint }}谢谢配合！"
    #: Warnings held over quiet hours, one post per member at the next posting window.
    quiet_warning: str = (
        "{{ name }}，温馨提醒：{{ day }} {{ since }}{% if until != since %}–{{ until }}{% endif %} "
        "你有 {{ count }} 条消息在非工作时段发送。"
        "{% for hint in hints %}{{ hint }}{% endfor %}谢谢配合！"
    )
    escalation: str = (
        "**【多次违规】{{ group }}**\n> 成员：{{ name }}{% if department %}（{{ department }}）{% endif %}\n"
        "> 近 {{ days }} 天违规 {{ count }} 次，最近一次：{{ when }} {{ rule }}（{{ why }}）\n\n"
        "请及时与其沟通。[查看记录]({{ link }})"
    )
    rule_names: dict[str, str] = Field(
        default_factory=lambda: {
            "posting_window": "发帖时段",
            "frequency": "发帖频率",
            "template": "跟进报告格式",
            "sensitive": "客户隐私",
            "content_type": "消息类型",
        }
    )
    #: What a rep should write in 联系方式 instead of a customer's number.
    contact_hint: str = "已加企业微信"
    #: Why a message broke the rule, for managers.
    reasons: dict[str, str] = Field(
        default_factory=lambda: {
            "posting_window": "{{ sent }} 发送，不在工作日发帖时段（{{ windows }}）内",
            "frequency": "{{ window_minutes }} 分钟内在本群发了超过 {{ limit }} 条消息",
            "template": "跟进报告缺少：{{ missing }}",
            "sensitive": "含客户隐私或财务信息：{{ kinds }}",
            "content_type": "发送了本群不允许的消息类型",
        }
    )
    #: One friendly sentence for the rep, posted in the group.
    hints: dict[str, str] = Field(
        default_factory=lambda: {
            "posting_window": "工作消息请在工作日 {{ windows }} 发送，急事请在消息里加上【紧急】。",
            "frequency": "每 {{ window_minutes }} 分钟最多发 {{ limit }} 条，内容多可以合并成一条发。",
            "template": "跟进报告{% if recognised %}已识别 {{ recognised }}，{% endif %}还缺少 {{ missing }}，"
            "请按格式补全后再发一次：{{ format }}。",
            "sensitive": "客户的联系方式和财务情况请不要发在群里，联系方式一栏请写「{{ contact_hint }}」"
            "或打码的号码（如 138****5678）。",
            "content_type": "本群不接受这类消息（名片、红包、小程序等），请改发文字。",
        }
    )
    kind_names: dict[str, str] = Field(
        default_factory=lambda: {
            "mobile": "手机号",
            "id_card": "身份证号",
            "bank_card": "银行卡号",
            "email": "邮箱",
            "im_account": "微信/QQ 号",
            "financial": "财务状况",
        }
    )

    @model_validator(mode="after")
    def _templates_parse(self) -> TemplatesConfig:
        for name, known in TEMPLATE_VARIABLES.items():
            _jinja_ok(name, getattr(self, name), known)
        for section in ("reasons", "hints"):
            for rule, source in getattr(self, section).items():
                _jinja_ok(f"{section}.{rule}", source, RULE_TEXT_VARIABLES)
        return self


class OutboxConfig(_Model):
    """The dispatcher that sends outbox rows, and the limits WeCom enforces on the other side."""

    batch_size: int = Field(50, ge=1, le=1000)
    poll_seconds: float = Field(0.2, gt=0)
    #: A claimed row whose dispatcher died is claimed again after this long (at-least-once window).
    lease_seconds: int = Field(60, ge=5)
    #: After this many failed attempts a row becomes a dead letter.
    max_attempts: int = Field(10, ge=1)
    backoff_base_seconds: float = Field(2.0, gt=0)
    backoff_max_seconds: float = Field(600.0, gt=0)
    send_timeout_seconds: float = Field(10.0, gt=0)
    #: Violations of one member in one group within this many minutes share one grouped alert.
    burst_minutes: int = Field(5, ge=1, le=60)
    #: WeCom's own limits; lower them only to leave head-room for other senders of the same robot.
    robot_per_minute: int = Field(20, ge=1, le=20)
    member_per_minute: int = Field(30, ge=1, le=30)
    member_per_hour: int = Field(1000, ge=1, le=1000)
    #: Names from the contacts API (user/get) are fetched again after this many hours.
    directory_refresh_hours: int = Field(24, ge=1)
    #: The bot's own group posts (warnings) outside the posting windows: `hold` them for the next
    #: window (one post per member), send them `private`ly to the rep, or `off` (post at once).
    quiet_hours: Literal["hold", "private", "off"] = "hold"


#: Target metrics, in the order reports list them; the first one set is a rep's headline 达成率.
TARGET_METRICS = ("deal_amount", "deal_count", "new_clients", "complete_reports")


class TargetConfig(_Model):
    """A standing target for one rep (userid) or one group (chat_id), per month or per quarter.

    It applies to every month (or quarter) until the dashboard overrides it for one period.
    """

    rep: str | None = Field(None, min_length=1, max_length=128)
    group: str | None = Field(None, min_length=1, max_length=128)
    period: Literal["month", "quarter"] = "month"
    #: Yuan of reported deals.
    deal_amount: int | None = Field(None, ge=1)
    deal_count: int | None = Field(None, ge=1)
    #: Clients whose first follow-up report falls in the period.
    new_clients: int | None = Field(None, ge=1)
    #: Follow-up reports with all six fields.
    complete_reports: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_subject_some_metric(self) -> TargetConfig:
        if (self.rep is None) == (self.group is None):
            raise ValueError("give exactly one of rep (a userid) or group (a chat_id)")
        if all(getattr(self, m) is None for m in TARGET_METRICS):
            raise ValueError(f"set at least one of {', '.join(TARGET_METRICS)}")
        return self

    @property
    def scope(self) -> Literal["rep", "group"]:
        return "rep" if self.rep is not None else "group"

    @property
    def subject(self) -> str:
        return self.rep if self.rep is not None else self.group  # type: ignore[return-value]

    def metrics(self) -> dict[str, int]:
        return {m: v for m in TARGET_METRICS if (v := getattr(self, m)) is not None}


class AppConfig(_Model):
    """The whole of config.yaml."""

    timezone: str = "Asia/Shanghai"
    rules: RulesConfig = RulesConfig()
    groups: tuple[GroupConfig, ...] = ()
    members: dict[str, MemberOverride] = Field(default_factory=dict)
    schedules: SchedulesConfig = SchedulesConfig()
    ingest: IngestConfig = IngestConfig()
    templates: TemplatesConfig = TemplatesConfig()
    outbox: OutboxConfig = OutboxConfig()
    dashboard: DashboardConfig = DashboardConfig()
    targets: tuple[TargetConfig, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _groups_consistent(self) -> AppConfig:
        seen: dict[str, int] = {}
        for index, group in enumerate(self.groups):
            if group.chat_id in seen:
                # A typed error, so parse_config can point at groups[index].chat_id and its line.
                raise PydanticCustomError(
                    "duplicate_chat_id",
                    "duplicate chat_id {chat_id} (groups[{first}] has it too)",
                    {"chat_id": repr(group.chat_id), "index": index, "first": seen[group.chat_id]},
                )
            seen[group.chat_id] = index
        return self

    @field_validator("targets")
    @classmethod
    def _targets_known_and_unique(
        cls, value: tuple[TargetConfig, ...], info: ValidationInfo
    ) -> tuple[TargetConfig, ...]:
        chat_ids = {g.chat_id for g in info.data.get("groups", ())}
        seen: set[tuple[str, str, str]] = set()
        for index, target in enumerate(value):
            if target.group is not None and target.group not in chat_ids:
                raise ValueError(f"[{index}].group: {target.group!r} is not a configured chat_id")
            key = (target.scope, target.subject, target.period)
            if key in seen:
                raise ValueError(f"[{index}]: a second {target.period} target for {target.scope} {target.subject!r}")
            seen.add(key)
        return value

    def group(self, chat_id: str) -> GroupConfig | None:
        for group in self.groups:
            if group.chat_id == chat_id:
                return group
        return None

    def group_rules(self) -> tuple[GroupRules, ...]:
        return tuple(group.rule_view() for group in self.groups)


def key_path(loc: tuple[int | str, ...]) -> str:
    """('groups', 2, 'managers') -> 'groups[2].managers'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of its nearest existing parent."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            break
        node, line = nxt, nxt.start_mark.line + 1
    return line


def _validate_group_overrides(config: AppConfig) -> list[tuple[tuple[int | str, ...], str]]:
    problems: list[tuple[tuple[int | str, ...], str]] = []
    for index, group in enumerate(config.groups):
        try:
            config.rules.with_overrides(group.rules)
        except ValidationError as exc:
            for err in exc.errors():
                problems.append((("groups", index, "rules", *err["loc"]), err["msg"]))
        except ValueError as exc:
            problems.append((("groups", index, "rules"), str(exc)))
    return problems


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """Where a YAML syntax error really is, in the words PyYAML found for it.

    PyYAML notices an unclosed quote or bracket, or a key without its colon, only at a later token
    (often lines further down); the `context_mark` of "while scanning ..." / "while parsing a flow ..."
    is where the broken construct starts, which is the line to fix. Block errors (bad indentation)
    are noticed on the offending line itself.
    """
    problem, mark = getattr(exc, "problem", None) or str(exc), getattr(exc, "problem_mark", None)
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if mark is None:
        return "(file)", f"not valid YAML: {problem}"
    if start is not None and context and (context.startswith("while scanning") or "flow" in context):
        return f"line {start.line + 1}", f"not valid YAML: {problem} (noticed on line {mark.line + 1}, {context})"
    return f"line {mark.line + 1}", f"not valid YAML: {problem}"


def _duplicate_keys(node: yaml.Node | None, loc: tuple[int | str, ...] = ()) -> list[tuple[str, str]]:
    """Every key given twice in one mapping: YAML keeps the last silently, which hides a typo's victim."""
    problems: list[tuple[str, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name != "<<":
                if name in seen:
                    problems.append((f"{key_path((*loc, name))} (line {key.start_mark.line + 1})",
                                     f"duplicate key {name!r} (first on line {seen[name]})"))
                else:
                    seen[name] = key.start_mark.line + 1
            problems += _duplicate_keys(value, (*loc, name if name is not None else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*loc, index))
    return problems


def parse_config(text: str, source: str = "config.yaml") -> AppConfig:
    """Validate YAML text; raise ConfigError listing every problem with key path and line."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc)], source) from None
    duplicates = _duplicate_keys(root)
    if duplicates:
        raise ConfigError(duplicates, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([("(top level)", "expected a mapping of sections")], source)

    def located(loc: tuple[int | str, ...], msg: str) -> tuple[str, str]:
        line = _line_of(root, loc)
        return (key_path(loc) + (f" (line {line})" if line else ""), msg)

    def where(error) -> tuple[int | str, ...]:
        if error["type"] == "duplicate_chat_id":
            return ("groups", error["ctx"]["index"], "chat_id")
        return tuple(error["loc"])

    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([located(where(e), e["msg"]) for e in exc.errors()], source) from None
    problems = _validate_group_overrides(config)
    if problems:
        raise ConfigError([located(loc, msg) for loc, msg in problems], source)
    return config


def load_config(path: str | Path | None = None) -> AppConfig:
    """Read and validate config.yaml (the repository's default when `path` is None)."""
    path = Path(path) if path is not None else default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([("(file)", f"no such file: {path}")], str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError([("(file)", "not UTF-8 text")], str(path)) from None
    return parse_config(text, str(path))
