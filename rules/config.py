"""Typed settings of every rule, the deal parser and the policy: the `rules:` part of config.yaml.

Defaults are the rules the sales managers wrote down (shared/spec/replay.md), so an empty
`rules:` block enforces exactly the contract. A group may override any rule setting; the override is
merged over the company-wide block and validated by the same model.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.model import Action, RuleSettings, SensitiveKind

_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class TimeWindow(BaseModel):
    """A daily window, start inclusive and end exclusive, written "09:00-11:00"."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = _WINDOW.match(value.strip())
            if not m:
                raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}")
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            return {"start": time(h1, m1), "end": time(h2, m2)}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("a window must end after it starts")
        return self

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class PostingWindowSettings(RuleSettings):
    action: Action = "warn_member"
    windows: tuple[TimeWindow, ...] = (
        TimeWindow(start=time(9, 0), end=time(11, 0)),
        TimeWindow(start=time(14, 0), end=time(17, 0)),
    )
    workdays_only: bool = True
    urgent_markers: tuple[str, ...] = ("【紧急】", "[紧急]", "#紧急")
    timezone: str = "Asia/Shanghai"
    #: Patches for the statutory calendar before the chinesecalendar package knows a year.
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()


class FrequencySettings(RuleSettings):
    action: Action = "warn_member"
    limit: int = Field(10, ge=1)
    window_minutes: int = Field(60, ge=1)


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    aliases: tuple[str, ...] = ()


def _default_fields() -> dict[str, FieldSpec]:
    return {
        "client_name": FieldSpec(label="客户姓名", aliases=("客户", "客户名", "姓名")),
        "company": FieldSpec(label="公司名称", aliases=("公司", "单位", "企业")),
        "contact": FieldSpec(label="联系方式", aliases=("电话", "手机", "联系电话", "微信")),
        "need": FieldSpec(label="需求描述", aliases=("需求",)),
        "last_contact_at": FieldSpec(label="上次沟通时间", aliases=("上次沟通", "上次联系", "上次跟进")),
        "next_action": FieldSpec(label="下一步行动计划", aliases=("下一步", "下一步计划", "计划")),
    }


class TemplateSettings(RuleSettings):
    action: Action = "warn_member"
    prefixes: tuple[str, ...] = ("【跟进】", "#跟进")
    #: A message that labels at least this many fields is a report even without a prefix.
    min_labels: int = Field(2, ge=1)
    fields: dict[str, FieldSpec] = Field(default_factory=_default_fields)

    @field_validator("fields")
    @classmethod
    def _six_fields(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        from rules.model import FOLLOW_UP_FIELDS

        unknown = sorted(set(value) - set(FOLLOW_UP_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; fields are {list(FOLLOW_UP_FIELDS)}")
        merged = _default_fields() | value
        return {name: merged[name] for name in FOLLOW_UP_FIELDS}


def _re2_options() -> re2.Options:
    options = re2.Options()
    # RE2 logs parse errors to stderr itself; the caller's error already says what is wrong.
    options.log_errors = False
    return options


_RE2_OPTIONS = _re2_options()


def compile_custom_regex(regex: str) -> re2._Regexp:
    """A user's pattern on RE2, a linear-time engine: no pattern can make matching take exponential time.

    RE2 refuses what needs backtracking (backreferences, lookaround); `re2.error` says which construct.
    """
    return re2.compile(regex, _RE2_OPTIONS)


class CustomPattern(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    regex: str
    #: Identifier kinds are masked like the built-in detector of that kind; `financial` is flagged.
    kind: SensitiveKind = "financial"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = compile_custom_regex(value)
        except re2.error as exc:
            reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ValueError(
                f"invalid regular expression for RE2, the linear-time engine (no backreferences or lookaround): "
                f"{reason}"
            ) from None
        if compiled.match(""):
            raise ValueError("the regular expression matches the empty string")
        return value


class CustomKeywords(BaseModel):
    """A named list of literal phrases, e.g. the names of blacklisted lenders, all of one kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    words: tuple[str, ...] = Field(min_length=1)
    kind: SensitiveKind = "financial"

    @field_validator("words")
    @classmethod
    def _no_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        blank = [i for i, word in enumerate(value) if not word.strip()]
        if blank:
            raise ValueError(f"words[{blank[0]}] is empty")
        return value


class SensitiveSettings(RuleSettings):
    action: Action = "alert_managers"
    kinds: tuple[SensitiveKind, ...] = ("mobile", "id_card", "bank_card", "email", "im_account", "financial")
    #: Extra phrases that count as a customer's financial status (added to the built-in list).
    financial_keywords: tuple[str, ...] = ()
    #: Phrases that cancel a financial hit nearby (budgets, prices, our own receivables).
    financial_exclusions: tuple[str, ...] = ()
    custom_patterns: tuple[CustomPattern, ...] = ()
    #: Extra literal phrase lists, matched by the same automaton as the financial phrases.
    custom_keywords: tuple[CustomKeywords, ...] = ()


#: A msgtype as WeCom writes it: lower-case letters, digits and underscores (card, redpacket, weapp).
_MSGTYPE = re.compile(r"^[a-z][a-z0-9_]*$")


class ContentTypeSettings(RuleSettings):
    """Off by default: groups that care list the non-text msgtypes they accept."""

    enabled: bool = False
    action: Action = "warn_member"
    #: Non-text msgtypes this group accepts (chat-archive names: card, redpacket, link, file, weapp,
    #: image, voice, video, ...); any other non-text message is a violation. text/markdown always pass.
    allowed: tuple[str, ...] = ()

    @field_validator("allowed")
    @classmethod
    def _msgtypes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, name in enumerate(value):
            if not _MSGTYPE.match(name):
                raise ValueError(f"allowed[{i}] {name!r} is not a msgtype (lower-case, e.g. card, redpacket, weapp)")
        return value


class DealSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prefixes: tuple[str, ...] = ("【成交】", "#成交")
    amount_labels: tuple[str, ...] = ("成交金额", "签单金额", "合同金额")


class EscalationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: A member who collects `count` violations within `days` days is escalated.
    count: int = Field(3, ge=1)
    days: int = Field(7, ge=1)


class PolicySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Members exempt from posting_window, frequency, template and content_type in every group
    #: (admins); groups add their managers and `exempt`. Never from sensitive (see its exempt_members).
    exempt_members: tuple[str, ...] = ()
    escalation: EscalationSettings = EscalationSettings()


class RulesConfig(BaseModel):
    """The `rules:` block of config.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    posting_window: PostingWindowSettings = PostingWindowSettings()
    frequency: FrequencySettings = FrequencySettings()
    template: TemplateSettings = TemplateSettings()
    sensitive: SensitiveSettings = SensitiveSettings()
    content_type: ContentTypeSettings = ContentTypeSettings()
    deals: DealSettings = DealSettings()
    policy: PolicySettings = PolicySettings()

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> RulesConfig:
        """This block with a group's partial overrides merged in and validated again."""
        if not overrides:
            return self
        data = self.model_dump()
        for name, patch in overrides.items():
            if name not in data:
                raise ValueError(f"unknown rule {name!r}")
            data[name] = {**data[name], **patch}
        return RulesConfig.model_validate(data)


class GroupRules(BaseModel):
    """What the engine needs to know about one group: overrides and exempt members."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: str
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    exempt: frozenset[str] = frozenset()
