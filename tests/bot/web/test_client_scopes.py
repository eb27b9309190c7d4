"""Client records stay in the scope that reported them (issue 11 item 3).

The same client (王总, 华星科技) is reported in 华东 (managed by lisi) and, later, in 华南 (managed by
zhaolei). Each manager sees, edits and exports only their own group's record and updates; the admin
sees both; the later report moves nothing.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import Engine, select

from rules.model import ClientUpdate
from storage.clients import save_update
from storage.db import make_session_factory
from storage.models import ClientRow
from tests.conftest import sh

EAST_ONLY = "预算200万"
SOUTH_ONLY = "只要报价"


def parsed(need: str, action: str, contact: str | None) -> ClientUpdate:
    return ClientUpdate(client_name="王总", company="华星科技有限公司", contact=contact, need=need,
                  last_contact_at=date(2026, 3, 1), next_action=action, next_action_due=date(2026, 3, 9), missing=())


@pytest.fixture
def reported(engine: Engine, seeded) -> dict[str, int]:
    """华东 reports the client first; 华南 reports it a day later (the report that used to move it)."""
    with make_session_factory(engine)() as s:
        save_update(s, update=parsed(EAST_ONLY, "周五上门演示", "139****0001"), msgid="r-east",
                    chat_id="wr-sales-east", sender="zhangwei", sent_at=sh(2026, 3, 2, 10, 0))
        save_update(s, update=parsed(SOUTH_ONLY, "寄样品到华南", None), msgid="r-south",
                    chat_id="wr-sales-south", sender="chenjing", sent_at=sh(2026, 3, 3, 10, 0))
        s.commit()
        ids = {c.chat_id: c.id for c in s.scalars(select(ClientRow).where(ClientRow.name == "王总"))}
    assert sorted(ids) == ["wr-sales-east", "wr-sales-south"], "one record per group, the later report moves none"
    return {"east": ids["wr-sales-east"], "south": ids["wr-sales-south"]}


@pytest.mark.parametrize(("user", "sees", "never"), [
    ("lisi", [EAST_ONLY, "周五上门演示", "139****0001"], [SOUTH_ONLY, "寄样品到华南"]),
    ("zhaolei", [SOUTH_ONLY, "寄样品到华南"], [EAST_ONLY, "周五上门演示", "139****0001"]),
])
def test_each_manager_sees_only_their_groups_record_on_every_page_api_and_export(as_user, reported, user, sees, never):
    c, token = as_user(user)
    own = reported["east" if user == "lisi" else "south"]
    other = reported["south" if user == "lisi" else "east"]
    listed = c.get("/dashboard/api/clients?q=王总").json()
    assert [x["id"] for x in listed] == [own]
    assert c.get(f"/dashboard/clients/{other}").status_code == 404
    texts = {
        "list": c.get("/dashboard/clients?q=王总").text,
        "detail": c.get(f"/dashboard/clients/{own}").text,
        "api": str(listed),
    }
    for kind in ("clients", "updates"):
        answer = c.post("/dashboard/exports", data={"kind": kind, "format": "csv", "since": "2026-03-01",
                                                    "csrf_token": token})
        assert answer.status_code == 200
        texts[kind] = "\n".join(",".join(r) for r in csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    for where, text in texts.items():
        assert [w for w in never if w in text] == [], where
    for where in ("detail", "updates"):
        assert [w for w in sees if w not in texts[where]] == [], where


def test_a_manager_cannot_edit_the_other_scopes_record_and_their_edit_moves_nothing(as_user, reported, engine):
    c, token = as_user("zhaolei")
    assert c.post(f"/dashboard/clients/{reported['east']}", data={"grade": "C", "next_action": "抢过来",
                                                                  "csrf_token": token}).status_code == 404
    edited = c.post(f"/dashboard/clients/{reported['south']}", data={"grade": "A", "next_action": "下周报价",
                                                                     "csrf_token": token}, follow_redirects=False)
    assert edited.status_code == 303
    with make_session_factory(engine)() as s:
        east, south = s.get(ClientRow, reported["east"]), s.get(ClientRow, reported["south"])
        assert (east.chat_id, east.grade, east.next_action, east.need) == ("wr-sales-east", "B", "周五上门演示",
                                                                           EAST_ONLY)
        assert (south.chat_id, south.grade, south.next_action) == ("wr-sales-south", "A", "下周报价")


def test_the_admin_sees_both_records_each_with_its_own_updates(as_user, reported):
    c, _ = as_user("boss")
    listed = {x["chat_id"]: x["id"] for x in c.get("/dashboard/api/clients?q=王总").json()}
    assert listed == {"wr-sales-east": reported["east"], "wr-sales-south": reported["south"]}
    east, south = (c.get(f"/dashboard/clients/{reported[k]}").text for k in ("east", "south"))
    assert EAST_ONLY in east and SOUTH_ONLY not in east and "华东销售群" in east
    assert SOUTH_ONLY in south and EAST_ONLY not in south and "华南销售群" in south
