"""WeCom access tokens in the database, so every replica uses (and refreshes) the same one.

WeCom rate-limits gettoken and may revoke a token early; sharing one row per (corp, secret)
fingerprint keeps replicas from fetching a token each, and `invalidate` only drops the token that
was actually rejected, so a replica with an old answer cannot throw away a fresh token.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from storage.models import AccessTokenRow


def valid_token(session: Session, *, key: str, now: datetime, margin: timedelta) -> str | None:
    """The cached token unless it expires within `margin` (so it cannot die in flight)."""
    row = session.get(AccessTokenRow, key)
    if row is None or row.expires_at - margin <= now:
        return None
    return row.token


def save_token(session: Session, *, key: str, token: str, expires_at: datetime) -> None:
    row = session.get(AccessTokenRow, key, with_for_update=True)
    if row is None:
        session.add(AccessTokenRow(key=key, token=token, expires_at=expires_at))
    else:
        row.token, row.expires_at = token, expires_at


def invalidate(session: Session, *, key: str, token: str) -> bool:
    """Drop the cached token if it is still the one WeCom rejected (40014/42001)."""
    result = session.execute(delete(AccessTokenRow).where(AccessTokenRow.key == key, AccessTokenRow.token == token))
    return bool(result.rowcount)
