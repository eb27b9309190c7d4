"""The `groupbot` command line (typer). Commands stay thin: parse, call a factory or handler, print.

One module per command group, each with a `register(app)`; what they share (`ConfigOption`, loading
config or exiting 2, the consoles, the database) lives in `bot.cli.common`.
"""

from __future__ import annotations

import typer

from bot.cli import dashboard, leaderboard, maintenance, manage, outbox, replay, run, simulate

app = typer.Typer(help="groupbot: WeCom group-management bot for sales teams.", no_args_is_help=True)
for _group in (maintenance, leaderboard, replay, run, dashboard, simulate, outbox, manage):
    _group.register(app)


def main() -> None:
    app(prog_name="groupbot")
