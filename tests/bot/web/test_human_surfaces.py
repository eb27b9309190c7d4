"""What managers read on the dashboard, API and exports: Chinese reasons, one name per rule, people's
names next to their userids, 补录 for history imports, and deal amounts that could not be read
(金额待确认) set by a manager of the deal's group, audited (issue 12 items 5, 7, 9, 10)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from storage.db import make_session_factory
from storage.models import AuditLogRow, DealRow, ViolationRow
from tests.bot.web.conftest import _message
from tests.conftest import sh
from tests.helpers import seed

ENGLISH = ("sent ", "outside", "customer", "missing", "workday")


@pytest.fixture
def extra(engine: Engine, seeded) -> dict[str, int]:
    """A frequency violation with the facts the engine stored, a history import, a rep known only to
    the directory (WeCom user/get), and a deal whose amount could not be read."""
    with make_session_factory(engine)() as s:
        seed.member(s, userid="liuyang", name="刘洋")
        m = _message(s, "hs-1", "wr-sales-east", "liuyang", sh(2026, 3, 4, 10, 20), "刷一条")
        flood = ViolationRow(message_id=m.id, msgid=m.msgid, chat_id=m.chat_id, sender="liuyang", rule="frequency",
                          detail="11 messages within 60 minutes (limit 10)", action="warn_member",
                          occurred_at=m.sent_at, facts={"sent": "10:20", "weekday": 2, "limit": 10,
                                                        "window_minutes": 60})
        old = _message(s, "hs-2", "wr-sales-east", "zhangwei", sh(2026, 2, 10, 21, 40), "旧消息")
        backfilled = ViolationRow(message_id=old.id, msgid=old.msgid, chat_id=old.chat_id, sender="zhangwei",
                               rule="posting_window", detail="sent 21:40 outside 09:00-11:00, 14:00-17:00 on a workday",
                               action="warn_member", occurred_at=old.sent_at, backfilled=True,
                               facts={"sent": "21:40", "weekday": 1, "windows": ["09:00-11:00", "14:00-17:00"]})
        s.add_all([flood, backfilled])
        east = DealRow(msgid="hs-d1", chat_id="wr-sales-east", sender="liuyang", sent_at=sh(2026, 3, 4, 10, 30),
                    amount_yuan=None, company="华星科技")
        south = DealRow(msgid="hs-d2", chat_id="wr-sales-south", sender="chenjing", sent_at=sh(2026, 3, 4, 10, 30),
                     amount_yuan=None, company="南方贸易")
        s.add_all([east, south])
        s.flush()
        s.commit()
        return {"flood": flood.id, "backfilled": backfilled.id, "deal_east": east.id, "deal_south": south.id}


@pytest.mark.parametrize(
    ("violation", "reason"),
    [
        ("flood", "60 分钟内在本群发了超过 10 条消息"),
        ("backfilled", "周二 21:40 发送，不在工作日发帖时段（09:00-11:00、14:00-17:00）内"),
    ],
)
def test_list_detail_api_and_csv_give_the_reason_in_chinese_with_one_rule_name(
    as_user, extra, violation: str, reason: str
) -> None:
    c, token = as_user("lisi")
    vid = extra[violation]
    listing = c.get("/dashboard/violations").text
    detail = c.get(f"/dashboard/violations/{vid}").text
    [api] = [v for v in c.get("/dashboard/api/violations").json() if v["id"] == vid]
    export = c.post("/dashboard/exports", data={"kind": "violations", "format": "csv", "since": "2026-01-01",
                                                "csrf_token": token})
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    [row] = [r for r in rows if r["编号"] == str(vid)]

    for surface in (listing, detail, api["detail"], row["说明"]):
        assert reason in surface
        assert not any(word in surface for word in ENGLISH)
    name = {"flood": "发帖频率", "backfilled": "发帖时段"}[violation]  # as the alerts say it
    assert (api["rule_name"], row["规则"]) == (name, name) and name in detail


def test_history_imports_are_marked_backfilled(as_user, extra) -> None:
    c, _ = as_user("lisi")
    assert "补录" in c.get(f"/dashboard/violations/{extra['backfilled']}").text
    assert "补录" not in c.get(f"/dashboard/violations/{extra['flood']}").text
    [api] = [v for v in c.get("/dashboard/api/violations").json() if v["id"] == extra["backfilled"]]
    assert api["backfilled"] is True


def test_people_known_only_to_the_directory_are_shown_by_name(as_user, extra) -> None:
    c, _ = as_user("lisi")
    listing = c.get("/dashboard/violations").text
    assert "刘洋（liuyang）" in listing and ">liuyang<" not in listing
    assert "刘洋（liuyang）" in c.get(f"/dashboard/violations/{extra['flood']}").text
    [api] = [v for v in c.get("/dashboard/api/violations").json() if v["id"] == extra["flood"]]
    assert api["sender_name"] == "刘洋"


@pytest.mark.parametrize(
    ("user", "deal", "amount", "status", "stored"),
    [
        ("lisi", "deal_east", "35,000", 303, 35_000),
        ("lisi", "deal_east", "￥35000", 303, 35_000),
        ("lisi", "deal_east", "0", 400, None),
        ("lisi", "deal_east", "三万五", 400, None),
        ("lisi", "deal_south", "35000", 404, None),  # another manager's group: as if it did not exist
        ("boss", "deal_south", "8000", 303, 8_000),
    ],
)
def test_a_manager_sets_an_unread_amount_in_their_own_groups_and_it_is_audited(
    as_user, extra, engine: Engine, user: str, deal: str, amount: str, status: int, stored: int | None
) -> None:
    c, token = as_user(user)
    page = c.get("/dashboard/deals").text
    assert "金额待确认" in page and "¥0" not in page
    response = c.post(f"/dashboard/deals/{extra[deal]}/amount", data={"amount": amount, "csrf_token": token},
                      follow_redirects=False)
    assert response.status_code == status
    with make_session_factory(engine)() as s:
        assert s.get(DealRow, extra[deal]).amount_yuan == stored
        audits = s.scalars(select(AuditLogRow).where(AuditLogRow.action == "deal_amount")).all()
        assert [(a.actor, a.target, a.detail["from"], a.detail["to"]) for a in audits] == (
            [(user, f"deal:{extra[deal]}", None, stored)] if stored else []
        )
