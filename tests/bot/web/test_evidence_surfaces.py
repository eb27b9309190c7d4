"""Evidence with every violation on the violation page, in the API and in exports (issue 15 item 4).

A customer's clear mobile number goes through the real message handler in 华东销售群, with 华南
chatter interleaved; the manager sees the 5 messages before and the 5 after it, masked and in order,
on the page (where appeals are decided), in /api/violations and as one export cell, and the clear
number appears on none of them. The other group's manager sees none of it.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from bot.config import AppConfig
from handlers.context import HandlerContext
from handlers.message import handle_message
from rules.engine import RuleEngine
from rules.model import GroupMessage
from storage.db import make_session_factory
from storage.models import ViolationRow
from tests.bot.web.conftest import NOW
from tests.conftest import sh

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
CLEAR = "13812345678"
LEAK = f"王先生电话{CLEAR}，今天下午回访"
LEAK_MASKED = "王先生电话138****5678，今天下午回访"
BEFORE = ["下午开工", "华星那边怎么说", "说下周定", "报价单发我", "马上发", "张伟你再确认一下客户需求"]
AFTER = ["张伟，客户电话别发群里", "<b>好的</b> 下次注意", "报价单已发邮箱", "收到", "三点见客户", "加油"]
SOUTH_TEXT = "华南这边今天不开会"
LINE = re.compile(r"^(▶ )?\d\d:\d\d (张伟|王芳)：")


@pytest.fixture
def leak(engine: Engine, seeded, config: AppConfig) -> int:
    return judge_the_leak(engine, config)


def judge_the_leak(engine: Engine, config: AppConfig) -> int:
    """The leak and the messages around it, judged by the real handler; returns the violation's id."""
    ctx = HandlerContext(config=config, engine=RuleEngine.from_config(config.rules, config.group_rules()),
                         hmac_key=b"test-hmac-key-0123456789abcdef", clock=lambda: NOW)
    start = sh(2026, 3, 4, 14, 0)
    said = [(f"b{i}", EAST, "wangfang", t) for i, t in enumerate(BEFORE)]
    said += [("leak", EAST, "zhangwei", LEAK)]
    said += [(f"a{i}", EAST, "wangfang", t) for i, t in enumerate(AFTER)]
    with make_session_factory(engine)() as s:
        for minute, (msgid, chat, sender, text) in enumerate(said):
            at = start + timedelta(minutes=minute)
            handle_message(s, ctx, GroupMessage(msgid=msgid, chat_id=chat, sender=sender, sent_at=at, text=text,
                                                source="callback"))
            handle_message(s, ctx, GroupMessage(msgid=f"s-{msgid}", chat_id=SOUTH, sender="zhaolei", sent_at=at,
                                                text=SOUTH_TEXT, source="callback"))
        return s.scalars(select(ViolationRow.id).where(ViolationRow.msgid == "leak")).one()


EXPECTED = [*BEFORE[-5:], LEAK_MASKED, *AFTER[:5]]


def test_the_violation_page_shows_the_evidence_masked_escaped_and_in_order(as_user, leak):
    c, _ = as_user("lisi")
    page = c.get(f"/dashboard/violations/{leak}").text
    evidence = page[page.index('id="evidence"'):]

    escaped = [t.replace("<", "&lt;").replace(">", "&gt;") for t in EXPECTED]
    positions = [evidence.index(t) for t in escaped]
    assert positions == sorted(positions)
    assert BEFORE[0] not in evidence and AFTER[5] not in evidence and SOUTH_TEXT not in page
    assert "<b>好的</b>" not in page
    assert CLEAR not in page


def test_the_api_gives_each_violation_its_evidence(as_user, leak):
    c, _ = as_user("lisi")
    response = c.get("/dashboard/api/violations")
    [item] = [v for v in response.json() if v["id"] == leak]

    kept = [(e["position"], e["masked_text"]) for e in item["evidence"]]
    assert kept == list(zip(range(-5, 6), EXPECTED, strict=True))
    assert {e["sender_name"] for e in item["evidence"]} == {"张伟", "王芳"}
    assert CLEAR not in response.text


def test_csv_export_has_the_evidence_in_one_cell(as_user, leak):
    c, token = as_user("lisi")
    export = c.post("/dashboard/exports", data={"kind": "violations", "format": "csv", "since": "2026-01-01",
                                                "csrf_token": token})
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    [row] = [r for r in rows if r["编号"] == str(leak)]
    lines = row["证据（前后消息，已脱敏）"].split("\n")

    assert [LINE.sub("", line) for line in lines] == EXPECTED
    assert all(LINE.match(line) for line in lines)
    assert lines[5] == "▶ 14:06 张伟：" + LEAK_MASKED
    assert CLEAR.encode() not in export.content


def test_xlsx_export_has_the_evidence_in_one_cell(as_user, leak):
    c, token = as_user("lisi")
    export = c.post("/dashboard/exports", data={"kind": "violations", "format": "xlsx", "since": "2026-01-01",
                                                "csrf_token": token})
    sheet = load_workbook(io.BytesIO(export.content)).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    column = header.index("证据（前后消息，已脱敏）")
    [row] = [r for r in rows if r[0] == leak]

    assert [LINE.sub("", line) for line in row[column].split("\n")] == EXPECTED
    with zipfile.ZipFile(io.BytesIO(export.content)) as xlsx:
        assert not any(CLEAR.encode() in xlsx.read(name) for name in xlsx.namelist())


def test_the_other_groups_manager_sees_no_evidence(as_user, leak):
    c, token = as_user("zhaolei")
    assert c.get(f"/dashboard/violations/{leak}").status_code == 404
    api = c.get("/dashboard/api/violations").text
    export = c.post("/dashboard/exports", data={"kind": "violations", "format": "csv", "since": "2026-01-01",
                                                "csrf_token": token}).content.decode("utf-8-sig")
    for surface in (api, export):
        assert LEAK_MASKED not in surface and BEFORE[-1] not in surface
