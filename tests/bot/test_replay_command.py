"""The terminal side of replay: a progress bar only for big files on a terminal, totals on stderr."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from bot.cli.replay import PROGRESS_MIN_BYTES, _progress, run_replay
from bot.config import AppConfig

LINE = (
    '{"msgid": "m-1", "chat_id": "wr-sales-east", "sender": "zhangwei", '
    '"sent_at": "2026-03-02T21:40:00+08:00", "text": "王总手机13812345678"}\n'
)


@pytest.mark.parametrize(
    ("size", "terminal", "bar"),
    [(PROGRESS_MIN_BYTES, True, True), (PROGRESS_MIN_BYTES - 1, True, False), (None, True, False),
     (PROGRESS_MIN_BYTES * 10, False, False)],
)  # fmt: skip
def test_progress_bar_only_for_big_files_on_a_terminal(size: int | None, terminal: bool, bar: bool) -> None:
    console = Console(file=io.StringIO(), force_terminal=terminal)
    with _progress(size, console) as advance:
        assert (advance is not None) is bar
        if advance is not None:
            advance(70_000)


def test_totals_go_to_stderr_and_stdout_holds_only_json(
    tmp_path: Path, config: AppConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(LINE + "not json\n", encoding="utf-8")
    console = Console(file=io.StringIO(), width=100)
    code = run_replay(config, str(source), None, store=False, err=console)
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith('{"msgid": "m-1", "violations": [{"rule": "posting_window"')
    assert out[1] == '{"line": 2, "error": "not valid JSON: Expecting value at column 1"}'
    totals = console.file.getvalue()
    assert "violations: sensitive" in totals and "error lines" in totals
    assert "13812345678" not in totals and "13812345678" not in "".join(out)
