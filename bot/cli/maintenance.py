"""`groupbot check-config` and `groupbot db upgrade`: checking what an operator is about to deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import config_or_exit, out


def check_config(file: Annotated[Path | None, typer.Argument(help="config file")] = None) -> None:
    """Validate a config file; exit 2 naming each wrong key."""
    config = config_or_exit(file)
    out.print(f"OK: {len(config.groups)} group(s), rules valid.")


def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations (DATABASE_URL, default SQLite under ./data/)."""
    from bot.settings import Settings
    from storage.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    out.print(f"database at revision {revision}")


def register(app: typer.Typer) -> None:
    app.command("check-config")(check_config)
    db_app = typer.Typer(help="Database maintenance.")
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
