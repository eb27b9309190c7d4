"""The targets page and the overview's 达成率: scoped per manager; admins set targets per period, audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.config import TargetConfig
from storage.db import make_session_factory
from storage.models import AuditLogRow, TargetRow
from tests.bot.web.conftest import login

# Seeded March 2026: zhangwei (east) two complete reports about one new client; chenjing (south)
# one incomplete report about one new client.
TARGETS = (
    TargetConfig(rep="zhangwei", complete_reports=4),
    TargetConfig(rep="chenjing", new_clients=2),
    TargetConfig(group="wr-sales-south", deal_count=3),
)


@pytest.fixture
def as_(make_app, config, seeded):
    app = make_app(config.model_copy(update={"targets": TARGETS}))

    def go(username: str) -> tuple[TestClient, str]:
        c = TestClient(app, base_url="http://testserver")
        assert login(c, username).status_code == 303
        html = c.get("/dashboard/targets").text
        token = html.split('name="csrf_token" value="')[1].split('"')[0]
        return c, token

    return go


def test_overview_shows_each_reps_progress_this_month(as_):
    c, _ = as_("boss")
    html = c.get("/dashboard/").text
    assert "3月目标达成" in html
    assert "张伟" in html and "50%" in html  # 2 of 4 complete reports
    assert "chenjing" in html  # 1 of 2 new clients
    assert '<progress max="100" value="50">' in html


def test_a_manager_sees_only_their_groups_targets(as_):
    c, _ = as_("lisi")
    for page in ("/dashboard/", "/dashboard/targets"):
        html = c.get(page).text
        assert "张伟" in html
        assert "chenjing" not in html and "华南销售群" not in html
    assert "为 2026-03 设置目标" not in c.get("/dashboard/targets").text


def test_an_admin_sets_and_clears_a_target_for_one_month_audited(as_, engine):
    c, token = as_("boss")
    form = {"csrf_token": token, "scope": "rep", "subject": "zhangwei", "period": "2026-03",
            "complete_reports": "2", "deal_amount": "100,000"}
    response = c.post("/dashboard/targets", data=form, follow_redirects=False)
    assert response.status_code == 303
    html = c.get("/dashboard/targets?period=2026-03").text
    assert "看板设置" in html and "100,000" in html
    c.post("/dashboard/targets", data={**form, "deal_amount": ""}, follow_redirects=False)
    assert "100%" in c.get("/dashboard/targets?period=2026-03").text  # 2 of 2 complete reports
    assert "看板设置" not in c.get("/dashboard/targets?period=2026-04").text  # one month only
    deleted = c.post("/dashboard/targets/delete", follow_redirects=False,
                     data={"csrf_token": token, "scope": "rep", "subject": "zhangwei", "period": "2026-03"})
    assert deleted.status_code == 303
    with make_session_factory(engine)() as s:
        assert s.scalars(select(TargetRow)).all() == []
        audits = [(a.action, a.detail) for a in s.scalars(select(AuditLogRow).where(
            AuditLogRow.target == "target:rep:zhangwei:2026-03").order_by(AuditLogRow.id))]
    assert audits == [
        ("target_set", {"before": None, "after": {"deal_amount": 100_000, "complete_reports": 2}}),
        ("target_set", {"before": {"deal_amount": 100_000, "deal_count": None, "new_clients": None,
                                   "complete_reports": 2}, "after": {"complete_reports": 2}}),
        ("target_deleted", {"before": {"deal_amount": None, "deal_count": None, "new_clients": None,
                                       "complete_reports": 2}}),
    ]


def test_managers_cannot_set_targets(as_):
    c, token = as_("lisi")
    response = c.post("/dashboard/targets", data={"csrf_token": token, "scope": "rep", "subject": "zhangwei",
                                                  "period": "2026-03", "deal_count": "3"})
    assert response.status_code == 403


@pytest.mark.parametrize(("field", "value", "words"), [
    ("deal_count", "three", "deal_count: expected a whole number"),
    ("deal_amount", "-5", "deal_amount: expected a whole number"),
    ("deal_amount", "１２", "deal_amount: expected a whole number"),
    ("scope", "team", "scope: must be rep or group"),
    ("period", "2026-13", "period: month must be 01 to 12"),
    ("subject", "  ", "subject: a userid or chat_id"),
])
def test_bad_target_input_is_refused_naming_the_field(as_, field, value, words):
    c, token = as_("boss")
    form = {"csrf_token": token, "scope": "rep", "subject": "zhangwei", "period": "2026-03", "deal_count": "3"}
    response = c.post("/dashboard/targets", data={**form, field: value})
    assert response.status_code in (400, 422) and words in response.text


def test_group_targets_need_a_configured_group(as_):
    c, token = as_("boss")
    response = c.post("/dashboard/targets", data={"csrf_token": token, "scope": "group", "subject": "wr-nope",
                                                  "period": "2026-03", "deal_count": "3"})
    assert response.status_code == 400 and "no group with chat_id 'wr-nope'" in response.text


def test_a_hostile_subject_is_escaped(as_):
    c, token = as_("boss")
    c.post("/dashboard/targets", data={"csrf_token": token, "scope": "rep", "subject": "<b>x</b>",
                                       "period": "2026-03", "deal_count": "3"})
    html = c.get("/dashboard/targets?period=2026-03").text
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
