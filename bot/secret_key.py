"""GROUPBOT_SECRET_KEY: required and strong outside the demo, generated once per data directory in it.

The key signs dashboard sessions and keys the HMAC of stored message text, so anyone who knows it can
forge an admin session. There is no built-in default: `require_secret_key` refuses a missing, short
or placeholder key (exit 2 naming the variable, never printing the value). The demo keeps a random
key in `<data dir>/secret_key` (mode 0600) so sessions and message hashes survive a restart.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.errors import ConfigError
from bot.settings import Settings

VARIABLE = "GROUPBOT_SECRET_KEY"
MIN_LENGTH = 32
KEY_FILE = "secret_key"
#: Fragments of the keys people copy from examples and READMEs (lower case).
PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "changethis", "insecure", "placeholder", "example",
                     "your-secret", "xxxxxxxx", "00000000")
#: A key made of fewer different characters than this is not random (e.g. 'a' * 40).
MIN_DISTINCT = 10
HOW_TO = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def key_problem(raw: str) -> str | None:
    """Why `raw` is not acceptable as a secret key, or None. The message never quotes the key."""
    if len(raw) < MIN_LENGTH:
        return f"must have at least {MIN_LENGTH} characters; {HOW_TO}"
    lowered = raw.lower()
    if any(mark in lowered for mark in PLACEHOLDER_MARKS) or len(set(raw)) < MIN_DISTINCT:
        return f"is a placeholder, not a random key; {HOW_TO}"
    return None


def require_secret_key(settings: Settings) -> SecretStr:
    """The configured key, or ConfigError naming GROUPBOT_SECRET_KEY (the CLI exits 2)."""
    if settings.secret_key is None:
        raise ConfigError([(VARIABLE, f"is not set; {HOW_TO}")], source="environment")
    if problem := key_problem(settings.secret_key.get_secret_value()):
        raise ConfigError([(VARIABLE, problem)], source="environment")
    return settings.secret_key


def data_dir(database_url: str) -> Path:
    """Where the demo keeps its files: the SQLite database's directory, else ./data."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return Path("data").resolve()


def demo_secret_key(directory: Path) -> SecretStr:
    """The demo's key for this data directory: read it, or create it once (0600, never overwritten)."""
    path = directory / KEY_FILE
    directory.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two demos starting at once on one directory end up with the same key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raw = path.read_text(encoding="utf-8").strip()
        if problem := key_problem(raw):
            reason = f"demo secret key {problem.split(';')[0]}; delete the file to get a new one"
            raise ConfigError([(str(path), reason)], source="data directory") from None
        return SecretStr(raw)
    raw = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(raw + "\n")
    return SecretStr(raw)
