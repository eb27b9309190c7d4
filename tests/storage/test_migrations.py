"""The Alembic history builds exactly the models' schema, on SQLite and on PostgreSQL.

This is the test that fails when someone changes storage/models.py without a migration: regenerate
the revision as docs/architecture.md ("Database migrations") says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from storage.db import make_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.models import Base
from tests.conftest import pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with pg_database("groupbot_m_") as url:
        yield url


def schema_diffs(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_upgrade_head_gives_exactly_the_models_schema(empty_url):
    upgrade(empty_url)

    assert schema_diffs(empty_url) == []
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables)


def test_the_history_downgrades_to_nothing_and_up_again(empty_url):
    upgrade(empty_url)

    command.downgrade(alembic_config(empty_url), "base")
    engine = make_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_url)
    assert schema_diffs(empty_url) == []


def test_upgrading_twice_is_a_no_op(empty_url):
    upgrade(empty_url)

    upgrade(empty_url)

    assert schema_diffs(empty_url) == []


def test_the_history_has_one_head():
    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1


def test_upgrading_splits_clients_merged_across_groups(empty_url):
    """Issue 11 item 3: a client merged across two groups becomes one record per group, each with its
    own updates and deals; the record's current group keeps its grade and next step."""
    command.upgrade(alembic_config(empty_url), "0001")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO clients (id, key, name, company, contact_masked, grade, owner, chat_id, need, next_action,"
                " created_at, last_update_at) VALUES (7, '王总|华星科技', '王总', '华星科技', '138****5678', 'A',"
                " 'chenjing', 'wr-sales-south', '预算200万', '经理改过的下一步', :t, :t2)"
            ), {"t": "2026-03-01 01:00:00.000000", "t2": "2026-03-03 01:00:00.000000"})
            for msgid, chat, sender, need, contact, at in [
                ("u-1", "wr-sales-east", "zhangwei", "预算200万", "138****5678", "2026-03-02 01:00:00.000000"),
                ("u-2", "wr-sales-south", "chenjing", None, None, "2026-03-03 01:00:00.000000"),
            ]:
                conn.execute(text(
                    "INSERT INTO client_updates (msgid, client_id, chat_id, sender, sent_at, client_name, company,"
                    " contact, need, next_action, complete) VALUES (:m, 7, :c, :s, :at, '王总', '华星科技', :contact,"
                    " :need, '下周拜访', true)"
                ), {"m": msgid, "c": chat, "s": sender, "at": at, "need": need, "contact": contact})
            conn.execute(text(
                "INSERT INTO deals (msgid, client_id, chat_id, sender, sent_at, client_name, company, amount_yuan)"
                " VALUES ('d-1', 7, 'wr-sales-east', 'zhangwei', '2026-03-02 02:00:00.000000', '王总', '华星科技', 10)"
            ))
        upgrade(empty_url)
        with engine.connect() as conn:
            records = {r.chat_id: r for r in conn.execute(text("SELECT * FROM clients ORDER BY id"))}
            linked = dict(conn.execute(text("SELECT msgid, client_id FROM client_updates")).all())
            deal = conn.execute(text("SELECT client_id FROM deals")).scalar_one()
    finally:
        engine.dispose()
    south, east = records["wr-sales-south"], records["wr-sales-east"]
    assert (south.id, south.grade, south.next_action, south.need, south.contact_masked) == (
        7, "A", "经理改过的下一步", None, None)  # what it knew from the east group's report is gone
    assert (east.owner, east.need, east.contact_masked, east.next_action) == (
        "zhangwei", "预算200万", "138****5678", "下周拜访")
    assert linked == {"u-1": east.id, "u-2": 7} and deal == east.id


def test_upgrading_keeps_every_row_that_points_at_a_rebuilt_table(empty_url):
    """SQLite rebuilds a table to change a column; with foreign keys on, dropping the old copy would
    cascade and silently delete every appeal of every violation. Migrations run with them off."""
    command.upgrade(alembic_config(empty_url), "0001")
    engine = make_engine(empty_url)
    t = "2026-03-02 01:00:00.000000"
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO messages (id, msgid, chat_id, sender, sent_at, msgtype, source, masked_text, text_hmac,"
                " is_report, created_at) VALUES (1, 'm-1', 'wr-sales-east', 'zhangwei', :t, 'text', 'archive',"
                " '王总手机138****5678', 'h', false, :t)"), {"t": t})
            conn.execute(text(
                "INSERT INTO violations (id, message_id, msgid, chat_id, sender, rule, detail, kinds, missing, action,"
                " occurred_at, status, created_at) VALUES (1, 1, 'm-1', 'wr-sales-east', 'zhangwei', 'sensitive',"
                " 'customer mobile number shared in group', '[\"mobile\"]', '[]', 'alert_managers', :t, 'open', :t)"),
                {"t": t})
            conn.execute(text(
                "INSERT INTO appeals (id, violation_id, sender, reason, status, created_at)"
                " VALUES (1, 1, 'zhangwei', '客户让我转发的', 'pending', :t)"), {"t": t})
        upgrade(empty_url)
        with engine.connect() as conn:
            appeals = conn.execute(text("SELECT violation_id, reason FROM appeals")).all()
            violations = conn.execute(text("SELECT id, rule FROM violations")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in violations] == [(1, "sensitive")]
    assert [tuple(r) for r in appeals] == [(1, "客户让我转发的")]
