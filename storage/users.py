"""Dashboard accounts and the lock-out counter; password hashing happens in bot.web.auth."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditLog, DashboardUser


def get_user(session: Session, username: str) -> DashboardUser | None:
    return session.get(DashboardUser, username)


def list_users(session: Session) -> list[DashboardUser]:
    return list(session.scalars(select(DashboardUser).order_by(DashboardUser.username)))


def put_user(
    session: Session,
    *,
    username: str,
    password_hash: str,
    role: str,
    userid: str | None = None,
    source: str = "cli",
) -> DashboardUser:
    """Create the account or replace its hash, role and userid; the lock-out state is kept."""
    user = session.get(DashboardUser, username)
    if user is None:
        user = DashboardUser(username=username, failed_logins=0)
        session.add(user)
    user.password_hash = password_hash
    user.role = role
    user.userid = userid
    user.source = source
    return user


def is_locked(user: DashboardUser, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def register_failure(
    session: Session, *, user: DashboardUser, now: datetime, attempts: int, lock_minutes: int
) -> bool:
    """Count a failed login; lock the account after `attempts` in a row. True when now locked."""
    user.failed_logins = (user.failed_logins or 0) + 1
    locked = user.failed_logins >= attempts
    if locked:
        user.locked_until = now + timedelta(minutes=lock_minutes)
        user.failed_logins = 0
    session.add(AuditLog(at=now, actor=user.username, action="login_failed", detail={"locked": locked}))
    return locked


def register_success(session: Session, *, user: DashboardUser, now: datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(AuditLog(at=now, actor=user.username, action="login", detail={}))


def audit(session: Session, *, actor: str, action: str, now: datetime, target: str | None = None,
          detail: dict | None = None) -> AuditLog:
    """Append one audit row (exports, handling, appeals, re-queues)."""
    row = AuditLog(at=now, actor=actor, action=action, target=target, detail=detail or {})
    session.add(row)
    return row
