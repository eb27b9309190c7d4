"""`groupbot leaderboard`: any past week's leaderboard, rendered from the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import ConfigOption, config_or_exit, database, fail


def leaderboard_cmd(
    week: Annotated[str, typer.Option(help="ISO week to render, e.g. 2026-W47.")],
    fmt: Annotated[str, typer.Option("--format", help="json | markdown | png")] = "markdown",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout (png needs it).")] = None,
    group: Annotated[str | None, typer.Option(help="A group's chat_id; default company-wide.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Render any past week's leaderboard from the database (DATABASE_URL)."""
    import json

    from handlers import leaderboard

    config = config_or_exit(config_path)
    try:
        leaderboard.parse_week(week)
    except ValueError as exc:
        raise fail(f"--week: {exc}") from None
    if fmt not in ("json", "markdown", "png"):
        raise fail(f"--format: expected json, markdown or png, got {fmt!r}")
    if group is not None and config.group(group) is None:
        raise fail(f"--group: no group with chat_id {group!r} in config")
    if fmt == "png" and output is None:
        raise fail("--format png needs --output FILE")
    engine, sessions = database()
    try:
        with sessions() as session:
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


def register(app: typer.Typer) -> None:
    app.command("leaderboard")(leaderboard_cmd)
