"""Exports: documented columns per layout, CSV with BOM, XLSX that openpyxl opens, masking, audit."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from handlers.exports import ExportError, build_export, columns_for, mask_name, to_csv, to_xlsx
from storage.models import AuditLogRow, ClientRow, ClientUpdateRow
from tests.bot.web.conftest import NOW, seed_data
from tests.conftest import sh

SINCE = sh(2026, 3, 1)

DOCUMENTED = {
    ("clients", "standard"): ("客户ID", "客户姓名", "公司名称", "联系方式（脱敏）", "客户等级", "负责人", "所属群",
                              "需求描述", "下一步行动计划", "下一步日期", "最近跟进时间"),
    ("clients", "fxiaoke"): ("客户名称", "客户级别", "联系人姓名", "电话", "负责人", "来源", "下次跟进时间", "备注"),
    ("clients", "zoho"): ("Last Name", "Company", "Phone", "Lead Source", "Lead Status", "Grade", "Description",
                          "Next Action", "Next Action Due", "WeCom Owner"),
    ("updates", "standard"): ("时间", "群", "成员", "客户姓名", "公司名称", "联系方式（脱敏）", "需求描述",
                              "上次沟通时间", "下一步行动计划", "下一步日期", "模板完整"),
    ("violations", "standard"): ("编号", "时间", "群", "成员", "规则", "说明", "敏感类型", "缺失字段", "处理动作",
                                 "状态", "处理备注", "处理人", "证据（前后消息，已脱敏）"),
}


def _export(session, config, **kw):
    args = {"kind": "clients", "fmt": "xlsx", "since": SINCE, "scope": None, "actor": "boss", "now": NOW} | kw
    return build_export(session, config=config, **args)


@pytest.mark.parametrize(("kind", "layout"), sorted(DOCUMENTED))
def test_xlsx_opens_with_documented_columns(session, config, kind, layout):
    seed_data(session)
    result = _export(session, config, kind=kind, layout=layout)
    sheet = load_workbook(io.BytesIO(result.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == DOCUMENTED[(kind, layout)] == columns_for(kind, layout)
    assert len(rows) - 1 == result.rows > 0


@pytest.mark.parametrize(("kind", "rows"), [("clients", 2), ("updates", 3), ("violations", 3)])
def test_csv_is_utf8_with_bom(session, config, kind, rows):
    seed_data(session)
    result = _export(session, config, kind=kind, fmt="csv")
    assert result.content.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(result.content.decode("utf-8-sig"))))
    assert tuple(parsed[0]) == DOCUMENTED[(kind, "standard")]
    assert len(parsed) - 1 == rows == result.rows


@pytest.mark.parametrize(("full", "name_cell"), [(False, "王**"), (True, "王建国")])
def test_customer_names_masked_unless_full(session, config, full, name_cell):
    seed_data(session)
    result = _export(session, config, fmt="csv", full=full, scope={"wr-sales-east"})
    row = dict(zip(*list(csv.reader(io.StringIO(result.content.decode("utf-8-sig")))), strict=True))
    assert row["客户姓名"] == name_cell
    assert row["联系方式（脱敏）"] == "138****5678"
    assert row["负责人"] == "张伟"


def test_fxiaoke_maps_grades_to_levels(session, config):
    seed_data(session)
    sheet = load_workbook(io.BytesIO(_export(session, config, layout="fxiaoke").content)).active
    levels = {r[0]: r[1] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert levels == {"华星科技": "重要客户", "南方贸易": "非优先客户"}


def test_every_export_is_audited(session, config):
    seed_data(session)
    _export(session, config, kind="violations", fmt="csv", scope={"wr-sales-east"}, actor="lisi")
    session.flush()
    row = session.scalar(select(AuditLogRow).where(AuditLogRow.action == "export"))
    assert (row.actor, row.target) == ("lisi", "violations")
    assert row.detail == {"format": "csv", "layout": "standard", "since": SINCE.isoformat(), "rows": 2,
                          "values": "masked", "scope": ["wr-sales-east"]}


@pytest.mark.parametrize(("kw", "reason"), [
    ({"kind": "deals"}, "kind: must be one of"),
    ({"fmt": "pdf"}, "format: must be csv or xlsx"),
    ({"kind": "violations", "layout": "zoho"}, "layout: violations exports come in standard"),
])
def test_bad_requests_name_the_field(session, config, kw, reason):
    with pytest.raises(ExportError, match=reason):
        _export(session, config, **kw)


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
    ("+86 138", "'+86 138"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\x01=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),  # a control character cannot hide a formula
    ("周五上门演示", "周五上门演示"),
])
def test_formula_injection_is_defused(value, cell):
    parsed = list(csv.reader(io.StringIO(to_csv(["a"], [(value,)]).decode("utf-8-sig"))))
    assert parsed[1] == [cell]
    sheet = load_workbook(io.BytesIO(to_xlsx(["a"], [(value,)], "t"))).active
    assert sheet["A2"].value == cell and sheet["A2"].data_type == "s"


@pytest.mark.parametrize("kind", ["clients", "updates"])
def test_a_control_character_in_a_stored_name_does_not_break_exports(session, config, kind, caplog):
    """Issue 11 item 6: rows stored before normalize stripped controls (or via replay) still export."""
    seed_data(session)
    for row in session.scalars(select(ClientRow)):
        row.name, row.company = f"{row.name}\x0b", f"\x1b{row.company}\x00"
    for row in session.scalars(select(ClientUpdateRow)):
        row.client_name, row.need = f"{row.client_name}\x0b", "需求\x07描述"
    session.flush()
    result = _export(session, config, kind=kind, full=True)
    rows = list(load_workbook(io.BytesIO(result.content)).active.iter_rows(min_row=2, values_only=True))
    names = sorted(str(r[1] if kind == "clients" else r[3]) for r in rows)
    assert names == (["刘女士", "王建国"] if kind == "clients" else ["刘女士", "王建国", "王建国"])
    assert not any(ch in str(cell) for r in rows for cell in r for ch in "\x0b\x1b\x00\x07")
    assert not [r for r in caplog.records if "王建国" in r.getMessage()]


def test_an_unwritable_value_is_refused_without_quoting_it():
    with pytest.raises(ExportError) as caught:
        to_xlsx(["a"], [(object(),)], "t")  # not a value openpyxl can write
    assert str(caught.value) == "row 2: a value cannot be written to XLSX"


@pytest.mark.parametrize(("name", "masked"), [("王建国", "王**"), ("刘女士", "刘**"), ("王", "王*"), (None, ""),
                                               ("Li Lei", "L****")])
def test_mask_name(name, masked):
    assert mask_name(name) == masked
