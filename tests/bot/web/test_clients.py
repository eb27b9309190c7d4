"""Clients: search by name or company, the timeline of reports, editing grade and next step."""

from __future__ import annotations

import re
from datetime import date

import pytest

from storage.db import make_session_factory
from storage.models import ClientRow


@pytest.mark.parametrize(("query", "found"), [
    ("?q=王建国", {"王建国"}),
    ("?q=华星", {"王建国"}),
    ("?q=贸易", {"刘女士"}),
    ("?q=%25", set()),  # a literal % matches nothing, not everything
    ("?grade=A", {"王建国"}),
    ("?grade=C", {"刘女士"}),
    ("", {"王建国", "刘女士"}),
])
def test_search(as_user, query, found):
    c, _ = as_user("boss")
    html = c.get("/dashboard/clients" + query).text
    assert set(re.findall(r'href="/dashboard/clients/\d+">([^<]+)<', html)) == found


def test_timeline_newest_first(as_user, seeded):
    c, _ = as_user("lisi")
    html = c.get(f"/dashboard/clients/{seeded['c_east']}").text
    assert html.index("周五上门演示") < html.index("发报价单")
    assert "138****5678" in html and "张伟（zhangwei）" in html


@pytest.mark.parametrize(("form", "expected"), [
    ({"grade": "C", "next_action": "下周电话回访", "next_action_due": "2026-03-10"},
     ("C", "下周电话回访", date(2026, 3, 10))),
    ({"grade": "B", "next_action": "", "next_action_due": ""}, ("B", None, None)),
])
def test_edit_grade_and_next_step(as_user, seeded, engine, form, expected):
    c, token = as_user("lisi")
    response = c.post(f"/dashboard/clients/{seeded['c_east']}", data={**form, "csrf_token": token})
    assert response.status_code == 200
    with make_session_factory(engine)() as s:
        client = s.get(ClientRow, seeded["c_east"])
        assert (client.grade, client.next_action, client.next_action_due) == expected


@pytest.mark.parametrize(("form", "reason"), [
    ({"grade": "D"}, "grade: must be one of A, B, C"),
    ({"grade": "A", "next_action_due": "下周五"}, "next_action_due: expected a date"),
])
def test_edit_is_validated(as_user, seeded, form, reason):
    c, token = as_user("lisi")
    response = c.post(f"/dashboard/clients/{seeded['c_east']}", data={**form, "csrf_token": token})
    assert response.status_code == 400 and reason in response.text
