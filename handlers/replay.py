"""`groupbot replay`: exported messages in (JSON lines), verdicts out, per shared/spec/replay.md.

The file is streamed line by line, so memory stays bounded however long it is: the only state is
the frequency history, which keeps at most `limit` recent post times per member. Without a
database the verdicts come straight from the engine; with `--store` the lines go, 500 at a time,
through `handlers.batch.handle_batch`, exactly as the live inbox worker stores its batches.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.errors import InputError
from handlers.batch import BatchItem, handle_batch
from handlers.context import HandlerContext
from rules.engine import RuleEngine
from rules.frequency import FrequencyHistory
from rules.model import GroupMessage, MessageFieldError, Verdict

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


@dataclass(frozen=True, slots=True)
class Judge:
    """Judges a run of messages (in file order) and returns their verdicts in the same order.

    `chunk`: how many lines `replay` hands over at once (the storing judge stores each chunk in
    one transaction through handlers.batch; the in-memory one takes them one at a time).
    """

    judge: Callable[[Sequence[GroupMessage]], list[Verdict]]
    chunk: int = 1

    def __call__(self, msgs: Sequence[GroupMessage]) -> list[Verdict]:
        return self.judge(msgs)


#: Lines per transaction for `replay --store` (the inbox worker's batches are the same path).
STORE_CHUNK = 500


def memory_judge(engine: RuleEngine) -> Judge:
    """Verdicts without a database; frequency state is built from the lines already read."""
    history = FrequencyHistory(keep=engine.max_limit, horizon=engine.max_lookback)

    def judge_one(msg: GroupMessage) -> Verdict:
        if not msg.chat_id:
            return engine.evaluate(msg, ())
        verdict = engine.evaluate(msg, history.prior(msg.chat_id, msg.sender, msg.sent_at))
        history.add(msg.chat_id, msg.sender, msg.sent_at)
        return verdict

    return Judge(lambda msgs: [judge_one(m) for m in msgs])


def storing_judge(
    session: Session, ctx: HandlerContext, summary: ReplaySummary, *, chunk: int = STORE_CHUNK
) -> Judge:
    """Verdicts through handlers.batch (one transaction per chunk, idempotent on msgid): the same
    path as the live inbox worker. Within a chunk messages are judged in sent_at order, so a file
    whose lines are out of time order gets the exact frequency counts rather than file-order ones."""

    def judge(msgs: Sequence[GroupMessage]) -> list[Verdict]:
        handled = handle_batch(session, ctx, [BatchItem(m) for m in msgs])
        summary.stored += sum(h.created for h in handled)
        return [h.verdict for h in handled]

    return Judge(judge, chunk)


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
    Lines are handed to `judge` `judge.chunk` at a time; output order is input order.
    """
    summary = summary or ReplaySummary()
    pending: list[tuple[int, GroupMessage | str]] = []

    def flush() -> None:
        msgs = [m for _, m in pending if isinstance(m, GroupMessage)]
        verdicts = iter(judge(msgs) if msgs else [])
        for number, item in pending:
            if isinstance(item, str):
                write(_json_line({"line": number, "error": item}))
                continue
            verdict = next(verdicts)
            summary.violations.update(v.rule for v in verdict.violations)
            summary.reports += verdict.update is not None
            summary.deals += verdict.deal is not None
            write(_json_line(verdict.to_contract()))
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        summary.lines += 1
        if progress is not None:
            progress(len(raw))
        try:
            pending.append((number, parse_line(raw)))
        except LineError as exc:
            summary.errors += 1
            pending.append((number, str(exc)))
        if len(pending) >= judge.chunk:
            flush()
    flush()
    return summary


def _json_line(data: dict[str, Any]) -> str:
    line = json.dumps(data, ensure_ascii=False)
    for char, escaped in _LINE_BREAKS.items():
        if char in line:
            line = line.replace(char, escaped)
    return line + "\n"
