"""One clock: a single `Clock` type and `system_clock` (handlers.context); storage is given the time."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import inbox, members, outbox
from storage.models import InboxEventRow, MemberRow
from tests.conftest import sh

REPO = Path(__file__).resolve().parent.parent
T0 = sh(2026, 3, 2, 10, 0)


def _our_sources() -> list[Path]:
    return [p for pkg in ("bot", "handlers", "storage", "rules", "bench") for p in (REPO / pkg).rglob("*.py")]


def test_the_clock_is_defined_once():
    defined = sorted(
        f"{path.relative_to(REPO)}:{node.name if isinstance(node, ast.FunctionDef) else node.targets[0].id}"
        for path in _our_sources()
        for node in ast.parse(path.read_text("utf-8")).body
        if (isinstance(node, ast.FunctionDef) and node.name in ("system_clock", "_utc_now", "utcnow"))
        or (isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "Clock")
    )

    assert defined == ["handlers/context.py:Clock", "handlers/context.py:system_clock", "storage/models.py:utcnow"]


def test_no_module_spells_the_clock_type_out_again():
    spelled = [str(p.relative_to(REPO)) for p in _our_sources() if "Callable[[], datetime]" in p.read_text("utf-8")]

    assert spelled == ["handlers/context.py"]


def test_storage_stamps_the_time_it_is_given(session: Session):
    item = outbox.enqueue(session, key="k-1", channel="robot", target="east", payload={"msgtype": "text"}, now=T0)
    inbox.record_event(session, dedupe_key="e-1", source="callback", kind="message", payload={}, now=T0)
    members.note_seen(session, userid="zhangwei", now=T0)
    session.flush()

    assert (item.created_at, item.next_attempt_at) == (T0, T0)
    assert session.scalar(select(InboxEventRow.received_at)) == T0
    assert session.scalar(select(MemberRow.updated_at)) == T0
