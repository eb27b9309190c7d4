"""Replay lines that once came out wrong ('3-5个工作日' read as a date, digit runs around order numbers,
U+2028 splitting an output line, quadratic digit runs, NUL): each through `handlers.replay.replay` with
the repository's config.yaml, compared with the verdict recorded when the bug was fixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import AppConfig
from handlers.replay import memory_judge, replay
from rules.engine import RuleEngine

CORPUS = json.loads((Path(__file__).parent / "replay_lines.json").read_text())


@pytest.mark.parametrize("case", CORPUS, ids=[c["case"] for c in CORPUS])
def test_a_line_that_once_came_out_wrong_gives_the_recorded_verdict(config: AppConfig, case: dict) -> None:
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    written: list[str] = []
    replay([json.dumps(case["line"], ensure_ascii=False)], memory_judge(engine), written.append)

    assert len(written) == 1 and len(written[0].splitlines()) == 1, "one input line, one output line"
    verdict = json.loads(written[0])
    expect = case["expect"]
    assert verdict["masked_text"] == expect["masked_text"]
    assert sorted(v["rule"] for v in verdict["violations"]) == expect["violations"]
    assert verdict["update"] == expect.get("update")
    assert "13812345678" not in written[0].replace("快递单号 13812345678", "").replace("工单号：13812345678", "")
