"""The `groupbot` command line (typer). Commands stay thin: parse, call a factory or handler, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.config import load_config
from bot.errors import ConfigError

app = typer.Typer(help="groupbot: WeCom group-management bot for sales teams.", no_args_is_help=True)
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


def main() -> None:
    app(prog_name="groupbot")


if __name__ == "__main__":
    sys.exit(main())
