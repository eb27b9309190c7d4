"""CSV/XLSX exports of clients, follow-up updates and violations, for managers and their CRM.

Example: `groupbot export clients --format xlsx --layout fxiaoke --since 2026-03-01` gives a sheet
纷享销客 imports as 客户 without re-mapping columns (docs/exports.md has every layout).

What "masked" and "full" mean: the database never holds a customer's clear phone number, ID or
account (only masked text and an HMAC), so no export can contain one. A default export also masks
the customer's personal name (王建国 -> 王**); a full export, for admins only, adds the clear name.
Every export writes an audit row (who, what, since when, how many rows, masked or full).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.errors import InputError
from handlers import wording
from handlers.directory import people
from storage import evidence as evidence_store
from storage.dashboard import clients_since, updates_since, violations_since
from storage.users import audit

Kind = Literal["clients", "updates", "violations"]
Format = Literal["csv", "xlsx"]
Layout = Literal["standard", "fxiaoke", "zoho"]
KINDS: tuple[str, ...] = ("clients", "updates", "violations")
FORMATS: tuple[str, ...] = ("csv", "xlsx")
LAYOUTS: tuple[str, ...] = ("standard", "fxiaoke", "zoho")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
STATUS_LABELS = {"open": "待处理", "handled": "已处理", "void": "已撤销"}
#: 纷享销客's default 客户级别 options, by our A/B/C grade.
FXIAOKE_LEVELS = {"A": "重要客户", "B": "普通客户", "C": "非优先客户"}
# A leading = + - @ makes Excel evaluate the cell as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# C0 controls but tab, newline and CR; DEL and C1 controls; lone surrogates; U+FFFE/U+FFFF.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class ExportError(InputError):
    """Raised when an export request names an unknown kind, format or layout, or is not allowed."""


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes
    rows: int
    columns: tuple[str, ...]


def mask_name(name: str | None) -> str:
    """Keep the first character of a person's name: 王建国 -> 王**, 'Li Lei' -> L***."""
    if not name:
        return ""
    return name[0] + "*" * min(max(len(name) - 1, 1), 4)


class _Fmt:
    def __init__(
        self,
        config: AppConfig,
        full: bool,
        names: dict[str, str] | None = None,
        evidence: dict[int, list[evidence_store.EvidenceLine]] | None = None,
    ) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.full = full
        self.groups = {g.chat_id: g.name for g in config.groups}
        #: Members' names from the directory (config overrides, then WeCom user/get).
        self.members = names or {}
        #: Each violating message's evidence (storage.evidence), by message id.
        self.kept = evidence or {}

    def time(self, value: datetime | None) -> str:
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if value else ""

    def day(self, value: date | None) -> str:
        return value.isoformat() if value else ""

    def person(self, name: str | None) -> str:
        return (name or "") if self.full else mask_name(name)

    def member(self, userid: str | None) -> str:
        """The member's name (CRMs match owners by name); the userid only when nobody can name them."""
        return self.members.get(userid or "") or userid or ""

    def rule(self, rule: str) -> str:
        return wording.rule_name(self.config, rule)

    def reason(self, violation: Any) -> str:
        text = wording.reason(self.config, violation)
        return f"【补录】{text}" if getattr(violation, "backfilled", False) else text

    def kinds(self, kinds: Sequence[str] | None) -> str:
        return "、".join(self.config.templates.kind_names.get(k, k) for k in kinds or ())

    def fields(self, missing: Sequence[str] | None) -> str:
        labels = {key: spec.label for key, spec in self.config.rules.template.fields.items()}
        return "、".join(labels.get(m, m) for m in missing or ())

    def group(self, chat_id: str | None) -> str:
        return self.groups.get(chat_id or "", chat_id or "")

    def evidence(self, violation: Any) -> str:
        """One cell: a line `HH:MM 姓名：masked text` per kept message, the violating one marked ▶."""
        return "\n".join(
            f"{'▶ ' if m.position == 0 else ''}{m.sent_at.astimezone(self.zone):%H:%M} {self.member(m.sender)}："
            f"{m.masked_text}"
            for m in self.kept.get(violation.message_id, [])
        )


Row = Callable[[Any, _Fmt], tuple]

# Column headers and row builders, one explicit table per (kind, layout).
LAYOUT_COLUMNS: dict[tuple[str, str], tuple[tuple[str, ...], Row]] = {
    ("clients", "standard"): (
        ("客户ID", "客户姓名", "公司名称", "联系方式（脱敏）", "客户等级", "负责人", "所属群", "需求描述",
         "下一步行动计划", "下一步日期", "最近跟进时间"),
        lambda c, f: (c.id, f.person(c.name), c.company or "", c.contact_masked or "", c.grade, f.member(c.owner),
                      f.group(c.chat_id), c.need or "", c.next_action or "", f.day(c.next_action_due),
                      f.time(c.last_update_at)),
    ),
    ("clients", "fxiaoke"): (
        ("客户名称", "客户级别", "联系人姓名", "电话", "负责人", "来源", "下次跟进时间", "备注"),
        lambda c, f: (c.company or c.name or "", FXIAOKE_LEVELS.get(c.grade, "普通客户"), f.person(c.name),
                      c.contact_masked or "", f.member(c.owner), "企业微信群", f.day(c.next_action_due),
                      "；".join(x for x in (c.need, c.next_action and f"下一步：{c.next_action}") if x)),
    ),
    ("clients", "zoho"): (
        ("Last Name", "Company", "Phone", "Lead Source", "Lead Status", "Grade", "Description",
         "Next Action", "Next Action Due", "WeCom Owner"),
        lambda c, f: (f.person(c.name) or c.company or "", c.company or "", c.contact_masked or "", "WeCom",
                      "Contacted", c.grade, c.need or "", c.next_action or "", f.day(c.next_action_due),
                      c.owner or ""),
    ),
    ("updates", "standard"): (
        ("时间", "群", "成员", "客户姓名", "公司名称", "联系方式（脱敏）", "需求描述", "上次沟通时间",
         "下一步行动计划", "下一步日期", "模板完整"),
        lambda u, f: (f.time(u.sent_at), f.group(u.chat_id), f.member(u.sender), f.person(u.client_name),
                      u.company or "", u.contact or "", u.need or "", f.day(u.last_contact_at),
                      u.next_action or "", f.day(u.next_action_due), "是" if u.complete else "否"),
    ),
    ("violations", "standard"): (
        ("编号", "时间", "群", "成员", "规则", "说明", "敏感类型", "缺失字段", "处理动作", "状态", "处理备注",
         "处理人", "证据（前后消息，已脱敏）"),
        lambda v, f: (v.id, f.time(v.occurred_at), f.group(v.chat_id), f.member(v.sender),
                      f.rule(v.rule), f.reason(v), f.kinds(v.kinds),
                      f.fields(v.missing), v.action, STATUS_LABELS.get(v.status, v.status), v.note or "",
                      v.handled_by or "", f.evidence(v)),
    ),
}


def columns_for(kind: str, layout: str = "standard") -> tuple[str, ...]:
    return LAYOUT_COLUMNS[(kind, layout)][0]


def _cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # Control characters (and lone surrogates) cannot be stored in XLSX's XML: openpyxl would refuse
    # the whole file, quoting the value. Stripped first, so "\x01=cmd" cannot smuggle a formula past the check.
    value = _UNWRITABLE.sub("", value)
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Sequence[tuple]) -> bytes:
    """UTF-8 with a BOM, CRLF line ends: what Excel needs to show Chinese correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(columns: Sequence[str], rows: Sequence[tuple], title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=2):
        try:
            ws.append([_cell(v) for v in row])
        except (ValueError, TypeError):
            # openpyxl's messages quote the value; the export error names only the row.
            raise ExportError(f"row {number}: a value cannot be written to XLSX") from None
    ws.freeze_panes = "A2"
    for index, name in enumerate(columns, start=1):
        width = max([len(str(name)) * 2] + [len(str(r[index - 1])) for r in rows[:200]] + [8])
        ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = min(width + 2, 60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_export(
    session: Session,
    *,
    config: AppConfig,
    kind: str,
    fmt: str,
    since: datetime,
    scope: Collection[str] | None,
    actor: str,
    now: datetime,
    layout: str = "standard",
    full: bool = False,
) -> ExportFile:
    """Query, lay out and serialize one export and record it in the audit log; never commits."""
    if kind not in KINDS:
        raise ExportError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    if fmt not in FORMATS:
        raise ExportError(f"format: must be csv or xlsx, got {fmt!r}")
    if (kind, layout) not in LAYOUT_COLUMNS:
        allowed = sorted(lay for k, lay in LAYOUT_COLUMNS if k == kind)
        raise ExportError(f"layout: {kind} exports come in {', '.join(allowed)}, got {layout!r}")
    query = {"clients": clients_since, "updates": updates_since, "violations": violations_since}[kind]
    records = query(session, scope=scope, since=since)
    columns, build_row = LAYOUT_COLUMNS[(kind, layout)]
    kept = (
        evidence_store.for_messages(session, message_ids=[r.message_id for r in records], scope=scope)
        if kind == "violations" else {}
    )
    userids = {getattr(r, attr) for r in records for attr in ("owner", "sender") if getattr(r, attr, None)}
    userids |= {m.sender for lines in kept.values() for m in lines}
    fmt_ = _Fmt(config, full, {u: p.name for u, p in people(session, config, userids).items()}, kept)
    rows = [build_row(record, fmt_) for record in records]
    stamp = now.astimezone(fmt_.zone).strftime("%Y%m%d-%H%M")
    suffix = "" if layout == "standard" else f"-{layout}"
    filename = f"groupbot-{kind}{suffix}-{stamp}.{fmt}"
    content = to_csv(columns, rows) if fmt == "csv" else to_xlsx(columns, rows, kind)
    audit(
        session, actor=actor, action="export", target=kind, now=now,
        detail={"format": fmt, "layout": layout, "since": since.isoformat(), "rows": len(rows),
                "values": "full" if full else "masked", "scope": sorted(scope) if scope is not None else "all"},
    )
    return ExportFile(filename, MEDIA_TYPES[fmt], content, len(rows), columns)
