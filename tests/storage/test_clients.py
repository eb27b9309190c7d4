"""storage.clients on SQLite and PostgreSQL: the mini-CRM built from follow-up reports."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from rules.model import ClientUpdate
from storage import clients
from storage.db import make_session_factory
from storage.models import ClientRow
from tests.conftest import sh

T = sh(2026, 3, 2, 9, 30)


def report(
    name="王总", company="华星科技", *, need="仓储系统改造", action="下周三上门演示", due=date(2026, 3, 11), **kw
):
    return ClientUpdate(
        client_name=name,
        company=company,
        contact=kw.get("contact", "138****5678"),
        need=need,
        last_contact_at=kw.get("last", date(2026, 3, 1)),
        next_action=action,
        next_action_due=due,
        missing=kw.get("missing", ()),
    )


def save(session, msgid, update, at=T, *, sender="zhangwei", chat="wr-sales-east"):
    return clients.save_update(session, update=update, msgid=msgid, chat_id=chat, sender=sender, sent_at=at)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("王总", "华星科技"), ("王总", "华星科技有限公司"), True),
        (("王总", "华星科技"), (" 王总 ", "华星科技（集团）股份有限公司"), True),
        (("王总", "华星科技"), ("王总", "华星 科技"), True),
        (("Wang", "Huaxing Tech Co."), ("wang", "HUAXING TECH CO"), True),
        (("王总", "华星科技"), ("王总", "华星科技集团"), True),
        (("王总", "华星科技"), ("李总", "华星科技"), False),
        (("王总", "华星科技"), ("王总", "星河物流"), False),
        (("王总", "ＡＢＣ公司"), ("王总", "abc"), True),
    ],
    ids=[
        "legal-suffix",
        "bracketed-group",
        "inner-space",
        "latin-case",
        "group",
        "other-person",
        "other-company",
        "full-width",
    ],
)
def test_client_key_matches_how_reps_write_the_same_client(a, b, same):
    assert (clients.client_key(*a) == clients.client_key(*b)) is same


def test_a_report_that_names_no_one_has_no_client(session):
    update, client = save(session, "m-1", report(name=None, company=None, missing=("client_name", "company")))
    session.commit()

    assert client is None and update.client_id is None
    assert session.scalar(select(func.count()).select_from(ClientRow)) == 0


@pytest.mark.parametrize(
    ("second_at", "expected"),
    [
        (T + timedelta(days=2), ("本周五签合同", date(2026, 3, 6), "lisi", "wr-sales-east", T + timedelta(days=2))),
        (T - timedelta(days=2), ("下周三上门演示", date(2026, 3, 11), "zhangwei", "wr-sales-east", T)),
    ],
    ids=["newer-report-moves-the-next-step", "older-report-arriving-late-does-not"],
)
def test_reports_fold_into_one_client_keeping_the_newest_next_step(session, second_at, expected):
    save(session, "m-1", report())
    later = report(company="华星科技有限公司", action="本周五签合同", due=date(2026, 3, 6), contact=None)
    save(session, "m-2", later, second_at, sender="lisi", chat="wr-sales-east")
    session.commit()

    client = session.scalars(select(ClientRow)).one()
    assert (client.next_action, client.next_action_due, client.owner, client.chat_id, client.last_update_at) == expected
    assert client.contact_masked == "138****5678"  # a report without contact keeps the known one
    assert [u.msgid for u in clients.timeline(session, client_id=client.id)] == (
        ["m-2", "m-1"] if second_at > T else ["m-1", "m-2"]
    )


def test_a_client_reported_in_two_groups_is_one_record_per_group_and_nothing_moves(session):
    """Issue 11 item 3: a report in another group used to move the client there, with every update."""
    save(session, "m-1", report(need="预算200万"), chat="wr-sales-east")
    save(session, "m-2", report(company="华星科技有限公司", need="只要报价", action="发报价单", contact=None),
         T + timedelta(days=2), sender="chenjing", chat="wr-sales-south")
    save(session, "m-3", report(need=None, action="再约一次"), T + timedelta(days=3), chat="wr-sales-east")
    session.commit()

    records = {c.chat_id: c for c in session.scalars(select(ClientRow))}
    assert sorted(records) == ["wr-sales-east", "wr-sales-south"]
    east, south = records["wr-sales-east"], records["wr-sales-south"]
    assert (east.need, east.next_action, east.owner, east.contact_masked) == ("预算200万", "再约一次", "zhangwei",
                                                                             "138****5678")
    assert (south.need, south.next_action, south.owner, south.contact_masked) == ("只要报价", "发报价单", "chenjing",
                                                                              None)
    assert [u.msgid for u in clients.timeline(session, client_id=east.id)] == ["m-3", "m-1"]
    assert [u.msgid for u in clients.timeline(session, client_id=south.id)] == ["m-2"]


def test_two_sessions_meeting_a_new_client_make_one_row(engine):
    sessions = make_session_factory(engine)
    with sessions() as first, sessions() as second:
        save(first, "m-1", report())
        first.commit()
        save(second, "m-2", report(company="华星科技有限公司"), T + timedelta(hours=1))
        second.commit()
        assert second.scalar(select(func.count()).select_from(ClientRow)) == 1


@pytest.fixture
def book(session):
    """Four clients: grades A/B/C, owners zhangwei and lisi, last updates days apart."""
    now = sh(2026, 3, 20, 10, 0)
    specs = [
        ("王总", "华星科技", "A", "zhangwei", 4, date(2026, 3, 19)),
        ("李经理", "星河物流", "B", "zhangwei", 6, date(2026, 3, 20)),
        ("赵总", "蓝海贸易", "C", "lisi", 15, date(2026, 3, 25)),
        ("钱总", "100%_纯净水", "B", "lisi", 8, None),
    ]
    rows = {}
    for n, (name, company, grade, owner, days_ago, due) in enumerate(specs):
        _, client = save(
            session, f"m-{n}", report(name, company, due=due), now - timedelta(days=days_ago), sender=owner
        )
        clients.set_grade(session, client_id=client.id, grade=grade)
        rows[name] = client
    session.commit()
    return now, rows


def test_stale_clients_by_grade_are_grouped_by_owner(session, book):
    now, _ = book

    stale = clients.stale_clients(session, days_by_grade={"A": 3, "B": 7, "C": 14}, now=now)

    assert [(c.owner, c.name) for c in stale] == [("lisi", "赵总"), ("lisi", "钱总"), ("zhangwei", "王总")]


@pytest.mark.parametrize(
    ("on_or_before", "owner", "expected"),
    [
        (date(2026, 3, 20), None, ["王总", "李经理"]),
        (date(2026, 3, 31), None, ["赵总", "王总", "李经理"]),
        (date(2026, 3, 31), "lisi", ["赵总"]),
        (date(2026, 3, 18), None, []),
    ],
)
def test_due_follow_ups_by_owner(session, book, on_or_before, owner, expected):
    got = clients.due_follow_ups(session, on_or_before=on_or_before, owner=owner)

    assert [c.name for c in got] == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("华星", ["王总"]),
        ("总", ["王总", "赵总", "钱总"]),
        ("100%", ["钱总"]),
        ("%", ["钱总"]),
        ("_纯", ["钱总"]),
        ("无此客户", []),
    ],
    ids=["company", "name", "percent-literal", "bare-percent", "underscore-literal", "none"],
)
def test_search_by_name_or_company(session, book, query, expected):
    assert sorted(c.name for c in clients.search(session, query=query)) == sorted(expected)


def test_set_grade_refuses_unknown_grades(session, book):
    _, rows = book
    with pytest.raises(ValueError, match="grade must be A, B or C"):
        clients.set_grade(session, client_id=rows["王总"].id, grade="S")
