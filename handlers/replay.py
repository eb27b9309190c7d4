"""`groupbot replay`: exported messages in (JSON lines), verdicts out, per shared/spec/replay.md.

The file is streamed line by line, so memory stays bounded however long it is: the only state is
the frequency history, which keeps at most `limit` recent post times per member. Without a
database the verdicts come straight from the engine; with `--store` every message goes through
`handlers.message.handle_message`, exactly as the live inbox worker stores it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.errors import InputError
from handlers.context import HandlerContext
from handlers.message import handle_message
from rules.engine import RuleEngine
from rules.frequency import FrequencyHistory
from rules.model import GroupMessage, MessageFieldError, Verdict

#: Judges one message and returns its verdict (in memory, or stored through handle_message).
Judge = Callable[[GroupMessage], Verdict]

# Characters str.splitlines() breaks on that json.dumps(ensure_ascii=False) leaves raw: escaped so
# that one output line stays one line for every reader.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


class LineError(InputError):
    """Raised when one input line cannot become a message; the reason names the field, never its text."""


@dataclass
class ReplaySummary:
    """Counts for the end-of-run report: lines read, error lines, violations per rule, new rows."""

    lines: int = 0
    errors: int = 0
    stored: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    reports: int = 0
    deals: int = 0


def parse_line(raw: bytes | str) -> GroupMessage:
    """One JSON line → GroupMessage; LineError says what is wrong with it."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(f"not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(raw.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    try:
        return GroupMessage.from_payload(data, source="replay")
    except MessageFieldError as exc:
        raise LineError(str(exc)) from None


def memory_judge(engine: RuleEngine) -> Judge:
    """Verdicts without a database; frequency state is built from the lines already read."""
    history = FrequencyHistory(keep=engine.max_limit, horizon=engine.max_lookback)

    def judge(msg: GroupMessage) -> Verdict:
        if not msg.chat_id:
            return engine.evaluate(msg, ())
        verdict = engine.evaluate(msg, history.prior(msg.chat_id, msg.sender, msg.sent_at))
        history.add(msg.chat_id, msg.sender, msg.sent_at)
        return verdict

    return judge


def storing_judge(session: Session, ctx: HandlerContext, summary: ReplaySummary) -> Judge:
    """Verdicts through handle_message (one transaction per message, idempotent on msgid)."""

    def judge(msg: GroupMessage) -> Verdict:
        handled = handle_message(session, ctx, msg)
        summary.stored += handled.created
        return handled.verdict

    return judge


def replay(
    lines: Iterable[bytes | str],
    judge: Judge,
    write: Callable[[str], Any],
    *,
    summary: ReplaySummary | None = None,
    progress: Callable[[int], Any] | None = None,
) -> ReplaySummary:
    """Judge every line in order and `write` one output line per input line (newline included).

    `progress(n)` is told the size of each line read (bytes for a binary file), for a progress bar.
    """
    summary = summary or ReplaySummary()
    for number, raw in enumerate(lines, start=1):
        summary.lines += 1
        if progress is not None:
            progress(len(raw))
        try:
            msg = parse_line(raw)
        except LineError as exc:
            summary.errors += 1
            write(_json_line({"line": number, "error": str(exc)}))
            continue
        verdict = judge(msg)
        summary.violations.update(v.rule for v in verdict.violations)
        summary.reports += verdict.update is not None
        summary.deals += verdict.deal is not None
        write(_json_line(verdict.to_contract()))
    return summary


def _json_line(data: dict[str, Any]) -> str:
    line = json.dumps(data, ensure_ascii=False)
    for char, escaped in _LINE_BREAKS.items():
        if char in line:
            line = line.replace(char, escaped)
    return line + "\n"
