"""Scheduled announcements: validated at the door, posted once per occurrence across replicas, only
inside the posting windows, never while paused; on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from handlers.announcements import AnnouncementError, post_due, validate
from storage import announcements as store
from storage.models import OutboxItemRow
from tests.conftest import DEMO_CONFIG, sh

EAST, SOUTH = "wr-sales-east", "wr-sales-south"


def announce(session, config, *, run_at=None, cron=None, body="本周五下午三点开周会，请准时参加。", fmt="text",
             chats=(EAST, SOUTH)):
    values = validate(config, title="周会通知", body=body, fmt=fmt, chat_ids=chats, run_at=run_at, cron=cron,
                      allowed=None)
    row = store.add(session, **values, created_by="lisi", created_at=sh(2026, 11, 23, 8, 0),
                    updated_at=sh(2026, 11, 23, 8, 0))
    session.commit()
    return row


def posts(session) -> list[tuple[str, str, dict]]:
    session.expire_all()
    items = session.scalars(select(OutboxItemRow).order_by(OutboxItemRow.idempotency_key))
    return [(i.idempotency_key, i.target, i.payload) for i in items]


def tick(workers, config, now) -> list[int]:
    with ThreadPoolExecutor(len(workers)) as pool:
        return list(pool.map(lambda pair: post_due(pair[1], config, now=now, owner=f"r{pair[0]}"),
                             enumerate(workers)))


def test_a_once_announcement_posts_once_across_two_replicas(workers, session, config):
    row = announce(session, config, run_at=sh(2026, 11, 24, 10, 0))  # a Tuesday, inside 09:00-11:00
    assert tick(workers, config, sh(2026, 11, 24, 9, 59)) == [0, 0]  # not yet
    assert sorted(tick(workers, config, sh(2026, 11, 24, 10, 0))) == [0, 1]
    assert tick(workers, config, sh(2026, 11, 24, 10, 1)) == [0, 0]  # claimed: never again
    assert posts(session) == [
        (f"announcement:{row.id}:2026-11-24T10:00+08:00:{EAST}", "east",
         {"msgtype": "text", "text": {"content": "本周五下午三点开周会，请准时参加。"}}),
        (f"announcement:{row.id}:2026-11-24T10:00+08:00:{SOUTH}", "south",
         {"msgtype": "text", "text": {"content": "本周五下午三点开周会，请准时参加。"}}),
    ]


def test_an_occurrence_outside_the_posting_window_waits_for_it(workers, session, config):
    announce(session, config, run_at=sh(2026, 11, 24, 8, 0), chats=(EAST,))
    assert tick(workers, config, sh(2026, 11, 24, 8, 30)) == [0, 0]
    assert sorted(tick(workers, config, sh(2026, 11, 24, 9, 0))) == [0, 1]
    assert len(posts(session)) == 1


def test_a_cron_announcement_posts_each_occurrence_once_and_not_while_paused(workers, session, config):
    row = announce(session, config, cron="0 10 * * mon", fmt="markdown", chats=(EAST,),
                   body="**本周重点**\n> 跟进报告请写全六项")
    for day in (23, 30):  # two Mondays
        assert sorted(tick(workers, config, sh(2026, 11, day, 10, 0))) == [0, 1]
        assert tick(workers, config, sh(2026, 11, day, 10, 5)) == [0, 0]
    store.set_status(session, session.get(type(row), row.id), status="paused", now=sh(2026, 12, 1, 9, 0))
    session.commit()
    assert tick(workers, config, sh(2026, 12, 7, 10, 0)) == [0, 0]
    keys = [key for key, _, _ in posts(session)]
    assert keys == [f"announcement:{row.id}:2026-11-23T10:00+08:00:{EAST}",
                    f"announcement:{row.id}:2026-11-30T10:00+08:00:{EAST}"]
    markdown = {"msgtype": "markdown", "markdown": {"content": "**本周重点**\n> 跟进报告请写全六项"}}
    assert posts(session)[0][2] == markdown


def test_an_occurrence_missed_for_a_day_is_dropped(workers, session, config):
    announce(session, config, run_at=sh(2026, 11, 20, 10, 0))
    assert tick(workers, config, sh(2026, 11, 23, 10, 0)) == [0, 0]


def test_a_textareas_crlf_line_breaks_are_kept_as_lf(config):
    values = validate(config, title="周会", body="第一行\r\n第二行", fmt="text", chat_ids=(EAST,),
                      run_at=sh(2026, 11, 24, 10, 0), cron=None, allowed=None)
    assert values["body"] == "第一行\n第二行"


@pytest.mark.parametrize(("kw", "words"), [
    ({"title": ""}, "title:"),
    ({"fmt": "html"}, "format: must be text or markdown"),
    ({"body": "  "}, "body: empty"),
    ({"body": "a\x07b"}, "body: contains control characters"),
    ({"body": "字" * 700}, "body: 2100 bytes; WeCom text takes at most 2048"),
    ({"chat_ids": ()}, "groups: choose at least one"),
    ({"chat_ids": (SOUTH,)}, "groups: 'wr-sales-south' is not a group you manage"),
    ({"run_at": None}, "schedule: give either a time"),
    ({"run_at": None, "cron": "every monday"}, "cron:"),
])
def test_bad_announcements_are_refused_naming_the_field(config, kw, words):
    args = {"title": "周会通知", "body": "周五开会", "fmt": "text", "chat_ids": (EAST,),
            "run_at": sh(2026, 11, 24, 10, 0), "cron": None, "allowed": {EAST}} | kw
    with pytest.raises(AnnouncementError, match=words):
        validate(config, **args)


def test_announce_cli(db_url, engine, monkeypatch, session):
    from typer.testing import CliRunner

    from bot.cli import app
    from storage.models import AnnouncementRow, AuditLogRow

    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()
    monkeypatch.setenv("GROUPBOT_CONFIG", str(DEMO_CONFIG))  # the demo's groups and managers
    added = runner.invoke(app, ["announce", "add", "--group", EAST, "--title", "周会", "--body", "**周五开会**",
                                "--markdown", "--cron", "0 10 * * mon"])
    assert added.exit_code == 0, added.output
    assert "周会" in runner.invoke(app, ["announce", "list"]).output
    [aid] = session.scalars(select(AnnouncementRow.id)).all()
    session.rollback()
    assert runner.invoke(app, ["announce", "pause", str(aid)]).exit_code == 0
    session.expire_all()
    assert session.get(AnnouncementRow, aid).status == "paused"
    session.rollback()
    assert runner.invoke(app, ["announce", "delete", str(aid)]).exit_code == 0
    assert runner.invoke(app, ["announce", "delete", str(aid)]).exit_code == 1
    bad = runner.invoke(app, ["announce", "add", "--group", "wr-nope", "--title", "x", "--body", "y", "--at",
                              "2026-12-01T10:00"])
    assert bad.exit_code == 2 and "'wr-nope' is not a configured group" in bad.output
    session.expire_all()
    actions = list(session.scalars(select(AuditLogRow.action).order_by(AuditLogRow.id)))
    assert actions == ["announcement_created", "announcement_paused", "announcement_deleted"]
