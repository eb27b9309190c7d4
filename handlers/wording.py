"""How groupbot words things for people: one escaping rule for WeCom markdown, one rule-name table,
Chinese reasons from structured violation facts, and names instead of userids.

Every human surface (alerts, digests, leaderboards, reminders, appeals, the dashboard, API and
exports) goes through this module, so a rule has one name everywhere (`templates.rule_names`) and a
rep's text can never turn into a link or forged formatting in a message the company's app sends.

WeCom markdown has no escape character: `\\[` still renders a link. User-supplied values therefore
have their markup characters replaced by full-width look-alikes (`[点此申诉](http://x)` reads
`［点此申诉］(http：//x)`): the text stays legible, nothing in it is clickable or styled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined, Template

from bot.config import AppConfig
from rules.config import RulesConfig

WEEKDAYS = "一二三四五六日"
#: Shown wherever a deal's amount could not be read (never ¥0).
AMOUNT_PENDING = "金额待确认"

# Characters WeCom markdown gives a meaning to: links and images ([ ] !), HTML (<font>, < >), bold and
# emphasis (* _), code (`), headings and quotes at a line start (# >), strike-through (~).
_MARKUP = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "`": "｀", "#": "＃"})
# Asterisks: one or two make bold; three or more are our own masks (138****5678, z***@x.com), kept
# so a masked value reads the same in every surface.
_EMPHASIS = re.compile(r"(?<!\*)\*{1,2}(?!\*)")
# A bare URL is linked by the client even without markup: break the scheme separator.
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}):(?=//)")
_SPACES = re.compile(r"\s+")


class Trusted(str):
    """Text groupbot itself wrote (config templates, our dashboard links): rendered as is."""

    __slots__ = ()


def md(value: object) -> str:
    """A user-supplied value made inert inside WeCom markdown, on one line."""
    if value is None:
        return ""
    if isinstance(value, Trusted):
        return str(value)
    text = _SPACES.sub(" ", str(value)).strip()
    text = _EMPHASIS.sub(lambda m: "＊" * len(m.group()), text.translate(_MARKUP))
    return _SCHEME.sub(r"\1：", text)


def _finalize_markdown(value: object) -> object:
    # Numbers and our own Trusted text pass; any other string is a value from outside.
    if isinstance(value, str):
        return md(value)
    return value


# Markdown templates: every {{ value }} is escaped unless it is Trusted (the autoescape policy for
# WeCom markdown). Plain-text templates (robot text posts, app text) need no escaping: WeCom shows
# text messages literally. StrictUndefined so a typo in a template fails the tests instead of a blank.
_MARKDOWN_ENV = Environment(undefined=StrictUndefined, autoescape=False, finalize=_finalize_markdown)
_TEXT_ENV = Environment(undefined=StrictUndefined, autoescape=False)
_CACHE: dict[tuple[bool, str], Template] = {}


def render(source: str, *, markdown: bool, **values: Any) -> str:
    """Render a config template; `markdown` escapes every value not marked Trusted."""
    key = (markdown, source)
    template = _CACHE.get(key)
    if template is None:
        if len(_CACHE) > 512:
            _CACHE.clear()
        template = _CACHE[key] = (_MARKDOWN_ENV if markdown else _TEXT_ENV).from_string(source)
    return template.render(**values).strip()


# Rule names ----------------------------------------------------------------------------------------


def rule_name(config: AppConfig, rule: str) -> str:
    """The one Chinese name of a rule (`templates.rule_names`), on every surface."""
    return config.templates.rule_names.get(rule, rule)


def group_rules(config: AppConfig, chat_id: str) -> RulesConfig:
    group = config.group(chat_id)
    return config.rules.with_overrides(group.rules) if group and group.rules else config.rules


def violation_facts(
    config: AppConfig, *, rule: str, chat_id: str, occurred_at: datetime, rules: RulesConfig | None = None
) -> dict[str, Any]:
    """The numbers a violation's Chinese wording needs, stored with it so that a later config change
    does not rewrite history: the local send time, the windows and limits in force.

    `rules` is the group's effective settings when the caller already has them (the message handler
    does); every function here derives them from `config` otherwise."""
    rules = rules or group_rules(config, chat_id)
    local = occurred_at.astimezone(ZoneInfo(rules.posting_window.timezone))
    facts: dict[str, Any] = {"sent": f"{local:%H:%M}", "weekday": local.weekday()}
    if rule == "posting_window":
        facts["windows"] = [str(w) for w in rules.posting_window.windows]
    elif rule == "frequency":
        facts["limit"] = rules.frequency.limit
        facts["window_minutes"] = rules.frequency.window_minutes
    return facts


def _rule_values(
    config: AppConfig, violation: Any, extra: Mapping[str, Any] | None = None, rules: RulesConfig | None = None
) -> dict[str, Any]:
    rules = rules or group_rules(config, violation.chat_id)
    facts = dict(getattr(violation, "facts", None) or {})
    if "sent" not in facts:
        facts.update(violation_facts(config, rule=violation.rule, chat_id=violation.chat_id,
                                     occurred_at=violation.occurred_at, rules=rules))
    fields = rules.template.fields
    windows = facts.get("windows") or [str(w) for w in rules.posting_window.windows]
    values = {
        "sent": f"周{WEEKDAYS[facts.get('weekday', 0)]} {facts['sent']}",
        "windows": "、".join(windows),
        "limit": facts.get("limit", rules.frequency.limit),
        "window_minutes": facts.get("window_minutes", rules.frequency.window_minutes),
        "missing": "、".join(fields[m].label if m in fields else m for m in violation.missing or ()),
        "kinds": "、".join(config.templates.kind_names.get(k, k) for k in violation.kinds or ()),
        "contact_hint": config.templates.contact_hint,
        "recognised": "",
        "format": expected_format(config, violation.chat_id, rules),
    }
    values.update(extra or {})
    return values


def reason(config: AppConfig, violation: Any, rules: RulesConfig | None = None) -> str:
    """Why `violation` (a stored row) broke its rule, in Chinese, for managers and every list."""
    source = config.templates.reasons.get(violation.rule)
    if not source:
        return rule_name(config, violation.rule)
    return render(source, markdown=False, **_rule_values(config, violation, rules=rules))


def hint(
    config: AppConfig, violation: Any, extra: Mapping[str, Any] | None = None, rules: RulesConfig | None = None
) -> str:
    """The one friendly sentence that tells the rep what to do instead."""
    source = config.templates.hints.get(violation.rule)
    if not source:
        return reason(config, violation, rules)
    return render(source, markdown=False, **_rule_values(config, violation, extra, rules))


def expected_format(config: AppConfig, chat_id: str, rules: RulesConfig | None = None) -> str:
    """A follow-up report's six labels on one line: 客户姓名：… 公司名称：… …"""
    fields = (rules or group_rules(config, chat_id)).template.fields
    return " ".join(f"{spec.label}：…" for spec in fields.values())


def recognised_fields(
    config: AppConfig, chat_id: str, missing: tuple[str, ...] | list[str], rules: RulesConfig | None = None
) -> str:
    """The labels of the fields a report did fill, for the rep's warning."""
    fields = (rules or group_rules(config, chat_id)).template.fields
    return "、".join(spec.label for key, spec in fields.items() if key not in set(missing))


# Names and amounts ---------------------------------------------------------------------------------


def name_with_id(name: str | None, userid: str | None) -> str:
    """张伟（zhangwei）; the bare userid only when no name is known."""
    if not userid:
        return name or ""
    if not name or name == userid:
        return userid
    return f"{name}（{userid}）"


def amount_text(amount_yuan: int | None) -> str:
    return AMOUNT_PENDING if amount_yuan is None else f"¥{amount_yuan:,}"


def deals_text(amount_yuan: int, deals: int, pending: int) -> str:
    """成交 ¥80,000（2单）, 成交 金额待确认（1单）, or 成交 ¥80,000（3单，其中1单金额待确认)."""
    if deals and pending >= deals:
        return f"成交 {AMOUNT_PENDING}（{deals}单）"
    if pending:
        return f"成交 ¥{amount_yuan:,}（{deals}单，其中{pending}单{AMOUNT_PENDING}）"
    return f"成交 ¥{amount_yuan:,}（{deals}单）"
