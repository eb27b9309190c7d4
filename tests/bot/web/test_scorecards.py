"""Trends and scorecards: 12 weeks of violations by rule, a page per rep, pending appeals counted,
overdue next steps highlighted; all scoped to the viewer's groups."""

from __future__ import annotations

import io
from datetime import date
from zoneinfo import ZoneInfo

from PIL import Image

from handlers import trends
from storage.db import make_session_factory
from storage.models import AppealRow
from tests.conftest import sh

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_weekly_buckets_cover_twelve_weeks_with_zeros():
    rows = [(sh(2026, 3, 4, 10, 0), "sensitive"), (sh(2026, 3, 1, 23, 59), "posting_window"),
            (sh(2026, 3, 2, 0, 0), "posting_window"), (sh(2025, 12, 1, 10, 0), "frequency")]  # too old
    labels, series = trends.weekly_by_rule(rows, today=date(2026, 3, 4), tz=SHANGHAI,
                                           rules=("posting_window", "frequency", "sensitive"))
    assert len(labels) == 12 and labels[-1] == "3/2" and labels[-2] == "2/23"
    assert series["posting_window"][-2:] == [1, 1]  # Sunday 23:59 is last week, Monday 00:00 this week
    assert series["sensitive"][-1] == 1 and sum(series["frequency"]) == 0


def add_appeal(engine, violation_id: int, sender: str) -> None:
    with make_session_factory(engine)() as s:
        s.add(AppealRow(violation_id=violation_id, sender=sender, reason="客户主动发的号码",
                     created_at=sh(2026, 3, 4, 11)))
        s.commit()


def test_pending_appeals_are_counted_on_the_overview_and_the_list(as_user, seeded, engine):
    add_appeal(engine, seeded["v_east"], "zhangwei")
    add_appeal(engine, seeded["v_south"], "chenjing")
    c, _ = as_user("lisi")
    assert '<td class="num" id="pending-appeals">1</td>' in c.get("/dashboard/").text  # not the south one
    assert "待处理申诉 1 条" in c.get("/dashboard/violations").text


def test_trend_chart_is_a_server_drawn_png(as_user):
    c, _ = as_user("lisi")
    response = c.get("/dashboard/trends.png")
    assert response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size[0] > 400
    assert c.get("/dashboard/trends.png?member=chenjing").status_code == 404  # not in lisi's groups


def test_a_reps_scorecard(as_user, seeded, engine):
    add_appeal(engine, seeded["v_east"], "zhangwei")
    c, _ = as_user("lisi")
    html = c.get("/dashboard/reps/zhangwei").text
    assert "个人看板" in html
    assert "100%" in html  # two complete reports of two in March
    assert "客户主动发的号码" in html and "待处理" in html
    assert "trends.png?member=zhangwei" in html
    assert "周五上门演示" not in html.split('id="overdue"')[1].split("</section>")[0]  # due 3-6: not overdue


def test_scorecards_are_scoped(as_user):
    c, _ = as_user("lisi")
    assert c.get("/dashboard/reps/chenjing").status_code == 404
    assert c.get("/dashboard/reps/nobody").status_code == 404


def test_overdue_next_steps_are_highlighted(as_user, clock):
    clock.now = sh(2026, 3, 9, 10, 0)  # the 3-6 visit is three days late
    c, _ = as_user("lisi")
    assert '<td class="overdue">2026-03-06（逾期 3 天）</td>' in c.get("/dashboard/clients").text
    scorecard = c.get("/dashboard/reps/zhangwei").text
    assert "周五上门演示" in scorecard.split('id="overdue"')[1]
