"""storage.violations on SQLite and PostgreSQL: escalation counts, dashboard filters, handling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from rules.model import GroupMessage, Verdict, Violation
from storage import violations
from storage.messages import save_message
from storage.models import EscalationRow
from tests.conftest import sh

T = sh(2026, 3, 9, 21, 0)


def add(session, msgid, at, *, rule="posting_window", sender="zhangwei", chat="wr-sales-east", action="warn_member"):
    msg = GroupMessage(msgid=msgid, chat_id=chat, sender=sender, sent_at=at, text="收到", source="callback")
    message = save_message(session, msg=msg, verdict=Verdict(msgid, (), "收到"), hmac_key=b"k")
    detail = "21:00 发送，不在 09:00-11:00、14:00-17:00 内"
    return violations.save_violation(session, message=message, violation=Violation(rule, detail), action=action)


@pytest.fixture
def week(session):
    """zhangwei: four violations over eight days in two groups; lisi: one."""
    rows = {
        "d-8": add(session, "d-8", T - timedelta(days=8)),
        "d-6": add(session, "d-6", T - timedelta(days=6), rule="frequency"),
        "d-2": add(session, "d-2", T - timedelta(days=2), chat="wr-sales-south", rule="template"),
        "d-0": add(session, "d-0", T, rule="sensitive", action="alert_managers"),
        "lisi": add(session, "lisi", T - timedelta(days=1), sender="lisi"),
    }
    session.commit()
    return rows


@pytest.mark.parametrize(
    ("days", "void", "handled", "expected"),
    [
        (7, (), (), 3),
        (9, (), (), 4),
        (7, ("d-6",), (), 2),
        (7, (), ("d-6",), 3),
        (1, (), (), 1),
    ],
    ids=["seven-days-all-groups", "nine-days", "void-left-out", "handled-still-counts", "one-day"],
)
def test_count_recent_counts_live_violations_of_the_member_in_every_group(session, week, days, void, handled, expected):
    for name in void:
        violations.set_status(session, violation_id=week[name].id, status="void", by="lisi", now=T, note="申诉通过")
    for name in handled:
        violations.set_status(session, violation_id=week[name].id, status="handled", by="lisi", now=T, note="已提醒")
    session.commit()

    got = violations.count_recent(session, sender="zhangwei", since=T - timedelta(days=days), until=T)

    assert got == expected


def test_set_status_records_who_why_and_when(session, week):
    row = violations.set_status(
        session, violation_id=week["d-0"].id, status="handled", by="lisi", now=T, note="已电话提醒，号码已撤回"
    )
    session.commit()

    assert (row.status, row.handled_by, row.note, row.handled_at) == ("handled", "lisi", "已电话提醒，号码已撤回", T)


@pytest.mark.parametrize(
    ("violation_id", "status", "error", "match"),
    [(None, "closed", ValueError, "status must be one of"), (999_999, "void", LookupError, "violation 999999")],
    ids=["unknown-status", "unknown-violation"],
)
def test_set_status_refuses_what_it_cannot_do(session, week, violation_id, status, error, match):
    with pytest.raises(error, match=match):
        violations.set_status(session, violation_id=violation_id or week["d-0"].id, status=status, by="lisi", now=T)


def test_an_escalation_points_at_the_violation_that_triggered_it(session, week):
    violations.save_escalation(session, violation=week["d-0"], count=3, window_days=7)
    session.commit()

    row = session.scalars(select(EscalationRow)).one()
    assert (row.sender, row.chat_id, row.violation_id, row.count, row.window_days) == (
        "zhangwei",
        "wr-sales-east",
        week["d-0"].id,
        3,
        7,
    )
