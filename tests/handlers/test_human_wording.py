"""Words reps and managers understand (issue 12 items 5, 9, 10, 11): one name per rule everywhere,
names instead of userids from the first alert on, what to write instead of a customer's number, and
deals whose amount could not be read shown as 金额待确认, never as ¥0."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.simulator.clock import ManualClock
from handlers import digest, leaderboard, monthly
from handlers.appeals import file_appeal
from handlers.directory import people
from storage.db import make_session_factory
from storage.models import OutboxItemRow
from tests.conftest import sh
from tests.handlers.flow import ROBOTS, context, deliver, judge, message
from tests.helpers import seed
from tests.helpers.simulator import running_simulator

EAST = "wr-sales-east"


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def alerting(config: AppConfig) -> AppConfig:
    """Every rule alerts the managers, so each rule's name shows in an alert."""
    rules = config.rules.model_copy(update={
        name: getattr(config.rules, name).model_copy(update={"action": "alert_managers"})
        for name in ("posting_window", "frequency", "template")
    })
    return config.model_copy(update={"rules": rules})


@pytest.mark.parametrize(
    ("rule", "posts", "name"),
    [
        ("posting_window", [("21:40", "明天上午去华星科技拜访王总")], "发帖时段"),
        ("frequency", [(f"10:{m:02d}", f"第{m}条：收到") for m in range(11)], "发帖频率"),
        ("template", [("10:30", "【跟进】客户姓名：王总\n公司名称：华星科技")], "跟进报告格式"),
        ("sensitive", [("10:40", "王总手机13812345678")], "客户隐私"),
    ],
)
def test_a_rule_has_one_name_in_the_alert_digest_and_monthly_report(
    factory, config: AppConfig, tmp_path: Path, rule: str, posts: list[tuple[str, str]], name: str
) -> None:
    config = alerting(config).model_copy(update={"schedules": config.schedules.model_copy(
        update={"reports_dir": str(tmp_path)})})
    clock = ManualClock(sh(2026, 3, 2, 9, 0))
    ctx = context(config, clock)
    for n, (at, text) in enumerate(posts):
        hour, minute = map(int, at.split(":"))
        sent = sh(2026, 3, 2, hour, minute)
        clock.advance((sent - clock()).total_seconds() + 5)
        judge(factory, ctx, [message(f"r-{rule}-{n}", sent, text)])
    with factory() as session:
        alerts = [i.payload["markdown"]["content"] for i in session.scalars(select(OutboxItemRow))
                  if i.idempotency_key.startswith("alert")]
        assert any(f"> 规则：{name}" in a for a in alerts)
        text = digest.digest_markdown(session, config, config.group(EAST), now=sh(2026, 3, 2, 17, 30))
        assert f"{name} 1" in text
        monthly.send_monthly(session, config, now=sh(2026, 4, 1, 9, 0))
    header = next(load_workbook(tmp_path / "monthly-2026-03.xlsx").active.iter_rows(values_only=True))
    assert f"违规:{name}" in header


@pytest.mark.parametrize(
    ("deals", "line"),
    [
        ([None], "成交 金额待确认（1单）"),
        ([None, None], "成交 金额待确认（2单）"),
        ([50_000, None], "成交 ¥50,000（2单，其中1单金额待确认）"),
        ([50_000], "成交 ¥50,000（1单）"),
    ],
)
def test_a_deal_whose_amount_cannot_be_read_is_never_shown_as_zero(session, config: AppConfig, deals, line) -> None:
    for n, amount in enumerate(deals):
        seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 3, 3, 10, n), amount=amount)
    seed.deal(session, sender="liuyang", chat_id=EAST, at=sh(2026, 3, 3, 11), amount=1_000)
    board = leaderboard.build(session, config, week="2026-W10", chat_id=EAST)
    text = leaderboard.render_markdown(board)
    assert line in text and "¥0" not in text
    # Left out of the amount ranking: a readable ¥1,000 ranks above an unread amount.
    ranked = [s.userid for s in board.standings]
    if deals == [None] or deals == [None, None]:
        assert ranked == ["liuyang", "zhangwei"]
        notes = [t.get_text() for t in leaderboard.chart_figure(board).axes[0].texts]
        assert any(n.startswith("金额待确认") for n in notes) and not any(n.startswith("0万") for n in notes)
    day = digest.digest_markdown(session, config, config.group(EAST), now=sh(2026, 3, 3, 17, 30))
    assert "¥0" not in day and ("金额待确认" in day) == (None in deals)


def test_the_first_alert_about_a_new_rep_names_them(factory, config: AppConfig) -> None:
    """liuyang is not in config.yaml and the directory has not looked him up yet."""
    clock = ManualClock(sh(2026, 3, 2, 10, 0))
    judge(factory, context(config, clock), [message("n-1", sh(2026, 3, 2, 9, 59), "王总手机13812345678",
                                                    sender="liuyang")])
    with running_simulator(robots=ROBOTS, clock=ManualClock(sh(2026, 3, 2, 10, 0))) as sim:
        records = deliver(config, sim, factory)
    [alert] = [r for r in records if r.target == "lisi"]
    assert "> 成员：刘洋\n" in alert.content and "liuyang" not in alert.content
    with factory() as session:  # the outbox row records what was sent, and the directory now knows him
        [row] = [i for i in session.scalars(select(OutboxItemRow)) if i.target == "lisi"]
        assert row.payload["markdown"]["content"] == alert.content and "unnamed" not in row.payload["_meta"]
        assert people(session, config, ["liuyang"])["liuyang"].name == "刘洋"


def test_an_appeal_notice_names_the_rep_next_to_the_userid(factory, config: AppConfig) -> None:
    with factory() as session:
        seed.member(session, userid="liuyang", name="刘洋")
        session.commit()
    clock = ManualClock(sh(2026, 3, 2, 10, 0))
    ctx = context(config, clock)
    judge(factory, ctx, [message("a-1", sh(2026, 3, 2, 9, 59), "王总手机13812345678", sender="liuyang")])
    with factory() as session:
        file_appeal(session, ctx, sender="liuyang", reason="客户主动发来的号码", now=clock())
        session.commit()
        [notice] = [i for i in session.scalars(select(OutboxItemRow)) if i.idempotency_key.endswith(":filed")]
    assert notice.payload["text"]["content"].startswith("刘洋（liuyang） 对「客户隐私」违规提出申诉")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (
            # Complete, and a privacy violation: tell the rep what to write in 联系方式 instead.
            "【跟进】\n客户姓名：王总\n公司名称：华星科技\n联系方式：13812345678\n需求描述：仓储系统改造\n"
            "上次沟通时间：昨天\n下一步行动计划：周五报价",
            "联系方式一栏请写「已加企业微信」或打码的号码（如 138****5678）",
        ),
        (
            # Incomplete: what was recognised, what is missing, the format on one line.
            "【跟进】\n客户姓名：王总\n公司名称：华星科技\n下一步：周五报价",
            "跟进报告已识别 客户姓名、公司名称、下一步行动计划，还缺少 联系方式、需求描述、上次沟通时间，"
            "请按格式补全后再发一次：客户姓名：… 公司名称：… 联系方式：… 需求描述：… "
            "上次沟通时间：… 下一步行动计划：…。",
        ),
    ],
)
def test_the_rep_is_told_what_to_do_instead(factory, config: AppConfig, text: str, hint: str) -> None:
    clock = ManualClock(sh(2026, 3, 4, 10, 1))
    judge(factory, context(config, clock), [message("t-1", sh(2026, 3, 4, 10, 0), text)])
    with factory() as session:
        warnings = [i.payload["text"]["content"] for i in session.scalars(select(OutboxItemRow))
                    if i.channel == "robot"]
    assert len(warnings) == 1 and hint in warnings[0]
    assert "13812345678" not in warnings[0]


def test_the_contact_hint_is_configurable(factory, config: AppConfig) -> None:
    config = config.model_copy(update={"templates": config.templates.model_copy(
        update={"contact_hint": "138****5678（打码）"})})
    clock = ManualClock(sh(2026, 3, 4, 10, 1))
    report = ("【跟进】\n客户姓名：王总\n公司名称：华星科技\n联系方式：13812345678\n需求描述：仓储\n"
              "上次沟通时间：昨天\n下一步行动计划：周五报价")
    judge(factory, context(config, clock), [message("t-2", sh(2026, 3, 4, 10, 0), report)])
    with factory() as session:
        [warning] = [i for i in session.scalars(select(OutboxItemRow)) if i.channel == "robot"]
    assert "联系方式一栏请写「138****5678（打码）」" in warning.payload["text"]["content"]
