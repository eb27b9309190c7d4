"""Violations: filters, the case workflow (open -> handled -> open), appeals and the rep's notice."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.db import make_session_factory
from storage.models import AppealRow, AuditLogRow, OutboxItemRow, ViolationRow


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"v_east", "v_east_night", "v_south"}),
    ("?group=wr-sales-east", {"v_east", "v_east_night"}),
    ("?rule=posting_window", {"v_east_night"}),
    ("?member=chenjing", {"v_south"}),
    ("?since=2026-03-04", {"v_east", "v_south"}),
    ("?until=2026-03-03", {"v_east_night"}),
    ("?since=2026-03-04&until=2026-03-04&group=wr-sales-east", {"v_east"}),
    ("?status=handled", set()),
    ("?rule=content_type", set()),  # every rule of the registry is a filter, the new one included
])
def test_filters(as_user, seeded, query, expected):
    c, _ = as_user("boss")
    wanted = {seeded[key] for key in expected}
    assert {v["id"] for v in c.get("/dashboard/api/violations" + query).json()} == wanted
    page = c.get("/dashboard/violations" + query).text
    assert {int(x) for x in re.findall(r'href="/dashboard/violations/(\d+)"', page)} == wanted


@pytest.mark.parametrize(("query", "reason"), [
    ("?since=2026-13-01", "since: expected a date"),
    ("?rule=spam", "rule: must be one of"),
    ("?status=closed", "status: must be one of"),
])
def test_bad_filters_name_the_field(as_user, query, reason):
    c, _ = as_user("boss")
    response = c.get("/dashboard/violations" + query)
    assert response.status_code == 400 and reason in response.text


def test_detail_shows_masked_message_with_context(as_user, seeded):
    c, _ = as_user("lisi")
    html = c.get(f"/dashboard/violations/{seeded['v_east']}").text
    assert "138****5678" in html
    assert html.index("大家今天把跟进报告发一下") < html.index("138****5678") < html.index("好的收到")
    assert "客户隐私" in html and "张伟（zhangwei）" in html


def test_handle_then_reopen(as_user, seeded, engine):
    c, token = as_user("lisi")
    vid = seeded["v_east"]
    r = c.post(f"/dashboard/violations/{vid}/status", data={"status": "handled", "note": "已当面提醒，消息已撤回",
                                                            "csrf_token": token})
    assert r.status_code == 200 and "已处理" in r.text and "已当面提醒" in r.text
    with make_session_factory(engine)() as s:
        v = s.get(ViolationRow, vid)
        assert (v.status, v.handled_by, v.note) == ("handled", "lisi", "已当面提醒，消息已撤回")
    r = c.post(f"/dashboard/violations/{vid}/status", data={"status": "open", "csrf_token": token})
    with make_session_factory(engine)() as s:
        v = s.get(ViolationRow, vid)
        assert (v.status, v.handled_by) == ("open", None)
        actions = list(s.scalars(select(AuditLogRow.action).where(AuditLogRow.target == f"violation:{vid}")))
    assert actions == ["violation_handled", "violation_open"]


@pytest.mark.parametrize(("data", "reason"), [
    ({"status": "handled", "note": "  "}, "note: a handled case needs a note"),
    ({"status": "void", "note": "x"}, "status: must be handled or open"),
])
def test_status_changes_are_validated(as_user, seeded, data, reason):
    c, token = as_user("lisi")
    r = c.post(f"/dashboard/violations/{seeded['v_east']}/status", data={**data, "csrf_token": token})
    assert r.status_code == 400 and reason in r.text


@pytest.mark.parametrize(("decision", "status", "violation_status", "notice"), [
    ("accept", "accepted", "void", "你的申诉已通过"),
    ("reject", "rejected", "open", "你的申诉未通过"),
])
def test_appeal_decision_tells_the_rep(as_user, seeded, engine, clock, decision, status, violation_status, notice):
    with make_session_factory(engine)() as s:
        appeal = AppealRow(violation_id=seeded["v_east"], sender="zhangwei", reason="客户主动发的号码，我已撤回",
                        created_at=clock())
        s.add(appeal)
        s.commit()
        appeal_id = appeal.id
    c, token = as_user("lisi")
    page = c.get(f"/dashboard/violations/{seeded['v_east']}").text
    assert "客户主动发的号码" in page
    r = c.post(f"/dashboard/appeals/{appeal_id}", data={"decision": decision, "note": "已核实", "csrf_token": token})
    assert r.status_code == 200
    with make_session_factory(engine)() as s:
        assert s.get(AppealRow, appeal_id).status == status
        assert s.get(ViolationRow, seeded["v_east"]).status == violation_status
        item = s.scalar(select(OutboxItemRow).where(OutboxItemRow.idempotency_key == f"appeal:{appeal_id}:{status}"))
    assert (item.channel, item.target) == ("app", "zhangwei")
    assert notice in item.payload["text"]["content"] and "已核实" in item.payload["text"]["content"]
    again = c.post(f"/dashboard/appeals/{appeal_id}", data={"decision": decision, "csrf_token": token})
    assert again.status_code == 409


def test_another_manager_cannot_decide_the_appeal(as_user, seeded, engine, clock):
    with make_session_factory(engine)() as s:
        appeal = AppealRow(violation_id=seeded["v_east"], sender="zhangwei", reason="误判", created_at=clock())
        s.add(appeal)
        s.commit()
        appeal_id = appeal.id
    c, token = as_user("zhaolei")
    response = c.post(f"/dashboard/appeals/{appeal_id}", data={"decision": "accept", "csrf_token": token})
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/dashboard/api/clients?q=%00", "/dashboard/violations?member=a%00b",
                                  "/dashboard/api/violations?member=%00"])
def test_nul_characters_are_a_clear_400(as_user, path):
    c, _ = as_user("boss")
    response = c.get(path)
    assert response.status_code == 400 and "NUL" in response.text


def test_nul_in_a_form_is_a_clear_400(as_user, seeded):
    c, token = as_user("boss")
    response = c.post(f"/dashboard/violations/{seeded['v_east']}/status",
                      data={"status": "handled", "note": "已\x00处理", "csrf_token": token})
    assert response.status_code == 400 and "note: contains a NUL character" in response.text
