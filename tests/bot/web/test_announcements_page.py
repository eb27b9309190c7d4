"""Announcements on the dashboard: preview, schedule, pause, delete; scoped per manager, audited,
escaped where shown."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import make_session_factory
from storage.models import AnnouncementRow, AuditLogRow

EAST, SOUTH = "wr-sales-east", "wr-sales-south"


def form(token: str, **kw) -> dict:
    return {"csrf_token": token, "title": "周会通知", "body": "<b>周五</b> 15:00 开周会", "format": "text",
            "when": "once", "run_at": "2026-03-06T10:00", "groups": [EAST], "action": "save"} | kw


def test_a_manager_previews_then_schedules_for_their_group(as_user, engine):
    c, token = as_user("lisi")
    preview = c.post("/dashboard/announcements", data=form(token, action="preview"))
    assert preview.status_code == 200
    assert "预览" in preview.text and "2026-03-06 10:00" in preview.text
    assert "&lt;b&gt;周五&lt;/b&gt;" in preview.text and "<b>周五</b>" not in preview.text
    with make_session_factory(engine)() as s:
        assert s.scalars(select(AnnouncementRow)).all() == []  # a preview saves nothing
    saved = c.post("/dashboard/announcements", data=form(token), follow_redirects=False)
    assert saved.status_code == 303
    page = c.get("/dashboard/announcements").text
    assert "周会通知" in page and "&lt;b&gt;周五&lt;/b&gt;" in page
    with make_session_factory(engine)() as s:
        row = s.scalars(select(AnnouncementRow)).one()
        assert (row.chat_ids, row.created_by, row.status, row.format) == ([EAST], "lisi", "active", "text")
        assert s.scalar(select(AuditLogRow.action).where(AuditLogRow.target == f"announcement:{row.id}")) == (
            "announcement_created")


def test_pause_resume_delete_audited_and_scoped(as_user, engine, client):
    c, token = as_user("lisi")
    c.post("/dashboard/announcements", data=form(token, when="cron", cron="0 10 * * mon", run_at=""))
    with make_session_factory(engine)() as s:
        aid = s.scalars(select(AnnouncementRow.id)).one()
    assert c.post(f"/dashboard/announcements/{aid}/status", data={"csrf_token": token, "status": "paused"},
                  follow_redirects=False).status_code == 303
    c.post(f"/dashboard/announcements/{aid}/status", data={"csrf_token": token, "status": "active"})
    c.cookies.clear()
    other, other_token = as_user("zhaolei")
    assert "周会通知" not in other.get("/dashboard/announcements").text
    assert other.post(f"/dashboard/announcements/{aid}/delete", data={"csrf_token": other_token}).status_code == 404
    other.cookies.clear()
    c, token = as_user("lisi")
    assert c.post(f"/dashboard/announcements/{aid}/delete", data={"csrf_token": token},
                  follow_redirects=False).status_code == 303
    with make_session_factory(engine)() as s:
        assert s.get(AnnouncementRow, aid) is None
        actions = list(s.scalars(select(AuditLogRow.action).where(AuditLogRow.target == f"announcement:{aid}")
                                 .order_by(AuditLogRow.id)))
    assert actions == ["announcement_created", "announcement_paused", "announcement_resumed", "announcement_deleted"]


@pytest.mark.parametrize(("kw", "words"), [
    ({"groups": [SOUTH]}, "groups: &#x27;wr-sales-south&#x27; is not a group you manage"),
    ({"run_at": "2026-03-01T10:00"}, "run_at: that time has passed"),
    ({"run_at": "tomorrow"}, "run_at: expected a time"),
    ({"when": "cron", "cron": "every day"}, "cron:"),
    ({"format": "html"}, "format: must be text or markdown"),
    ({"body": "x\x1by"}, "body: contains control characters"),
])
def test_bad_announcements_are_refused_naming_the_field(as_user, kw, words):
    c, token = as_user("lisi")
    response = c.post("/dashboard/announcements", data=form(token, **kw))
    assert response.status_code == 400
    assert words.split("&")[0] in response.text
