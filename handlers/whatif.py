"""What-if: run the current rules and a proposed change over the same messages, show what differs.

Example: a manager lowers `frequency.limit` from 10 to 5 and sees which of last week's messages
would newly be flagged, before editing config.yaml. Stored messages are masked, so a sensitive
finding on stored text cannot be re-detected: those verdicts reflect only what is left visible.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config import AppConfig
from bot.errors import InputError
from rules.config import RulesConfig
from rules.engine import RuleEngine
from rules.model import GroupMessage
from storage.models import MessageRow

MAX_LINES = 20_000


class WhatIfError(InputError):
    """Raised when the proposed rule change or the uploaded file cannot be read; says where."""


class WhatIfTimeout(WhatIfError):
    """Raised when a what-if runs past its time budget; it stops between two messages."""


#: Which rule settings hold a user's regular expressions (only admins may propose them).
PATTERN_SETTINGS = (("sensitive", "custom_patterns"),)


def proposes_patterns(override: dict[str, dict[str, Any]]) -> bool:
    """True when the rule change carries regular expressions of its own."""
    return any(key in override.get(rule, {}) for rule, key in PATTERN_SETTINGS)


@dataclass(frozen=True)
class Change:
    msgid: str
    chat_id: str
    sender: str
    sent_at: datetime
    masked_text: str
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(r for r in self.after if r not in self.before)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(r for r in self.before if r not in self.after)


@dataclass(frozen=True)
class WhatIfResult:
    messages: int
    changes: tuple[Change, ...]
    hits_before: dict[str, int]
    hits_after: dict[str, int]


def parse_override(text: str) -> dict[str, dict[str, Any]]:
    """YAML like `frequency: {limit: 5}` -> {"frequency": {"limit": 5}}; errors name the problem."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WhatIfError(f"rule change: not valid YAML at line {mark.line + 1 if mark else '?'}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise WhatIfError("rule change: expected rule names mapping to settings, e.g. frequency: {limit: 5}")
    return data


def proposed_config(config: AppConfig, override: dict[str, dict[str, Any]]) -> AppConfig:
    try:
        rules = config.rules.with_overrides(override)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        raise WhatIfError(f"rules.{path}: {err['msg']}") from None
    except ValueError as exc:
        raise WhatIfError(f"rules: {exc}") from None
    return config.model_copy(update={"rules": rules})


def engine_for(config: AppConfig, rules: RulesConfig | None = None) -> RuleEngine:
    return RuleEngine.from_config(rules or config.rules, config.group_rules())


def stored_as_messages(rows: Iterable[MessageRow]) -> list[GroupMessage]:
    return [
        GroupMessage(msgid=r.msgid, chat_id=r.chat_id, sender=r.sender, sent_at=r.sent_at, text=r.masked_text,
                     msgtype=r.msgtype, source="replay")
        for r in rows
    ]


def read_jsonl(lines: Iterable[str]) -> list[GroupMessage]:
    """Replay input lines (shared/spec/replay.md); the first bad line is refused with its number."""
    out: list[GroupMessage] = []
    for number, line in enumerate(lines, start=1):
        if number > MAX_LINES:
            raise WhatIfError(f"file: more than {MAX_LINES} lines; use `groupbot replay` for large files")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            sent_at = datetime.fromisoformat(obj["sent_at"])
            out.append(GroupMessage(
                msgid=str(obj["msgid"]), chat_id=str(obj["chat_id"]), sender=str(obj["sender"]), sent_at=sent_at,
                text=str(obj["text"]), msgtype=str(obj.get("msgtype", "text")), source="replay",
            ))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # Messages of these errors name positions and fields, never the line's text.
            what = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise WhatIfError(f"line {number}: {what}") from None
    return out


def _never() -> bool:
    return False


def _verdicts(
    engine: RuleEngine, messages: Sequence[GroupMessage], expired: Callable[[], bool] = _never
) -> list[tuple[tuple[str, ...], str]]:
    """Each message's broken rules and masked text (an uploaded file is clear text: never shown)."""
    seen: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    out = []
    for msg in messages:
        # Patterns run on RE2 (linear time), so one message is quick and checking here bounds the run.
        if expired():
            raise WhatIfTimeout("试算超时：消息太多或规则太复杂，请缩短时间范围后再试")
        history = seen[(msg.chat_id, msg.sender)]
        since = msg.sent_at - engine.lookback(msg.chat_id)
        prior = [t for t in history if since <= t <= msg.sent_at]
        verdict = engine.evaluate(msg, prior)
        out.append((tuple(sorted({v.rule for v in verdict.violations})), verdict.masked_text))
        history.append(msg.sent_at)
    return out


def compare(
    config: AppConfig,
    proposed: AppConfig,
    messages: Sequence[GroupMessage],
    *,
    expired: Callable[[], bool] = _never,
) -> WhatIfResult:
    """Both verdicts for every message; `expired()` turning true stops the run with WhatIfTimeout."""
    ordered = sorted(messages, key=lambda m: m.sent_at)
    before = _verdicts(engine_for(config), ordered, expired)
    after = _verdicts(engine_for(proposed), ordered, expired)
    changes = tuple(
        Change(m.msgid, m.chat_id, m.sender, m.sent_at, masked, b, a)
        for m, (b, masked), (a, _) in zip(ordered, before, after, strict=True)
        if b != a
    )

    def hits(verdicts: list[tuple[tuple[str, ...], str]]) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for rules, _masked in verdicts:
            for rule in rules:
                counts[rule] += 1
        return dict(counts)

    return WhatIfResult(len(ordered), changes, hits(before), hits(after))
