"""`groupbot user add|hash`, `groupbot export` and `groupbot backup` against a real database."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_session_factory
from storage.login_throttle import ThrottlePolicy, record_failure, wait_seconds
from storage.migrate import upgrade
from storage.models import AuditLogRow, DashboardUserRow
from tests.bot.web.conftest import seed_data
from tests.storage.test_migrations import empty_url  # noqa: F401 (a fixture)

runner = CliRunner()


@pytest.fixture
def db_env(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


@pytest.mark.parametrize(("args", "role", "userid"), [
    (["user", "add", "lisi"], "manager", None),
    (["user", "add", "boss", "--role", "admin"], "admin", None),
    (["user", "add", "east-lead", "--userid", "lisi"], "manager", "lisi"),
])
def test_user_add(db_env, engine, args, role, userid):
    result = runner.invoke(app, [*args, "--password-stdin"], input="a-long-password-123\n")
    assert result.exit_code == 0, result.output
    with make_session_factory(engine)() as s:
        user = s.get(DashboardUserRow, args[2])
    assert (user.role, user.userid, user.source) == (role, userid, "cli")
    assert PasswordHasher().verify(user.password_hash, "a-long-password-123")


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["user", "add", "x", "--role", "owner"], "a-long-password-123\n", "--role: expected admin or manager"),
    (["user", "add", "x"], "short\n", "password: password must have at least 10 characters"),
])
def test_user_add_refuses(db_env, args, stdin, message):
    result = runner.invoke(app, [*args, "--password-stdin"], input=stdin)
    assert result.exit_code == 2 and message in result.output


def test_user_hash_prints_an_argon2_hash():
    result = runner.invoke(app, ["user", "hash", "--password-stdin"], input="a-long-password-123\n")
    assert result.exit_code == 0
    assert PasswordHasher().verify(result.output.strip(), "a-long-password-123")


@pytest.mark.parametrize(("kind", "rows"), [("clients", 2), ("updates", 3), ("violations", 3)])
def test_export_writes_csv_and_audits(db_env, engine, tmp_path, kind, rows):
    with make_session_factory(engine)() as s:
        seed_data(s)
        s.commit()
    target = tmp_path / f"{kind}.csv"
    result = runner.invoke(app, ["export", kind, "--format", "csv", "--since", "2026-03-01", "--output", str(target)])
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))) == rows + 1
    with make_session_factory(engine)() as s:
        audit = s.scalar(select(AuditLogRow).where(AuditLogRow.action == "export"))
    assert audit.actor.startswith("cli:") and audit.detail["rows"] == rows


@pytest.mark.parametrize(("args", "message"), [
    (["export", "deals", "--since", "2026-03-01"], "kind: must be one of"),
    (["export", "clients", "--since", "3月1日"], "--since: expected a date"),
    (["export", "clients", "--since", "2026-03-01", "--format", "pdf"], "format: must be csv or xlsx"),
])
def test_export_refuses_bad_arguments(db_env, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output


def test_backup_sqlite_online(tmp_path, monkeypatch):
    from storage.db import make_engine
    from storage.models import Base

    source = tmp_path / "groupbot.db"
    engine = make_engine(f"sqlite:///{source}")
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as s:
        seed_data(s)
        s.commit()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{source}")
    target = tmp_path / "backups" / "copy.db"
    # Another connection holds the database open while the backup runs.
    with engine.connect():
        result = runner.invoke(app, ["backup", str(target)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("select count(*) from violations").fetchone() == (3,)
    again = runner.invoke(app, ["backup", str(target)])
    assert again.exit_code == 2 and "exists" in again.output
    engine.dispose()


def test_backup_on_postgres_points_to_pg_dump(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://groupbot@db.internal/groupbot")
    result = runner.invoke(app, ["backup", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "pg_dump" in result.output


def test_user_disable_ends_sessions_and_add_enables_again(db_env, engine):
    assert runner.invoke(app, ["user", "add", "lisi", "--password-stdin"], input="a-long-password-123\n").exit_code == 0
    with make_session_factory(engine)() as s:
        generation = s.get(DashboardUserRow, "lisi").session_generation
    result = runner.invoke(app, ["user", "disable", "lisi"])
    assert result.exit_code == 0, result.output
    with make_session_factory(engine)() as s:
        user = s.get(DashboardUserRow, "lisi")
        assert user.disabled and user.session_generation > generation
    assert runner.invoke(app, ["user", "add", "lisi", "--password-stdin"], input="a-new-password-456\n").exit_code == 0
    with make_session_factory(engine)() as s:
        assert not s.get(DashboardUserRow, "lisi").disabled
    missing = runner.invoke(app, ["user", "disable", "nobody"])
    assert missing.exit_code == 2 and "no account 'nobody'" in missing.output


def test_user_unlock_forgets_the_accounts_failures(db_env, engine):
    policy = ThrottlePolicy()
    now = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)
    with make_session_factory(engine)() as s:
        for address in ("203.0.113.66", "198.51.100.1"):
            for _ in range(8):
                record_failure(s, username="boss", address=address, policy=policy, now=now)
        s.commit()
        assert wait_seconds(s, username="boss", address="203.0.113.66", policy=policy, now=now) > 0
    result = runner.invoke(app, ["user", "unlock", "boss"])
    assert result.exit_code == 0 and "3 throttle record(s) cleared" in result.output
    with make_session_factory(engine)() as s:
        assert wait_seconds(s, username="boss", address="198.51.100.1", policy=policy, now=now) == 0


@pytest.mark.parametrize("args", [["user", "add", "boss", "--password-stdin"], ["user", "disable", "boss"],
                                  ["user", "unlock", "boss"]])
def test_user_commands_on_a_never_migrated_database_say_to_upgrade(empty_url, monkeypatch, args):  # noqa: F811
    monkeypatch.setenv("DATABASE_URL", empty_url)
    result = runner.invoke(app, args, input="a-long-password-123\n")
    assert result.exit_code == 2
    assert result.output.strip() == "the database has no tables yet: run `groupbot db upgrade` first"


def test_user_commands_on_an_older_schema_say_to_upgrade(empty_url, monkeypatch):  # noqa: F811
    upgrade(empty_url, "0001")
    monkeypatch.setenv("DATABASE_URL", empty_url)
    result = runner.invoke(app, ["user", "add", "boss", "--password-stdin"], input="a-long-password-123\n")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "run `groupbot db upgrade` first" in result.output
