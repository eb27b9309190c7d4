"""`groupbot user add|hash|disable|unlock`, `groupbot export` and `groupbot backup`: the dashboard's CLI side.

Registered on the main typer app by `register(app)` in bot/cli/__init__.py.
"""

from __future__ import annotations

import getpass
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.cli.common import ConfigOption, config_or_exit, database, fail, out
from handlers.context import system_clock

user_app = typer.Typer(help="Dashboard accounts.", no_args_is_help=True)

def _session():
    return database()[1]()


@contextmanager
def _account_session() -> Iterator[Session]:
    """A session for the `user` commands, or one line telling to migrate (exit 2), never a traceback."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from bot.settings import Settings
    from storage.db import make_engine, make_session_factory
    from storage.migrate import current_revision, head_revision

    engine = make_engine(Settings().database_url)
    try:
        try:
            revision = current_revision(engine)
            has_accounts = inspect(engine).has_table("dashboard_users")
        except SQLAlchemyError as exc:
            raise fail(f"database unreachable ({type(exc).__name__}); check DATABASE_URL") from None
        if revision is None and not has_accounts:
            raise fail("the database has no tables yet: run `groupbot db upgrade` first")
        if revision is not None and revision != head_revision():
            raise fail(f"the database is at revision {revision}, this groupbot needs {head_revision()}: "
                        "run `groupbot db upgrade` first")
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != first:
        raise fail("passwords differ")
    return first


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name (a manager's WeCom userid by default).")],
    role: Annotated[str, typer.Option(help="admin | manager")] = "manager",
    userid: Annotated[str | None, typer.Option(help="WeCom userid whose groups a manager sees.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a dashboard account in the database, or reset its password and role."""
    from bot.web.auth import hash_password
    from storage.users import put_user

    if role not in ("admin", "manager"):
        raise fail(f"--role: expected admin or manager, got {role!r}")
    with _account_session() as session:  # before the password prompt: an unmigrated database fails first
        try:
            hashed = hash_password(_read_password(password_stdin))
        except ValueError as exc:
            raise fail(f"password: {exc}") from None
        # A new password or role ends the account's open sessions; `add` also lifts `disable`.
        put_user(session, username=username, password_hash=hashed, role=role, userid=userid, source="cli",
                 enable=True)
        session.commit()
    out.print(f"account {username} ({role}) saved")


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Refuse the account's logins and end its open sessions (`user add` enables it again)."""
    from storage.users import disable_user

    with _account_session() as session:
        if disable_user(session, username=username) is None:
            raise fail(f"no account {username!r} in the database")
        session.commit()
    out.print(f"account {username} disabled; its sessions have ended")


@user_app.command("unlock")
def user_unlock(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Forget the account's failed logins from every address, so no delay holds it."""
    from storage.login_throttle import clear_account

    with _account_session() as session:
        cleared = clear_account(session, username)
        session.commit()
    out.print(f"account {username}: {cleared} throttle record(s) cleared")


@user_app.command("hash")
def user_hash(
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Print an argon2 hash for `dashboard.users[].password_hash` in config.yaml."""
    from bot.web.auth import hash_password

    try:
        typer.echo(hash_password(_read_password(password_stdin)))  # one unwrapped line to paste
    except ValueError as exc:
        raise fail(f"password: {exc}") from None


def export_cmd(
    kind: Annotated[str, typer.Argument(help="clients | updates | violations")],
    fmt: Annotated[str, typer.Option("--format", help="csv | xlsx")] = "xlsx",
    since: Annotated[str, typer.Option(help="First day to include, e.g. 2026-03-01 (business time zone).")] = "",
    output: Annotated[Path | None, typer.Option(help="File to write (default: a dated name here).")] = None,
    layout: Annotated[str, typer.Option(help="Client column layout: standard | fxiaoke | zoho")] = "standard",
    full: Annotated[bool, typer.Option("--full", help="Clear customer names (audited).")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Export clients, follow-up updates or violations as CSV (UTF-8 with BOM) or XLSX; audited."""
    from handlers.exports import ExportError, build_export

    config = config_or_exit(config_path)
    try:
        first = date.fromisoformat(since)
    except ValueError:
        raise fail(f"--since: expected a date like 2026-03-01, got {since!r}") from None
    start = datetime.combine(first, time.min, tzinfo=ZoneInfo(config.timezone))
    with _session() as session:
        try:
            result = build_export(session, config=config, kind=kind, fmt=fmt, since=start, scope=None,
                                  actor=f"cli:{getpass.getuser()}", now=system_clock(), layout=layout, full=full)
        except ExportError as exc:
            raise fail(str(exc)) from None
        target = output or Path(result.filename)
        target.write_bytes(result.content)
        session.commit()
    out.print(f"{result.rows} row(s) -> {target}")


def backup_cmd(
    output: Annotated[Path, typer.Argument(help="Backup file to write, e.g. backups/groupbot-2026-03-04.db")],
) -> None:
    """Copy the SQLite database while the service runs (online backup API); PostgreSQL: use pg_dump."""
    from bot.settings import Settings

    url = make_url(Settings().database_url)
    if url.get_backend_name() != "sqlite":
        raise fail(
            "backup: the database is PostgreSQL; run\n"
            "  pg_dump --format=custom --file=groupbot.dump \"$DATABASE_URL_WITHOUT_DRIVER\"\n"
            "and restore with pg_restore --clean --dbname=... groupbot.dump (see docs/operations.md)"
        )
    if not url.database or url.database == ":memory:":
        raise fail("backup: DATABASE_URL points to no SQLite file")
    source = Path(url.database)
    if not source.exists():
        raise fail(f"backup: no database file at {source}")
    if output.exists():
        raise fail(f"backup: {output} exists; choose a new file name")
    output.parent.mkdir(parents=True, exist_ok=True)
    pages = backup_sqlite(source, output)
    out.print(f"backup of {source} written to {output} ({pages} pages)")


def backup_sqlite(source: Path, target: Path) -> int:
    """sqlite3's online backup: a consistent copy even while other connections write."""
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst, pages=1024)
        return dst.execute("PRAGMA page_count").fetchone()[0]


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.command("export")(export_cmd)
    app.command("backup")(backup_cmd)
