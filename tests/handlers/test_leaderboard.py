"""The weekly leaderboard: numbers checked against a hand-computed seeded week."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from handlers import leaderboard
from storage.models import OutboxItemRow
from tests.conftest import DEMO_CONFIG, sh
from tests.helpers import seed

EAST, SOUTH = "wr-sales-east", "wr-sales-south"


def seed_weeks(session) -> None:
    """W46 (11-09..11-15) and W47 (11-16..11-22) of 2026, as the handler would have stored them."""
    seed.member(session, userid="chenjing", name="陈静")
    seed.member(session, userid="zhoumin", name="周敏")
    # --- W46: zhoumin 1st, zhangwei 2nd, wangfang 3rd
    seed.deal(session, sender="zhoumin", chat_id=EAST, at=sh(2026, 11, 10, 10, 0), amount=10_000)
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 11, 15, 0), amount=5_000)
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 12, 9, 30))
    # --- W47
    # zhangwei: ¥80,000 in two deals (one at the very first second of the week, one on Sunday night),
    # two complete reports and one incomplete, one open violation and one voided on appeal.
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 16, 0, 0), amount=50_000)
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 22, 23, 30), amount=30_000)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 17, 9, 5))
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 18, 14, 20))
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 19, 10, 0), complete=False)
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 17, 20, 0))
    seed.violation(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 18, 21, 0), status="void")
    # wangfang: same amount, fewer complete reports -> second.
    seed.deal(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 18, 10, 0), amount=80_000)
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(2026, 11, 18, 10, 30))
    # chenjing and liuyang tie on (¥20,000, 3 complete): both third; fewer violations listed first.
    seed.deal(session, sender="chenjing", chat_id=EAST, at=sh(2026, 11, 19, 15, 0), amount=20_000)
    seed.deal(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, 19, 16, 0), amount=20_000)
    for day in (16, 17, 18):
        seed.report(session, sender="chenjing", chat_id=EAST, at=sh(2026, 11, day, 9, 40))
        seed.report(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, day, 10, 40))
    seed.violation(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, 16, 12, 0), rule="frequency")
    seed.violation(session, sender="liuyang", chat_id=EAST, at=sh(2026, 11, 17, 12, 0), rule="frequency")
    # zhoumin: only violations this week; a deal one minute after the week ended does not count.
    seed.violation(session, sender="zhoumin", chat_id=EAST, at=sh(2026, 11, 20, 19, 0))
    seed.violation(session, sender="zhoumin", chat_id=EAST, at=sh(2026, 11, 21, 8, 0), rule="sensitive")
    seed.deal(session, sender="zhoumin", chat_id=EAST, at=sh(2026, 11, 23, 0, 1), amount=99_999)
    # lisi manages 华东: never ranked, whatever he sells.
    seed.deal(session, sender="lisi", chat_id=EAST, at=sh(2026, 11, 18, 11, 0), amount=1_000_000)
    # South: chenjing sells there too (counts company-wide), zhaolei is its manager.
    seed.deal(session, sender="chenjing", chat_id=SOUTH, at=sh(2026, 11, 20, 11, 0), amount=7_000)
    seed.deal(session, sender="zhaolei", chat_id=SOUTH, at=sh(2026, 11, 20, 11, 0), amount=500_000)
    session.commit()


def rows(board):
    return [
        (s.rank, s.userid, s.name, s.deal_amount, s.deals, s.complete_reports, s.reports, s.violations, s.change)
        for s in board.standings
    ]


@pytest.mark.parametrize(
    ("chat_id", "expected"),
    [
        (
            EAST,
            [
                (1, "zhangwei", "张伟", 80_000, 2, 2, 3, 1, 1),
                (2, "wangfang", "王芳", 80_000, 1, 1, 1, 0, 1),
                (3, "chenjing", "陈静", 20_000, 1, 3, 3, 0, None),
                (3, "liuyang", "liuyang", 20_000, 1, 3, 3, 2, None),
                (5, "zhoumin", "周敏", 0, 0, 0, 0, 2, -4),
            ],
        ),
        (SOUTH, [(1, "chenjing", "陈静", 7_000, 1, 0, 0, 0, None)]),
        (
            None,
            [
                (1, "zhangwei", "张伟", 80_000, 2, 2, 3, 1, 1),
                (2, "wangfang", "王芳", 80_000, 1, 1, 1, 0, 1),
                (3, "chenjing", "陈静", 27_000, 2, 3, 3, 0, None),
                (4, "liuyang", "liuyang", 20_000, 1, 3, 3, 2, None),
                (5, "zhoumin", "周敏", 0, 0, 0, 0, 2, -4),
            ],
        ),
    ],
    ids=["east", "south", "company"],
)
def test_seeded_week_matches_hand_computed_ranking(session, config, chat_id, expected):
    seed_weeks(session)
    board = leaderboard.build(session, config, week="2026-W47", chat_id=chat_id)
    assert (board.start.isoformat(), board.end.isoformat()) == ("2026-11-16", "2026-11-22")
    assert rows(board) == expected


def test_holiday_week_counts_every_day_and_next_week_shows_newcomers(session, config):
    # 2026 National Day: 10-01..10-07 off. W40 (09-28..10-04) holds only a deal closed on 10-02.
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 2, 16, 0), amount=12_000)
    seed.report(session, sender="wangfang", chat_id=EAST, at=sh(2026, 10, 8, 9, 30))
    session.commit()
    w40 = leaderboard.build(session, config, week="2026-W40", chat_id=EAST)
    assert rows(w40) == [(1, "zhangwei", "张伟", 12_000, 1, 0, 0, 0, None)]
    w41 = leaderboard.build(session, config, week="2026-W41", chat_id=EAST)
    assert rows(w41) == [(1, "wangfang", "王芳", 0, 0, 1, 1, 0, None)]
    empty = leaderboard.build(session, config, week="2026-W42", chat_id=EAST)
    assert empty.standings == ()
    assert "本周暂无成交、跟进或违规记录" in leaderboard.render_markdown(empty)


def test_markdown_lists_every_rep_with_change(session, config):
    seed_weeks(session)
    text = leaderboard.render_markdown(leaderboard.build(session, config, week="2026-W47", chat_id=EAST))
    lines = text.splitlines()
    assert lines[0] == "### 华东销售群 销售周榜 2026-W47"
    assert lines[1].startswith("> 11月16日—11月22日")
    assert lines[2:] == [
        '1. **张伟** <font color="info">成交 ¥80,000（2单）</font> 完整跟进 2/3 违规 1 ↑1',
        '2. **王芳** <font color="info">成交 ¥80,000（1单）</font> 完整跟进 1/1 违规 0 ↑1',
        '3. **陈静** <font color="info">成交 ¥20,000（1单）</font> 完整跟进 3/3 违规 0 🆕',
        '3. **liuyang** <font color="info">成交 ¥20,000（1单）</font> 完整跟进 3/3 违规 2 🆕',
        '5. **周敏** <font color="comment">成交 ¥0（0单）</font> 完整跟进 0/0 违规 2 ↓4',
    ]


def test_markdown_stays_within_robot_limit_for_a_big_team(config):
    standings = tuple(
        leaderboard.Standing(i, f"rep{i:03d}", f"销售代表{i:03d}", 1000 * (300 - i), 1, 1, 1, 0, 0)
        for i in range(1, 301)
    )
    board = leaderboard.Leaderboard(
        "2026-W47", sh(2026, 11, 16).date(), sh(2026, 11, 22).date(), "全公司", None, standings
    )
    for limit in (leaderboard.MAX_MARKDOWN_BYTES, leaderboard.MAX_APP_MARKDOWN_BYTES):
        text = leaderboard.render_markdown(board, limit=limit)
        assert limit - 200 < len(text.encode()) <= limit
        assert "1. **销售代表001**" in text
        shown = sum(line.startswith(tuple("0123456789")) for line in text.splitlines())
        assert text.endswith(f"……另有 {300 - shown} 人")


def test_chart_shows_every_name_and_amount(session, config):
    seed_weeks(session)
    board = leaderboard.build(session, config, week="2026-W47", chat_id=EAST)
    fig = leaderboard.chart_figure(board)
    ax = fig.axes[0]
    # With the change against last week, as in the markdown (new names have none).
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1. 张伟 ↑1", "2. 王芳 ↑1", "3. 陈静", "3. liuyang",
                                                            "5. 周敏 ↓4"]
    # Bars are drawn bottom-up; the widths are the amounts in 万元.
    widths = sorted(((p.get_y(), p.get_width()) for p in ax.patches), reverse=True)
    assert [w for _, w in widths] == [8.0, 8.0, 2.0, 2.0, 0.0]
    assert ax.get_title() == "华东销售群 销售周榜 2026-W47"
    # The CJK font is really used for the names (not a fallback that draws boxes).
    assert "Droid Sans Fallback" in ax.get_yticklabels()[0].get_fontproperties().get_family()
    png = leaderboard.chart_png(board)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] >= 600


def test_post_weekly_queues_markdown_chart_and_company_board(session, config):
    seed_weeks(session)
    queued = leaderboard.post_weekly(session, config, now=sh(2026, 11, 23, 9, 30))
    session.commit()
    items = {i.idempotency_key: i for i in session.scalars(select(OutboxItemRow))}
    assert queued == 5
    assert sorted(items) == [
        "leaderboard:2026-W47:company",
        f"leaderboard:2026-W47:{EAST}:md",
        f"leaderboard:2026-W47:{EAST}:png",
        f"leaderboard:2026-W47:{SOUTH}:md",
        f"leaderboard:2026-W47:{SOUTH}:png",
    ]
    md = items[f"leaderboard:2026-W47:{EAST}:md"]
    assert (md.channel, md.target, md.payload["msgtype"]) == ("robot", "east", "markdown")
    img = items[f"leaderboard:2026-W47:{EAST}:png"].payload["image"]
    raw = base64.b64decode(img["base64"])
    assert hashlib.md5(raw).hexdigest() == img["md5"] and len(raw) <= 2 * 1024 * 1024
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    company = items["leaderboard:2026-W47:company"]
    assert (company.channel, company.target) == ("app", "lisi|zhaolei")
    assert "### 全公司 销售周榜 2026-W47" in company.payload["markdown"]["content"]
    # Running the same week again queues nothing new.
    assert leaderboard.post_weekly(session, config, now=sh(2026, 11, 23, 11, 0)) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-W47", (2026, 47)), ("2026-W01", (2026, 1)), (" 2020-W53 ", (2020, 53))],
)
def test_parse_week(text, expected):
    assert leaderboard.parse_week(text) == expected


@pytest.mark.parametrize("text", ["2026-47", "2026W47", "2026-W5", "2025-W53", "2026-W00", "下周"])
def test_parse_week_refuses_with_the_expected_shape(text):
    with pytest.raises(ValueError, match="2026-W47"):
        leaderboard.parse_week(text)


@pytest.mark.parametrize(
    ("now", "week"),
    [
        (sh(2026, 11, 23, 9, 30), "2026-W47"),
        (sh(2026, 11, 22, 23, 59), "2026-W46"),
        (sh(2026, 1, 5, 9, 30), "2026-W01"),
        (sh(2026, 1, 1, 9, 30), "2025-W52"),
    ],
)
def test_previous_week_is_reported(now, week):
    assert leaderboard.previous_week(now, leaderboard.ZoneInfo("Asia/Shanghai")) == week


def test_cli_renders_a_past_week(session, config, db_url, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    seed_weeks(session)
    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()
    demo = ["--config", str(DEMO_CONFIG)]  # its groups and member names; the shipped config.yaml has none
    result = runner.invoke(app, ["leaderboard", "--week", "2026-W47", "--format", "json", "--group", EAST, *demo])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(s["rank"], s["name"]) for s in data["standings"]] == [
        (1, "张伟"), (2, "王芳"), (3, "陈静"), (3, "liuyang"), (5, "周敏")
    ]
    out = tmp_path / "w47.png"
    result = runner.invoke(app, ["leaderboard", "--week", "2026-W47", "--format", "png", "--output", str(out), *demo])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["leaderboard", "--week", "2026-47"])
    assert result.exit_code == 2
    assert "2026-W47" in result.output


@pytest.mark.parametrize("name", ["张伟", "欧阳娜娜", "王芳", "赵磊", "龚琪", "鑫淼", "李四（华东）"])
def test_shipped_font_has_every_glyph_of_typical_names(name):
    from importlib.resources import files

    from matplotlib.ft2font import FT2Font

    from handlers.charts import FONT_FILE

    font = FT2Font(str(files("bot").joinpath(FONT_FILE)))
    assert all(font.get_char_index(ord(ch)) for ch in name)
