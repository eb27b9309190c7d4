"""Small parsers for values typed into dashboard forms; errors name the field (HTTP 400)."""

from __future__ import annotations

from datetime import date

from fastapi import HTTPException

from bot.web.timeutil import EARLIEST, LATEST


def optional_date(value: str | None, field: str) -> date | None:
    """'' or None -> None; '2026-03-02' -> date; anything else -> 400 naming the field."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{field}: expected a date like 2026-03-02, got {value[:20]!r}") from None
    if not EARLIEST <= parsed <= LATEST:
        raise HTTPException(400, f"{field}: {parsed.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return parsed


def choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise HTTPException(400, f"{field}: must be one of {', '.join(allowed)}")
    return value
