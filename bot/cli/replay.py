"""`groupbot replay`: files, progress bar and totals on stderr, exit code.

The work itself is handlers.replay; this module only opens streams and talks to the terminal, so
stdout carries nothing but the JSON lines.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.cli.common import ConfigOption, config_or_exit, err, fail
from bot.config import AppConfig
from bot.errors import ConfigError
from handlers.replay import Judge, ReplaySummary, memory_judge, replay, storing_judge
from rules.engine import RuleEngine
from rules.registry import RULES

log = logging.getLogger(__name__)

#: Files at least this big get a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 1 << 20


def run_replay(config: AppConfig, source: str, output: Path | None, *, store: bool, err: Console) -> int:
    """Replay `source` ("-" for stdin) into `output` (None: stdout); returns the exit code (0 or 1)."""
    summary = ReplaySummary()
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        lines, size = stack.enter_context(_open_input(source))
        sink = stack.enter_context(_open_output(output))
        advance = stack.enter_context(_progress(size, err))
        if store:
            judge = stack.enter_context(_storing(config, summary))
        else:
            judge = memory_judge(
                RuleEngine.from_config(config.rules, config.group_rules(), on_unknown_year=_unknown_year)
            )
        replay(lines, judge, sink.write, summary=summary, progress=advance)
    _print_totals(summary, time.perf_counter() - started, err, store=store)
    return 1 if summary.errors else 0


def _unknown_year(year: int) -> None:
    log.warning("holiday calendar does not know %s; weekends only until chinesecalendar is updated", year)


@contextlib.contextmanager
def _open_input(source: str) -> Iterator[tuple[IO[bytes], int | None]]:
    if source == "-":
        yield sys.stdin.buffer, None
        return
    path = Path(source)
    with path.open("rb") as handle:
        yield handle, path.stat().st_size


@contextlib.contextmanager
def _open_output(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        # JSON lines keep Chinese as is (ensure_ascii=False): stdout must be UTF-8 whatever the locale.
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(encoding="utf-8")
        yield sys.stdout
        sys.stdout.flush()
        return
    with output.open("w", encoding="utf-8", newline="\n") as handle:
        yield handle


@contextlib.contextmanager
def _progress(size: int | None, err: Console) -> Iterator[Callable[[int], None] | None]:
    if size is None or size < PROGRESS_MIN_BYTES or not err.is_terminal:
        yield None
        return
    columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("replay", total=size)
        pending = 0

        def advance(n: int) -> None:
            # Redraw in 64 KiB steps: a call per line would cost more than the rules.
            nonlocal pending
            pending += n
            if pending >= 65536:
                bar.advance(task, pending)
                pending = 0

        yield advance


@contextlib.contextmanager
def _storing(config: AppConfig, summary: ReplaySummary) -> Iterator[Judge]:
    """A judge that stores through handle_message, on DATABASE_URL migrated to the latest schema."""
    from sqlalchemy.engine import make_url

    from bot.app import build_handler_context
    from bot.secret_key import data_dir, demo_secret_key, require_secret_key
    from bot.settings import Settings
    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade

    settings = Settings()
    if settings.secret_key is None and make_url(settings.database_url).get_backend_name() == "sqlite":
        # The demo's key of this data directory, so stored text hashes match a demo service's; a real
        # deployment (and any PostgreSQL database) must set GROUPBOT_SECRET_KEY like the service does.
        settings = settings.model_copy(update={"secret_key": demo_secret_key(data_dir(settings.database_url))})
    require_secret_key(settings)
    upgrade(settings.database_url)
    db = make_engine(settings.database_url)
    try:
        with make_session_factory(db)() as session:
            yield storing_judge(session, build_handler_context(config, settings), summary)
    finally:
        db.dispose()


def _print_totals(summary: ReplaySummary, seconds: float, err: Console, *, store: bool) -> None:
    table = Table(title="replay totals")
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_row("lines", str(summary.lines))
    table.add_row("error lines", str(summary.errors))
    for rule in RULES:
        table.add_row(f"violations: {rule}", str(summary.violations[rule]))
    table.add_row("follow-up reports", str(summary.reports))
    table.add_row("deal reports", str(summary.deals))
    if store:
        table.add_row("messages stored", str(summary.stored))
    rate = summary.lines / seconds if seconds > 0 else 0.0
    table.add_row("messages/s", f"{rate:,.0f}")
    err.print(table)


def replay_cmd(
    input_file: Annotated[str, typer.Argument(metavar="INPUT.jsonl", help="exported messages, '-' for stdin")],
    config_path: ConfigOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSON lines out (default stdout)")] = None,
    store: Annotated[bool, typer.Option("--store", help="store as the live webhook would (idempotent)")] = False,
) -> None:
    """Run the rules over exported history (shared/spec/replay.md); exit 1 if a line was bad."""
    config = config_or_exit(config_path)
    if input_file != "-" and not Path(input_file).is_file():
        raise fail(f"INPUT.jsonl: no such file: {input_file}")
    try:
        code = run_replay(config, input_file, output, store=store, err=err)
    except ConfigError as exc:  # --store without GROUPBOT_SECRET_KEY on PostgreSQL
        raise fail(str(exc)) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_cmd)
