"""`groupbot targets show` and `groupbot jobs list|run`: the managers' levers from the command line.

Registered on the main typer app by `register(app)` in bot/cli/__init__.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.common import ConfigOption, config_or_exit, database, fail, out
from handlers.context import system_clock

targets_app = typer.Typer(help="Targets and 达成率.", no_args_is_help=True)
jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now.", no_args_is_help=True)

@targets_app.command("show")
def targets_show(
    month: Annotated[str | None, typer.Option(help="A month, e.g. 2026-11.")] = None,
    quarter: Annotated[str | None, typer.Option(help="A quarter, e.g. 2026-Q4.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Every target in force for the period and its 达成率 (the whole period, or so far)."""
    from handlers import targets

    config = config_or_exit(config_path)
    if (month is None) == (quarter is None):
        raise fail("give one of --month 2026-11 or --quarter 2026-Q4")
    try:
        period = targets.parse_period(month or quarter or "")
    except ValueError as exc:
        raise fail(f"--{'month' if month else 'quarter'}: {exc}") from None
    if (month is not None) != (period.kind == "month"):
        raise fail(f"--{'month' if month else 'quarter'}: {period.label} is a {period.kind}")
    engine, sessions = database()
    try:
        with sessions() as session:
            rows = targets.progress(session, config, period=period, until=system_clock())
    finally:
        engine.dispose()
    if not rows:
        out.print(f"{period.label}: no targets (config.yaml targets: or the dashboard)", highlight=False)
        return
    table = Table(title=f"{period.label} 目标达成")
    for column in ("对象", "名称", "指标", "实际", "目标", "达成率", "来源"):
        table.add_column(column)
    for p in rows:
        for m in p.metrics:
            table.add_row(
                escape(f"{p.scope}:{p.subject}"), escape(p.name), m.label,
                f"{m.actual:,}", f"{m.target:,}", f"{m.ratio:.0%}", p.source,
            )
    out.print(table, highlight=False)


@jobs_app.command("list")
def jobs_list(config_path: ConfigOption = None) -> None:
    """Every job: schedule, next fire time, and the periods claimed lately."""
    from bot.scheduler import JOBS, next_fire_time, schedule_of
    from storage.job_runs import recent_runs

    config = config_or_exit(config_path)
    tz = ZoneInfo(config.schedules.timezone)
    now = datetime.now(tz)
    engine, sessions = database()
    try:
        with sessions() as session:
            runs = recent_runs(session, limit=200)
            last = {}
            for run in runs:  # newest first
                last.setdefault(run.job, run)
    finally:
        engine.dispose()
    table = Table(title=f"jobs ({tz.key})")
    for column in ("job", "enabled", "cron", "workdays only", "next run", "last claimed period"):
        table.add_column(column)
    for name in JOBS:
        schedule = schedule_of(config, name)
        fire = next_fire_time(schedule.cron, tz, now=now) if schedule.enabled else None
        run = last.get(name)
        claimed = f"{run.period} {run.status} by {run.claimed_by}" if run else "-"
        table.add_row(name, "yes" if schedule.enabled else "no", schedule.cron,
                      "yes" if schedule.workdays_only else "no",
                      f"{fire:%Y-%m-%d %H:%M}" if fire else "-", escape(claimed))
    out.print(table, highlight=False)


def parse_at(text: str | None, tz: ZoneInfo) -> datetime:
    """--at: an ISO time; without an offset it is read in the schedules' time zone."""
    if text is None:
        return datetime.now(tz)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--at: expected an ISO time like 2026-11-23T09:30 or 2026-11-23T09:30+08:00, got {text!r}") \
            from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="A job from `groupbot jobs list`.")],
    at: Annotated[str | None, typer.Option(help="Run as if fired at this ISO time (default now).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-run a period already run (audited).")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Run one job now under the scheduler's exactly-once claim; exit 1 when the period was taken."""
    import getpass

    from bot.errors import UnknownJobError
    from bot.scheduler import default_owner, run_on_demand

    config = config_or_exit(config_path)
    when = parse_at(at, ZoneInfo(config.schedules.timezone))
    engine, sessions = database()
    try:
        result = run_on_demand(name, session_factory=sessions, config=config, at=when,
                               owner=f"cli:{default_owner()}"[:64], actor=f"cli:{getpass.getuser()}", force=force)
    except UnknownJobError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    if result.outcome == "taken":
        raise fail(f"{name} {result.period}: already run (by a replica or earlier); --force re-runs it", 1)
    kind = "forced re-run" if "#rerun-" in result.period else "run"
    out.print(f"{name} {result.period}: {kind} done, {result.queued} post(s) queued", highlight=False)


announce_app = typer.Typer(help="Scheduled announcements for groups (also on the dashboard).", no_args_is_help=True)


@announce_app.command("add")
def announce_add(
    group: Annotated[list[str], typer.Option(help="A group's chat_id (repeat for several).")],
    title: Annotated[str, typer.Option(help="A short name shown on the dashboard.")],
    body: Annotated[str, typer.Option(help="The message.")],
    markdown: Annotated[bool, typer.Option("--markdown", help="Send as WeCom markdown, not text.")] = False,
    at: Annotated[str | None, typer.Option(help="Post once at this ISO time.")] = None,
    cron: Annotated[str | None, typer.Option(help="Post on this five-field cron (schedules' zone).")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Schedule an announcement (audited); it posts inside the posting windows, once per occurrence."""
    import getpass

    from handlers.announcements import AnnouncementError, validate
    from storage import announcements as store
    from storage.users import audit

    config = config_or_exit(config_path)
    run_at = parse_at(at, ZoneInfo(config.schedules.timezone)) if at else None
    try:
        values = validate(config, title=title, body=body, fmt="markdown" if markdown else "text", chat_ids=group,
                          run_at=run_at, cron=cron, allowed=None)
    except AnnouncementError as exc:
        raise fail(str(exc)) from None
    now = system_clock()
    engine, sessions = database()
    try:
        with sessions() as session:
            row = store.add(session, **values, created_by=f"cli:{getpass.getuser()}", created_at=now, updated_at=now)
            audit(session, actor=row.created_by, action="announcement_created", target=f"announcement:{row.id}",
                  detail={"title": row.title, "groups": row.chat_ids, "format": row.format,
                          "run_at": at, "cron": row.cron}, now=now)
            session.commit()
            out.print(f"announcement {row.id} scheduled", highlight=False)
    finally:
        engine.dispose()


@announce_app.command("list")
def announce_list() -> None:
    """Every announcement with its schedule and status."""
    from storage import announcements as store

    engine, sessions = database()
    try:
        with sessions() as session:
            rows = store.visible(session, scope=None)
    finally:
        engine.dispose()
    table = Table(title="announcements")
    for column in ("id", "title", "groups", "format", "schedule", "status"):
        table.add_column(column)
    for r in rows:
        when = f"cron {r.cron}" if r.cron else f"{r.run_at:%Y-%m-%d %H:%M} UTC" if r.run_at else "-"
        table.add_row(str(r.id), escape(r.title), escape(", ".join(r.chat_ids)), r.format, escape(when), r.status)
    out.print(table, highlight=False)


def _announcement_action(announcement_id: int, action: str) -> None:
    import getpass

    from storage import announcements as store
    from storage.models import AnnouncementRow
    from storage.users import audit

    now = system_clock()
    engine, sessions = database()
    try:
        with sessions() as session:
            row = session.get(AnnouncementRow, announcement_id)
            if row is None:
                raise fail(f"no announcement {announcement_id}", 1)
            if action == "deleted":
                session.delete(row)
            else:
                store.set_status(session, row, status="paused" if action == "paused" else "active", now=now)
            audit(session, actor=f"cli:{getpass.getuser()}", action=f"announcement_{action}",
                  target=f"announcement:{announcement_id}", detail={}, now=now)
            session.commit()
    finally:
        engine.dispose()
    out.print(f"announcement {announcement_id} {action}", highlight=False)


@announce_app.command("pause")
def announce_pause(announcement_id: int) -> None:
    """Stop posting an announcement until resumed."""
    _announcement_action(announcement_id, "paused")


@announce_app.command("resume")
def announce_resume(announcement_id: int) -> None:
    """Post a paused announcement again (from its next occurrence)."""
    _announcement_action(announcement_id, "resumed")


@announce_app.command("delete")
def announce_delete(announcement_id: int) -> None:
    """Delete an announcement (the audit log keeps what it was)."""
    _announcement_action(announcement_id, "deleted")


def register(app: typer.Typer) -> None:
    app.add_typer(targets_app, name="targets")
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(announce_app, name="announce")
