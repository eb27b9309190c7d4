"""Overview and rules pages count violations by rule per period; dead letters can be re-queued."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import make_session_factory
from storage.models import AuditLogRow, OutboxItemRow


def test_overview_counts_today_and_this_week(as_user):
    c, _ = as_user("boss")
    data = c.get("/dashboard/api/overview").json()
    # Today (Wed 3-4): the sensitive number in east and the incomplete report in south; the
    # 21:40 message of Tue 3-3 counts only for the week.
    assert data["today"] == {"posting_window": 0, "frequency": 0, "template": 1, "sensitive": 1}
    assert data["week"] == {"posting_window": 1, "frequency": 0, "template": 1, "sensitive": 1}
    assert (data["outbox"]["pending"], data["outbox"]["dead"]) == (0, 1)


def test_overview_is_scoped_for_managers(as_user):
    c, _ = as_user("zhaolei")
    data = c.get("/dashboard/api/overview").json()
    assert data["week"] == {"posting_window": 0, "frequency": 0, "template": 1, "sensitive": 0}
    html = c.get("/dashboard/").text
    assert "本周违规" in html and "发送失败" in html


def test_rules_page_shows_config_and_hits(as_user):
    c, _ = as_user("boss")
    html = c.get("/dashboard/rules").text
    assert "09:00-11:00" in html and "【紧急】" in html
    assert "华南销售群" in html and "limit" in html


def test_requeue_a_dead_letter(as_user, seeded, engine):
    c, token = as_user("boss")
    assert "errcode 81013" in c.get("/dashboard/deadletters").text
    response = c.post(f"/dashboard/deadletters/{seeded['dead']}/requeue", data={"csrf_token": token})
    assert response.status_code == 200 and "没有发送失败的消息" in response.text
    with make_session_factory(engine)() as s:
        item = s.get(OutboxItemRow, seeded["dead"])
        assert (item.status, item.attempts) == ("pending", 0)
        assert s.scalar(select(AuditLogRow.target).where(AuditLogRow.action == "outbox_requeue")) == f"outbox:{item.id}"
    again = c.post(f"/dashboard/deadletters/{seeded['dead']}/requeue", data={"csrf_token": token})
    assert again.status_code == 404


def test_managers_cannot_requeue(as_user, seeded):
    c, token = as_user("lisi")
    response = c.post(f"/dashboard/deadletters/{seeded['dead']}/requeue", data={"csrf_token": token})
    assert response.status_code == 403


@pytest.mark.parametrize(("user", "query", "status"), [
    ("boss", "", 200),
    ("lisi", "", 200),
    ("lisi", "?group=wr-sales-east", 200),
    ("lisi", "?group=wr-sales-south", 404),
])
def test_leaderboard_chart_is_a_scoped_png(as_user, user, query, status):
    c, _ = as_user(user)
    response = c.get("/dashboard/leaderboard.png" + query)
    assert response.status_code == status
    if status == 200:
        assert response.headers["content-type"] == "image/png" and response.content.startswith(b"\x89PNG")
