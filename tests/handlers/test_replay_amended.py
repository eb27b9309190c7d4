"""`groupbot replay` on the contract as amended by issue 12 (items 3-6): one-line reports, identifiers
written to slip through, every deal amount form, the 60-day rule for 下一步 dates.

`tests/data/replay_amended.jsonl` is replayed with the default config.yaml (a group it does not name,
so only the contract's defaults apply) and compared line by line with
`tests/data/replay_amended.expected.jsonl`, then stored through the live path: nothing clear in any
stored row, and no client made of a garbled name.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.cli import app
from bot.config import AppConfig
from handlers import reminders
from handlers.context import HandlerContext
from handlers.replay import ReplaySummary, memory_judge, replay, storing_judge
from rules.engine import RuleEngine
from storage.models import Base, ClientRow, DealRow, OutboxItemRow
from tests.conftest import sh

DATA = Path(__file__).resolve().parents[1] / "data"
INPUT = DATA / "replay_amended.jsonl"
EXPECTED = [json.loads(line) for line in (DATA / "replay_amended.expected.jsonl").read_text("utf-8").splitlines()]

#: Every identifier of the input file as written, and its clear digits: none may come out.
CLEAR = (
    "13812345678", "138.1234.5678", "(138)12345678", "0086 138 1234 5678", "1 3 8 0 0 1 3 8 0 0 0",
    "13800138000", "一三八零零一三八零零零", "幺三八〇〇幺三八〇〇〇", "１３８１２３４５６７８",
    "11010519491231002X", "１１０１０５１９４９１２３１００２Ｘ", "6-2-2-2-0-2-1-2-3-4-5-6-7-8-9-0-1-2-8",
    "6222021234567890128",
)  # fmt: skip


def by_msgid(msgid: str) -> dict:
    return next(line for line in EXPECTED if line["msgid"] == msgid)


def test_replay_gives_the_recorded_contract_lines() -> None:
    result = CliRunner().invoke(app, ["replay", str(INPUT)])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == EXPECTED
    assert not [c for c in CLEAR if c in result.stdout or c in result.stderr]


def test_the_recorded_lines_say_what_the_amended_contract_says() -> None:
    """The expected file, read against the contract (so a re-recording cannot drift unnoticed)."""
    # Item 3: a one-line report has its six fields; a name that swallowed a label is no name.
    assert by_msgid("a-001")["violations"] == []
    assert by_msgid("a-001")["update"]["client_name"] == "张学友"
    assert by_msgid("a-001")["update"]["company"] == "阿里云"
    assert by_msgid("a-002")["violations"][0]["missing"] == ["need", "last_contact_at"]
    assert by_msgid("a-003")["update"]["client_name"] is None
    assert by_msgid("a-003")["violations"][0]["missing"] == ["client_name", "company"]
    # Item 4: masked over the whole written span, look-alikes untouched.
    assert by_msgid("a-004")["update"]["contact"] == "138****5678"
    assert by_msgid("a-006")["masked_text"] == "客户电话138****5678，晚上别打"
    assert by_msgid("a-008")["masked_text"] == "王总手机 138****8000 别外传"
    assert by_msgid("a-009")["masked_text"] == "他手机138****8000，你私下加"
    assert by_msgid("a-011")["violations"] == [
        {"rule": "sensitive", "kinds": ["id_card", "mobile"], "detail": by_msgid("a-011")["violations"][0]["detail"]}
    ]
    assert by_msgid("a-013")["violations"] == []
    assert by_msgid("a-013")["masked_text"] == json.loads(INPUT.read_text("utf-8").splitlines()[12])["text"]
    # Item 5: every amount form; an unreadable amount is null, never 0.
    amounts = {line["msgid"]: line["deal"]["amount_yuan"] for line in EXPECTED if line["deal"]}
    assert amounts == {"a-014": 3500, "a-015": 20000, "a-016": 20000, "a-017": 25000, "a-018": 20000, "a-019": None}
    # Item 6: an overdue plan stays in this year; one more than 60 days back is next year's.
    assert by_msgid("a-020")["update"]["next_action_due"] == "2026-11-10"
    assert by_msgid("a-021")["update"]["next_action_due"] == "2027-09-01"
    assert by_msgid("a-021")["update"]["last_contact_at"] == "2025-11-30"


def test_stored_like_the_live_webhook_nothing_clear_and_no_garbled_client(session: Session, config: AppConfig) -> None:
    lines = INPUT.read_bytes().splitlines(keepends=True)
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    in_memory: list[str] = []
    replay(lines, memory_judge(engine), in_memory.append)

    ctx = HandlerContext(config=config, engine=engine, hmac_key=b"k" * 32, clock=lambda: sh(2026, 11, 25, 12, 0))
    stored: list[str] = []
    summary = ReplaySummary()
    replay(lines, storing_judge(session, ctx, summary), stored.append, summary=summary)
    assert stored == in_memory

    leaks = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            text = " ".join(str(value) for value in row)
            leaks += [(table.name, c) for c in CLEAR if c in text]
    assert leaks == []
    clients = {(c.name, c.company) for c in session.execute(select(ClientRow.name, ClientRow.company))}
    assert clients == {("张学友", "阿里云"), ("王总", "华星科技"), ("李总", "远航物流")}
    assert session.scalar(select(DealRow.amount_yuan).where(DealRow.msgid == "a-019")) is None


def test_an_overdue_plan_is_in_the_next_reminder(session: Session, config: AppConfig) -> None:
    """a-020, written 11-25 with 下一步：11月10日签合同, is reminded the next morning as overdue, not in 2027."""
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    ctx = HandlerContext(config=config, engine=engine, hmac_key=b"k" * 32, clock=lambda: sh(2026, 11, 25, 12, 0))
    replay(INPUT.read_bytes().splitlines(keepends=True), storing_judge(session, ctx, ReplaySummary()), lambda _: None)
    session.commit()

    reminders.send_reminders(session, config, now=sh(2026, 11, 26, 9, 5))
    session.commit()
    texts = {
        i.target: i.payload["text"]["content"] for i in session.scalars(select(OutboxItemRow)) if i.channel == "app"
    }
    assert "华星科技 王总：11月10日签合同（已逾期16天，原定11月10日）" in texts["zhouqiang"]
    assert not any("远航物流 李总" in text for text in texts.values())  # due 2027-09-01
