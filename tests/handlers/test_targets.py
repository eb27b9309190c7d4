"""Targets and 达成率: config.yaml's standing targets, dashboard overrides per period, and where the
progress shows (leaderboard, digest, monthly XLSX, 本周排名 / 我的待办, `groupbot targets show`)."""

from __future__ import annotations

from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import TargetConfig, parse_config
from bot.errors import ConfigError
from handlers import digest, leaderboard, monthly, targets
from handlers.commands import answer
from rules.model import GroupMessage
from storage import targets as target_store
from storage.db import make_session_factory
from storage.models import OutboxItemRow
from tests.conftest import sh
from tests.helpers import seed

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
NOVEMBER = targets.parse_period("2026-11")


def with_targets(config, *items: dict):
    return config.model_copy(update={"targets": tuple(TargetConfig(**item) for item in items)})


def seed_november(session) -> None:
    """张伟 in November 2026: two deals (¥60,000), three reports (two complete) about two new clients,
    plus a deal in 华南 and one in October that must not count for the east group / November."""
    huaxing = seed.client(session, owner="zhangwei", name="王总", company="华星科技")
    yuanhang = seed.client(session, owner="zhangwei", name="刘经理", company="远航物流")
    old = seed.client(session, owner="zhangwei", name="陈总", company="博雅教育")
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 20, 10, 0), client=old)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 2, 10, 0), client=huaxing)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 9, 10, 0), client=huaxing,
                complete=False)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 10, 10, 0), client=yuanhang)
    seed.report(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 11, 10, 0), client=old)  # not new
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 3, 10, 0), amount=40_000)
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 17, 10, 0), amount=20_000)
    seed.deal(session, sender="zhangwei", chat_id=SOUTH, at=sh(2026, 11, 18, 10, 0), amount=100_000)
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 10, 31, 23, 59), amount=999_000)
    session.commit()


@pytest.mark.parametrize(("text", "kind", "first", "following"), [
    ("2026-11", "month", date(2026, 11, 1), date(2026, 12, 1)),
    ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1)),
    ("2026-Q4", "quarter", date(2026, 10, 1), date(2027, 1, 1)),
    ("2027-Q1", "quarter", date(2027, 1, 1), date(2027, 4, 1)),
])
def test_periods(text, kind, first, following):
    period = targets.parse_period(text)
    assert (period.kind, period.first, period.following) == (kind, first, following)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "11月", "2026/11", ""])
def test_bad_periods_name_the_shape(text):
    with pytest.raises(ValueError, match="2026-11|01 to 12"):
        targets.parse_period(text)


GROUPS = "groups:\n  - {chat_id: east, name: 华东}\n"


@pytest.mark.parametrize(("yaml_text", "words"), [
    (GROUPS + "targets:\n  - {rep: zhangwei, group: east, deal_amount: 1}\n", "exactly one of rep"),
    (GROUPS + "targets:\n  - {rep: zhangwei}\n", "at least one of deal_amount"),
    (GROUPS + "targets:\n  - {group: west, deal_count: 3}\n", "'west' is not a configured chat_id"),
    (GROUPS + "targets:\n  - {rep: a, deal_count: 3}\n  - {rep: a, deal_count: 4}\n", "a second month target"),
    (GROUPS + "targets:\n  - {rep: a, period: week, deal_count: 3}\n", "'month' or 'quarter'"),
    (GROUPS + "targets:\n  - {rep: a, deal_amount: -5}\n", "greater than or equal to 1"),
    (GROUPS + "targets:\n  - {rep: a, deals: 5}\n", "Extra inputs"),
])
def test_invalid_targets_are_refused_naming_the_key(yaml_text, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml_text)
    assert all(key.startswith("targets") for key, _ in caught.value.problems), caught.value.problems
    assert words in str(caught.value)


def test_shipped_config_documents_targets():
    config = parse_config(GROUPS + "targets:\n  - {rep: a, period: quarter, new_clients: 50}\n")
    assert config.targets[0].metrics() == {"new_clients": 50}


def test_progress_counts_each_metric_over_the_month(session, config):
    seed_november(session)
    config = with_targets(config, {"rep": "zhangwei", "deal_amount": 200_000, "deal_count": 4, "new_clients": 4,
                                   "complete_reports": 6})
    [p] = targets.progress(session, config, period=NOVEMBER)
    assert (p.scope, p.subject, p.name, p.source) == ("rep", "zhangwei", "张伟", "config")
    assert [(m.metric, m.actual, m.target) for m in p.metrics] == [
        ("deal_amount", 160_000, 200_000), ("deal_count", 3, 4), ("new_clients", 2, 4), ("complete_reports", 3, 6),
    ]
    assert p.text() == (
        "11月目标 成交金额 ¥160,000/¥200,000（80%） 成交单数 3/4（75%） 新客户 2/4（50%） 完整跟进 3/6（50%）"
    )


def test_progress_until_a_moment_counts_only_what_came_before(session, config):
    seed_november(session)
    config = with_targets(config, {"rep": "zhangwei", "deal_amount": 200_000})
    [p] = targets.progress(session, config, period=NOVEMBER, until=sh(2026, 11, 10, 0, 0))
    assert (p.headline.actual, p.headline.ratio) == (40_000, 0.2)


def test_a_dashboard_target_replaces_the_standing_one_for_its_period_only(session, config):
    seed_november(session)
    config = with_targets(config, {"rep": "zhangwei", "deal_amount": 200_000},
                          {"group": EAST, "period": "quarter", "deal_count": 10})
    target_store.set_override(session, scope="rep", subject="zhangwei", period="2026-11",
                              metrics={"deal_count": 6}, by="boss", now=sh(2026, 11, 1, 9, 0))
    target_store.set_override(session, scope="group", subject=EAST, period="2026-Q4", metrics={},
                              by="boss", now=sh(2026, 11, 1, 9, 0))
    session.commit()
    [p] = targets.progress(session, config, period=NOVEMBER)
    assert (p.source, [(m.metric, m.actual, m.target) for m in p.metrics]) == ("dashboard", [("deal_count", 3, 6)])
    [december] = targets.progress(session, config, period=targets.parse_period("2026-12"))
    assert (december.source, december.headline.metric) == ("config", "deal_amount")
    # An empty override clears the group's quarter target for Q4, not for Q1.
    assert targets.progress(session, config, period=targets.parse_period("2026-Q4")) == []
    assert len(targets.progress(session, config, period=targets.parse_period("2027-Q1"))) == 1


def test_a_manager_sees_only_their_groups_targets_counted_in_their_groups(session, config):
    seed_november(session)
    seed.deal(session, sender="chenjing", chat_id=SOUTH, at=sh(2026, 11, 5, 10, 0), amount=10_000)
    session.commit()
    config = with_targets(config, {"rep": "zhangwei", "deal_amount": 200_000},
                          {"rep": "chenjing", "deal_amount": 50_000},
                          {"group": EAST, "deal_amount": 100_000}, {"group": SOUTH, "deal_amount": 100_000})
    east = targets.progress(session, config, period=NOVEMBER, scope=frozenset({EAST}))
    assert [(p.scope, p.subject, p.headline.actual) for p in east] == [
        ("group", EAST, 60_000), ("rep", "zhangwei", 60_000),  # the ¥100,000 in 华南 is not the east's
    ]
    everyone = targets.progress(session, config, period=NOVEMBER)
    assert {(p.subject, p.headline.actual) for p in everyone} == {
        (EAST, 60_000), (SOUTH, 110_000), ("zhangwei", 160_000), ("chenjing", 10_000),
    }


def test_weekly_leaderboard_shows_month_progress_up_to_the_weeks_end(session, config):
    seed_november(session)
    config = with_targets(config, {"rep": "zhangwei", "deal_amount": 200_000})
    board = leaderboard.build(session, config, week="2026-W46", chat_id=EAST)  # 11-09 .. 11-15
    [mine] = board.standings
    assert mine.target == ("11月", 0.2)  # ¥40,000 by Sunday 11-15; the 11-17 deal is next week
    assert leaderboard.render_markdown(board).splitlines()[-1].endswith(" 11月目标达成 20%")
    assert leaderboard.chart_figure(board) is not None


def test_leaderboard_without_targets_is_unchanged(session, config):
    seed_november(session)
    board = leaderboard.build(session, config, week="2026-W46", chat_id=EAST)
    assert board.standings[0].target is None
    assert "目标" not in leaderboard.render_markdown(board)


def test_digest_shows_the_groups_targets(session, config):
    seed_november(session)
    config = with_targets(config, {"rep": "zhangwei", "deal_count": 4}, {"group": EAST, "deal_amount": 100_000})
    digest.send_digests(session, config, now=sh(2026, 11, 17, 17, 30))
    key = f"digest:2026-11-17:{EAST}"
    item = session.scalars(select(OutboxItemRow).where(OutboxItemRow.idempotency_key == key)).one()
    lines = item.payload["markdown"]["content"].splitlines()
    start = lines.index("**11月目标达成**（截至今日）")
    assert lines[start + 1 : start + 3] == [
        "> 华东销售群：成交金额 ¥60,000/¥100,000（60%）",
        "> 张伟：成交单数 2/4（50%）",
    ]


def test_monthly_xlsx_has_a_column_per_targeted_metric(session, config, tmp_path):
    seed_november(session)
    config = with_targets(config, {"rep": "zhangwei", "deal_amount": 200_000, "new_clients": 4})
    config = config.model_copy(update={"schedules": config.schedules.model_copy(update={"reports_dir": str(tmp_path)})})
    monthly.send_monthly(session, config, now=sh(2026, 12, 1, 9, 0))
    sheet = load_workbook(tmp_path / "monthly-2026-11.xlsx").active
    header, row = (list(r) for r in sheet.iter_rows(values_only=True, max_row=2))
    assert header[-2:] == ["达成率:成交金额", "达成率:新客户"]
    assert (row[0], row[-2], row[-1]) == ("张伟", 0.8, 0.5)


def ask(session, config, text: str, sender: str = "zhangwei") -> list[str]:
    msg = GroupMessage(
        msgid="dm-1", chat_id="", sender=sender, sent_at=sh(2026, 11, 18, 12, 0), text=text, source="callback"
    )
    return answer(session, config, msg).splitlines()


def test_a_rep_asking_sees_their_own_progress(session, config):
    seed_november(session)
    config = with_targets(
        config,
        {"rep": "zhangwei", "deal_amount": 200_000},
        {"rep": "zhangwei", "period": "quarter", "new_clients": 10},
        {"rep": "wangfang", "deal_amount": 1},
    )
    ranking = ask(session, config, "本周排名")
    assert ranking[-2:] == ["11月目标 成交金额 ¥160,000/¥200,000（80%）", "Q4目标 新客户 3/10（30%）"]
    todo = ask(session, config, "我的待办")
    assert todo[:3] == [
        "【我的待办】今天没有到期或逾期的客户跟进。",
        "· 11月目标 成交金额 ¥160,000/¥200,000（80%）",
        "· Q4目标 新客户 3/10（30%）",
    ]
    assert not any("目标" in line for line in ask(session, config, "我的待办", sender="liuyang"))


runner = CliRunner()


def test_targets_show_cli(db_url, engine, config, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    with make_session_factory(engine)() as s:
        seed_november(s)
    path = tmp_path / "config.yaml"
    path.write_text(
        "groups:\n  - {chat_id: wr-sales-east, name: 华东销售群}\n"
        "members:\n  zhangwei: {name: 张伟}\n"
        "targets:\n  - {rep: zhangwei, deal_amount: 200000}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["targets", "show", "--month", "2026-11", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "张伟" in result.output and "160,000" in result.output and "80%" in result.output
    bad = runner.invoke(app, ["targets", "show", "--month", "2026-Q4", "--config", str(path)])
    assert bad.exit_code == 2 and "2026-Q4 is a quarter" in bad.output
