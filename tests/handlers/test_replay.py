"""`groupbot replay` as a black box (shared/spec/replay.md), and replay through handle_message."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import AppConfig
from handlers.context import HandlerContext
from handlers.replay import ReplaySummary, memory_judge, replay, storing_judge
from rules.engine import RuleEngine
from storage.models import MessageRow
from tests.conftest import sh

DATA = Path(__file__).resolve().parents[1] / "data"
WINDOW = "sent {} outside 09:00-11:00, 14:00-17:00 on a workday"
MSG = {"msgid": "m-1", "chat_id": "wr-sales-east", "sender": "zhangwei", "sent_at": "2026-03-02T09:15:00+08:00"}


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["replay", *args], input=stdin)


def lines_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def jsonl(*records: dict | str) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


def test_sample_file_gives_the_contract_lines() -> None:
    result = run(str(DATA / "replay_sample.jsonl"))
    assert result.exit_code == 0, result.stderr
    out = lines_of(result.stdout)
    assert [o["msgid"] for o in out] == [f"m-000{i}" for i in range(1, 8)]
    assert out[0] == {
        "msgid": "m-0001",
        "violations": [],
        "update": {
            "client_name": "王总",
            "company": "华星科技",
            "contact": "138****5678",
            "need": "仓储系统改造，3个仓库",
            "last_contact_at": "2026-02-27",
            "next_action": "本周五报价",
            "next_action_due": "2026-03-06",
        },
        "deal": None,
        "masked_text": "【跟进】客户姓名：王总\n公司名称：华星科技\n联系方式：138****5678\n"
        "需求描述：仓储系统改造，3个仓库\n上次沟通时间：上周五\n下一步行动计划：本周五报价",
    }
    assert [v["rule"] for v in out[1]["violations"]] == ["posting_window", "sensitive"]
    assert out[1]["violations"][0]["detail"] == WINDOW.format("21:40")
    assert out[1]["violations"][1]["kinds"] == ["mobile"]
    assert out[1]["masked_text"] == "王总说预算没问题，他手机138****5678，明天再约"
    assert "13812345678" not in result.stdout and "13812345678" not in result.stderr
    assert out[2]["violations"] == [
        {
            "rule": "template",
            "missing": ["client_name", "company", "contact", "last_contact_at"],
            "detail": "follow-up report is missing: 客户姓名, 公司名称, 联系方式, 上次沟通时间",
        }
    ]
    assert out[2]["update"]["need"] == "仓储系统改造，3个仓库"
    assert out[3]["deal"] == {"client_name": "赵总", "company": "远航物流", "amount_yuan": 125000}
    # The shipped config.yaml names no manager: lisi (who manages wr-sales-east in the demo) is judged like anyone.
    assert out[4]["violations"] == [{"rule": "posting_window", "detail": "sent 20:00 on Saturday 2026-03-07, "
                                     "not a workday (allowed 09:00-11:00, 14:00-17:00 on workdays)"}]  # fmt: skip
    assert out[5]["violations"] == []  # 2026-02-14 is a make-up workday
    assert out[6]["violations"] == []  # Spring Festival, but urgent
    assert "violations: sensitive" in result.stderr and "lines" in result.stderr


def test_keys_keep_the_contract_order_and_chinese_stays_readable() -> None:
    result = run("-", stdin=jsonl({**MSG, "text": "早上好"}))
    line = result.stdout.splitlines()[0]
    assert line == '{"msgid": "m-1", "violations": [], "update": null, "deal": null, "masked_text": "早上好"}'


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ('{"msgid": "m-2", "chat_id": ', "not valid JSON: Expecting value at column 29"),
        ("", "not valid JSON: Expecting value at column 1"),
        ('["m-2"]', "expected a JSON object"),
        (json.dumps({k: v for k, v in MSG.items() if k != "sender"} | {"text": "好"}), "missing field 'sender'"),
        (json.dumps(MSG), "missing field 'text'"),
        (json.dumps(MSG | {"text": 5}), "field 'text' must be a string"),
        (
            json.dumps(MSG | {"sent_at": "2026-03-02T09:15:00", "text": "好"}),
            "sent_at has no UTC offset: '2026-03-02T09:15:00'",
        ),
        (json.dumps(MSG | {"sent_at": "3月2日 9点", "text": "好"}), "sent_at is not an ISO 8601 time: '3月2日 9点'"),
    ],
)
def test_bad_lines_get_an_error_line_and_the_run_goes_on(bad: str, error: str) -> None:
    good = {**MSG, "text": "客户已签收"}
    result = run("-", stdin=jsonl(good, bad, good | {"msgid": "m-3"}))
    assert result.exit_code == 1
    out = lines_of(result.stdout)
    assert out[1] == {"line": 2, "error": error}
    assert [out[0]["msgid"], out[2]["msgid"]] == ["m-1", "m-3"]


def test_invalid_config_exits_2_naming_the_key_before_reading_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  frequency:\n    limit: 0\n", encoding="utf-8")
    result = run("-", "--config", str(bad), stdin=jsonl({**MSG, "text": "好"}))
    assert result.exit_code == 2
    assert "rules.frequency.limit" in result.stderr
    assert result.stdout == ""


def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_output_file_and_config_override(tmp_path: Path) -> None:
    config = tmp_path / "late.yaml"
    config.write_text('rules:\n  posting_window:\n    windows: ["09:00-22:00"]\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl({**MSG, "sent_at": "2026-03-02T21:40:00+08:00", "text": "晚上回访王总"}), encoding="utf-8")
    result = run(str(source), "--config", str(config), "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert lines_of(out.read_text(encoding="utf-8"))[0]["violations"] == []


@pytest.mark.parametrize(("chats", "flagged"), [(["wr-sales-east"], [11, 12]), (["wr-sales-east", "wr-x"], [])])
def test_frequency_state_is_built_from_the_lines_read(chats: list[str], flagged: list[int]) -> None:
    start = sh(2026, 3, 2, 9, 0)
    records = [
        {
            **MSG,
            "msgid": f"m-{i}",
            "chat_id": chats[i % len(chats)],
            "sent_at": (start + timedelta(minutes=3 * i)).isoformat(),
            "text": "收到",
        }  # noqa: E501
        for i in range(1, 13)
    ]
    result = run("-", stdin=jsonl(*records))
    out = lines_of(result.stdout)
    assert [i for i, o in enumerate(out, 1) if o["violations"]] == flagged


def test_store_twice_stores_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    first = run(str(DATA / "replay_sample.jsonl"), "--store")
    second = run(str(DATA / "replay_sample.jsonl"), "--store")
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout  # the same verdicts both times
    assert "messages stored" in first.stderr

    from storage.db import make_engine, make_session_factory

    db = make_engine(url)
    with make_session_factory(db)() as session:
        assert session.scalar(select(func.count()).select_from(MessageRow)) == 7
    db.dispose()


def test_live_path_and_replay_give_identical_verdicts(session, config: AppConfig) -> None:
    """handle_message (what the inbox worker runs) and the in-memory replay agree line for line."""
    raw = (DATA / "replay_sample.jsonl").read_bytes().splitlines(keepends=True)
    start = sh(2026, 3, 2, 9, 0)
    burst = [
        json.dumps({**MSG, "msgid": f"b-{i}", "sent_at": (start + timedelta(minutes=i)).isoformat(), "text": "收到"})
        for i in range(12)
    ]
    lines = raw + [b.encode() + b"\n" for b in burst]

    engine = RuleEngine.from_config(config.rules, config.group_rules())
    in_memory: list[str] = []
    replay(lines, memory_judge(engine), in_memory.append)

    ctx = HandlerContext(config=config, engine=engine, hmac_key=b"k" * 32, clock=lambda: start)
    stored: list[str] = []
    summary = ReplaySummary()
    replay(lines, storing_judge(session, ctx, summary), stored.append, summary=summary)

    assert stored == in_memory
    assert summary.stored == len(lines) and summary.violations["frequency"] == 2


def test_unicode_line_separators_stay_inside_one_output_line() -> None:
    text = "第一段\u2028第二段\u2029第三段\x85完"
    result = run("-", stdin=jsonl({**MSG, "text": text}))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["masked_text"] == text
