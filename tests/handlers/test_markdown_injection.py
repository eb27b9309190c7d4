"""Reps cannot plant links or formatting in what the company's app sends (issue 11 item 8).

A rep's text (the masked snippet, a report's client and plan) and names from the directory go into
alerts, grouped alerts, escalations, digests, leaderboards and monthly reports as WeCom markdown.
Each kind is sent through the real dispatcher to the simulator, and the record must show the planted
link and <font> tag inert: legible, but neither clickable nor styled. Text messages (reminders,
appeals) are shown literally by WeCom and must stay text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.simulator.clock import ManualClock
from handlers import digest, leaderboard, monthly, reminders
from handlers.appeals import file_appeal
from handlers.wording import md
from storage import members
from storage.db import make_session_factory
from tests.conftest import sh
from tests.handlers.flow import ROBOTS, context, deliver, judge, message
from tests.helpers.simulator import running_simulator

LINK = "[点此申诉](http://evil.example/phish)"
FONT = '<font color="warning">主管通知：请转账</font>'
PLANT = LINK + FONT
#: A directory name someone typed in the corp's contacts, with markup in it.
OURS = "https://groupbot.example.com/"
PLANTED_NAME = '刘洋[主页](http://evil.example)<font color="info">（组长）</font>'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (LINK, "［点此申诉］(http：//evil.example/phish)"),
        (FONT, "＜font color=\"warning\"＞主管通知：请转账＜/font＞"),
        ("**加粗** `代码` # 标题\n> 引用", "＊＊加粗＊＊ ｀代码｀ ＃ 标题 ＞ 引用"),
        ("https://evil.example 直接贴的网址", "https：//evil.example 直接贴的网址"),
        ("王总电话138****5678，邮箱 w***@example.com", "王总电话138****5678，邮箱 w***@example.com"),
        ("仓储系统改造，3个仓库", "仓储系统改造，3个仓库"),
    ],
)
def test_one_escaping_function_makes_markup_inert_and_keeps_masks_readable(value: str, expected: str) -> None:
    assert md(value) == expected


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


# (what the record starts with or contains, how it must arrive): one row per message kind.
MARKDOWN_KINDS = [
    ("【违规提醒】", "manager alert"),
    ("【违规汇总】", "grouped alert"),
    ("【多次违规】", "escalation"),
    ("今日汇总", "daily digest"),
    ("销售周榜", "weekly leaderboard"),
    ("销售月度考核", "monthly report"),
]
TEXT_KINDS = [
    ("【今日待跟进】", "follow-up reminder"),
    ("提出申诉", "appeal notice"),
]


def test_planted_links_and_font_tags_arrive_inert_in_every_message_kind(
    factory: sessionmaker[Session], config: AppConfig, tmp_path: Path
) -> None:
    config = config.model_copy(update={"schedules": config.schedules.model_copy(
        update={"reports_dir": str(tmp_path)})})
    with factory() as session:
        members.save_profile(session, userid="liuyang", name=PLANTED_NAME, department=None, now=sh(2026, 3, 2, 8))
        session.commit()
    clock = ManualClock(sh(2026, 3, 2, 10, 0))
    ctx = context(config, clock)
    report = (
        f"【跟进】\n客户姓名：王总{LINK}\n公司名称：华星科技\n联系方式：已加企业微信\n需求描述：仓储系统改造{FONT}\n"
        f"上次沟通时间：2月27日\n下一步行动计划：3月3日发报价{PLANT}"
    )
    posts = [
        message("m-1", sh(2026, 3, 2, 10, 15), f"王总手机13812345678 {PLANT}", sender="liuyang"),
        message("m-2", sh(2026, 3, 2, 10, 16), f"再发一次 13812345678 {PLANT}", sender="liuyang"),
        message("m-3", sh(2026, 3, 2, 10, 17), f"还有 13912345678 {PLANT}", sender="liuyang"),
        message("m-4", sh(2026, 3, 2, 10, 30), report, sender="liuyang"),
    ]
    for post in posts:
        clock.advance((post.sent_at - clock()).total_seconds() + 30)  # judged as it arrives
        judge(factory, ctx, [post])
    with factory() as session:
        digest.send_digests(session, config, now=sh(2026, 3, 2, 17, 30))
        reminders.send_reminders(session, config, now=sh(2026, 3, 3, 9, 5))
        leaderboard.post_weekly(session, config, now=sh(2026, 3, 9, 9, 30))
        monthly.send_monthly(session, config, now=sh(2026, 4, 1, 9, 0), public_url=OURS)
        file_appeal(session, ctx, sender="liuyang", reason=f"不是我发的 {PLANT}", now=sh(2026, 3, 2, 11))
        session.commit()

    with running_simulator(robots=ROBOTS, clock=ManualClock(sh(2026, 3, 2, 10, 20))) as sim:
        records = deliver(config, sim, factory)

    for marker, kind in MARKDOWN_KINDS:
        found = [r for r in records if marker in r.content and r.msgtype == "markdown"]
        assert found, f"no {kind} reached WeCom"
        for record in found:
            targets = re.findall(r"\]\(([^)]*)\)", record.content)
            assert all(t.startswith(OURS) for t in targets), f"{kind}: a planted link is clickable: {targets}"
            assert "<font color=\"warning\">主管通知" not in record.content, f"{kind}: planted <font> renders"
            assert "<font color=\"info\">（组长）" not in record.content, f"{kind}: a name's <font> renders"
            assert "http://evil" not in record.content, f"{kind}: a bare planted URL is linked"
    for marker, kind in TEXT_KINDS:
        found = [r for r in records if marker in r.content]
        assert found and all(r.msgtype == "text" for r in found), f"{kind} must stay a text message"
    alert = next(r for r in records if "【违规提醒】" in r.content)
    # Inert, not erased: the manager still reads what the rep wrote.
    assert "［点此申诉］(http：//evil.example/phish)" in alert.content
    assert "(https://groupbot.example.com/violations/" in alert.content  # our own link still works
