"""`groupbot targets show` and `groupbot jobs list|run`: the managers' levers from the command line.

Registered on the main typer app by `register(app)` in bot/cli.py, so that file stays small.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.config import load_config
from bot.errors import ConfigError

targets_app = typer.Typer(help="Targets and 达成率.", no_args_is_help=True)
jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="config.yaml to use (default: the repository's).")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(message, highlight=False, markup=False)
    return typer.Exit(code)


def _config(path: Path | None):
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _sessions():
    from bot.settings import Settings
    from storage.db import make_engine, make_session_factory

    engine = make_engine(Settings().database_url)
    return engine, make_session_factory(engine)


@targets_app.command("show")
def targets_show(
    month: Annotated[str | None, typer.Option(help="A month, e.g. 2026-11.")] = None,
    quarter: Annotated[str | None, typer.Option(help="A quarter, e.g. 2026-Q4.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Every target in force for the period and its 达成率 (the whole period, or so far)."""
    from handlers import targets

    config = _config(config_path)
    if (month is None) == (quarter is None):
        raise _fail("give one of --month 2026-11 or --quarter 2026-Q4")
    try:
        period = targets.parse_period(month or quarter or "")
    except ValueError as exc:
        raise _fail(f"--{'month' if month else 'quarter'}: {exc}") from None
    if (month is not None) != (period.kind == "month"):
        raise _fail(f"--{'month' if month else 'quarter'}: {period.label} is a {period.kind}")
    engine, sessions = _sessions()
    try:
        with sessions() as session:
            rows = targets.progress(session, config, period=period, until=datetime.now(UTC))
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


def register(app: typer.Typer) -> None:
    app.add_typer(targets_app, name="targets")
    app.add_typer(jobs_app, name="jobs")


def local_now(config) -> datetime:
    return datetime.now(ZoneInfo(config.schedules.timezone))
