"""Dashboard accounts and their session generation; hashing is in bot.web.auth, throttling in
storage.login_throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import AuditLogRow, DashboardUserRow


def get_user(session: Session, username: str) -> DashboardUserRow | None:
    return session.get(DashboardUserRow, username)


def put_user(
    session: Session,
    *,
    username: str,
    password_hash: str,
    role: str,
    userid: str | None = None,
    source: str = "cli",
    enable: bool = False,
) -> DashboardUserRow:
    """Create the account or replace its hash, role and userid. A new password, role or userid ends
    the account's open sessions; `enable` lifts `disable_user` (config refreshes never do)."""
    user = session.get(DashboardUserRow, username)
    if user is None:
        user = DashboardUserRow(username=username, session_generation=0, disabled=False)
        session.add(user)
    elif (user.password_hash, user.role, user.userid) != (password_hash, role, userid):
        end_sessions(user)
    user.password_hash = password_hash
    user.role = role
    user.userid = userid
    user.source = source
    if enable:
        user.disabled = False
    return user


def end_sessions(user: DashboardUserRow) -> None:
    """Every session cookie carries the generation it was issued under; a new one voids them all."""
    user.session_generation = (user.session_generation or 0) + 1


def disable_user(session: Session, *, username: str) -> DashboardUserRow | None:
    """`groupbot user disable`: no more logins, and open sessions end at their next request."""
    user = session.get(DashboardUserRow, username)
    if user is not None:
        user.disabled = True
        end_sessions(user)
    return user


def register_success(session: Session, *, user: DashboardUserRow, now: datetime) -> None:
    user.last_login_at = now
    session.add(AuditLogRow(at=now, actor=user.username, action="login", detail={}))


def register_failure(session: Session, *, username: str, now: datetime) -> None:
    """Audit a wrong password for a known account (unknown names are not kept: they may be passwords)."""
    session.add(AuditLogRow(at=now, actor=username, action="login_failed", detail={}))


def audit(session: Session, *, actor: str, action: str, now: datetime, target: str | None = None,
          detail: dict | None = None) -> AuditLogRow:
    """Append one audit row (exports, handling, appeals, re-queues)."""
    row = AuditLogRow(at=now, actor=actor, action=action, target=target, detail=detail or {})
    session.add(row)
    return row
