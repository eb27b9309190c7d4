"""The `groupbot` command line (typer). Commands stay thin: parse, call a factory or handler, print."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli_dashboard import register as register_dashboard_commands
from bot.cli_manage import register as register_manage_commands
from bot.config import load_config
from bot.errors import ConfigError, PortInUse, StorageUnavailable
from bot.senders.command import register as register_outbox_commands
from bot.simulator.command import register as register_simulator_command

app = typer.Typer(help="groupbot: WeCom group-management bot for sales teams.", no_args_is_help=True)
register_dashboard_commands(app)
register_simulator_command(app)
register_outbox_commands(app)
register_manage_commands(app)
db_app = typer.Typer(help="Database maintenance.")
app.add_typer(db_app, name="db")

err = Console(stderr=True)
out = Console()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="config.yaml to use (default: the repository's).")
]


def _load_or_exit(path: Path | None):
    """Load config or exit 2 with every problem named by key path."""
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None


@app.command("check-config")
def check_config(file: Annotated[Path | None, typer.Argument(help="config file")] = None) -> None:
    """Validate a config file; exit 2 naming each wrong key."""
    config = _load_or_exit(file)
    out.print(f"OK: {len(config.groups)} group(s), rules valid.")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations (DATABASE_URL, default SQLite under ./data/)."""
    from bot.settings import Settings
    from storage.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    out.print(f"database at revision {revision}")


@app.command("leaderboard")
def leaderboard_cmd(
    week: Annotated[str, typer.Option(help="ISO week to render, e.g. 2026-W47.")],
    fmt: Annotated[str, typer.Option("--format", help="json | markdown | png")] = "markdown",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout (png needs it).")] = None,
    group: Annotated[str | None, typer.Option(help="A group's chat_id; default company-wide.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Render any past week's leaderboard from the database (DATABASE_URL)."""
    import json

    from bot.settings import Settings
    from handlers import leaderboard
    from storage.db import make_engine, make_session_factory

    config = _load_or_exit(config_path)
    try:
        leaderboard.parse_week(week)
    except ValueError as exc:
        err.print(f"--week: {exc}", highlight=False)
        raise typer.Exit(2) from None
    if fmt not in ("json", "markdown", "png"):
        err.print(f"--format: expected json, markdown or png, got {fmt!r}", highlight=False)
        raise typer.Exit(2)
    if group is not None and config.group(group) is None:
        err.print(f"--group: no group with chat_id {group!r} in config", highlight=False)
        raise typer.Exit(2)
    if fmt == "png" and output is None:
        err.print("--format png needs --output FILE", highlight=False)
        raise typer.Exit(2)
    engine = make_engine(Settings().database_url)
    try:
        with make_session_factory(engine)() as session:
            board = leaderboard.build(session, config, week=week, chat_id=group)
            if fmt == "png":
                data: bytes | str = leaderboard.chart_png(board)
            elif fmt == "json":
                data = json.dumps(board.to_json(), ensure_ascii=False, indent=2)
            else:
                data = leaderboard.render_markdown(board)
    finally:
        engine.dispose()
    if output is None:
        typer.echo(data)
    elif isinstance(data, bytes):
        output.write_bytes(data)
    else:
        output.write_text(data + "\n", encoding="utf-8")


@app.command("replay")
def replay_cmd(
    input_file: Annotated[str, typer.Argument(metavar="INPUT.jsonl", help="exported messages, '-' for stdin")],
    config_path: ConfigOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSON lines out (default stdout)")] = None,
    store: Annotated[bool, typer.Option("--store", help="store as the live webhook would (idempotent)")] = False,
) -> None:
    """Run the rules over exported history (shared/spec/replay.md); exit 1 if a line was bad."""
    from bot.replay_command import run_replay

    config = _load_or_exit(config_path)
    if input_file != "-" and not Path(input_file).is_file():
        err.print(f"[red]INPUT.jsonl: no such file: {input_file}[/red]", highlight=False)
        raise typer.Exit(2)
    try:
        code = run_replay(config, input_file, output, store=store, err=err)
    except ConfigError as exc:  # --store without GROUPBOT_SECRET_KEY on PostgreSQL
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("run")
def run_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Migrate and serve; without WeCom credentials, also the simulator and demo traffic."""
    from bot.run_command import serve

    # No --config and no GROUPBOT_CONFIG: serve() picks the demo's groups in demo mode, else config.yaml.
    app_config = _load_or_exit(config) if config is not None or os.environ.get("GROUPBOT_CONFIG") else None
    try:
        # soft_wrap: a URL stays on one line whatever the terminal's width (rich wraps at 80 in a pipe).
        serve(app_config, host=host, port=port, log_level=log_level.upper(),
              say=lambda line: out.print(line, highlight=False, markup=False, soft_wrap=True))
    except PortInUse as exc:
        err.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    except StorageUnavailable as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None


def main() -> None:
    app(prog_name="groupbot")


if __name__ == "__main__":
    sys.exit(main())
