"""What every `groupbot` command shares: the consoles, the `--config` option, loading config or exiting.

One place, so that every command names a bad config key the same way (exit 2) and reads its database
the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot.config import AppConfig, load_config
from bot.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

err = Console(stderr=True)
out = Console()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="config.yaml to use (default: the repository's).")
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` on stderr as is (no rich markup: config keys look like `[tags]`); the exit to raise."""
    err.print(message, style="red", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(code)


def config_or_exit(path: Path | None) -> AppConfig:
    """Load config or exit 2 with every problem named by key path."""
    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def database() -> tuple[Engine, sessionmaker[Session]]:
    """The engine and session factory for DATABASE_URL (the caller disposes of the engine when done)."""
    from bot.settings import Settings
    from storage.db import make_engine, make_session_factory

    engine = make_engine(Settings().database_url)
    return engine, make_session_factory(engine)
