"""What every dashboard route needs: the shared state, a database session, the viewer, CSRF.

The state is put on `request.state.web` by a router-level dependency, so routes stay plain
functions and nothing is global. Unauthenticated page requests get a 303 to the login page;
JSON requests under /api get 401.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.settings import Settings
from handlers.context import Clock
from storage.models import DashboardUserRow
from storage.users import get_user

SESSION_COOKIE = "groupbot_session"
LOGIN_COOKIE = "groupbot_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass
class WebState:
    config: AppConfig
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    templates: Jinja2Templates
    signer: URLSafeTimedSerializer
    prefix: str

    def url(self, path: str) -> str:
        return self.prefix + path


@dataclass(frozen=True)
class Viewer:
    """The logged-in account; `scope` is the chat ids it may see, None for an admin (every group)."""

    username: str
    role: str
    userid: str
    csrf: str
    scope: frozenset[str] | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def sees(self, chat_id: str | None) -> bool:
        return self.scope is None or chat_id in self.scope


def managed_groups(config: AppConfig, userid: str) -> frozenset[str]:
    return frozenset(g.chat_id for g in config.groups if userid in g.managers)


def get_state(request: Request) -> WebState:
    return request.state.web


StateDep = Annotated[WebState, Depends(get_state)]


def get_db(request: Request, state: StateDep) -> Iterator[Session]:
    with state.sessions() as session:
        # The page's templates read member names through the same session (on SQLite a second one
        # would wait for this one's write lock).
        request.state.db = session
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def _unauthenticated(request: Request, state: WebState) -> HTTPException:
    if request.url.path.startswith(state.url("/api/")):
        return HTTPException(401, "login required", headers={"WWW-Authenticate": "Cookie"})
    return HTTPException(303, "login required", headers={"Location": state.url("/login")})


def read_session_cookie(request: Request, state: WebState) -> dict | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = state.signer.loads(raw, salt="session", max_age=state.config.dashboard.session_hours * 3600)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and {"u", "c", "g"} <= data.keys() else None


def _stale_config_account(state: WebState, user: DashboardUserRow) -> bool:
    """A config.yaml account removed or given a new hash, role or userid since the cookie was issued
    (the table row is refreshed only at the next login attempt, which then bumps the generation)."""
    if user.source != "config":
        return False
    account = next((u for u in state.config.dashboard.users if u.username == user.username), None)
    return account is None or (account.password_hash, account.role, account.userid) != (
        user.password_hash, user.role, user.userid)


def get_viewer(request: Request, state: StateDep, session: SessionDep) -> Viewer:
    data = read_session_cookie(request, state)
    if data is None:
        raise _unauthenticated(request, state)
    user = get_user(session, data["u"])
    # A deleted or disabled account, or one whose sessions were ended (logout, new password or role),
    # loses its open sessions at the next request.
    if user is None or user.disabled or data["g"] != user.session_generation or _stale_config_account(state, user):
        raise _unauthenticated(request, state)
    userid = user.userid or user.username
    scope = None if user.role == "admin" else managed_groups(state.config, userid)
    return Viewer(username=user.username, role=user.role, userid=userid, csrf=data["c"], scope=scope)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


T = TypeVar("T")


def found_or_404(row: T | None, what: str) -> T:
    """`row`, or a 404 "<what> not found". Lookups are scoped to the viewer's groups, so another
    manager's record gets the same answer as a missing one: no probing."""
    if row is None:
        raise HTTPException(404, f"{what} not found")
    return row


def require_admin(viewer: ViewerDep) -> Viewer:
    if not viewer.is_admin:
        raise HTTPException(403, "admins only")
    return viewer


AdminDep = Annotated[Viewer, Depends(require_admin)]


async def check_csrf(request: Request, viewer: ViewerDep) -> Viewer:
    """Every state-changing request carries the session's token as a form field or header."""
    form = await request.form()
    for name, value in form.multi_items():
        if isinstance(value, str) and "\x00" in value:
            raise HTTPException(400, f"{name}: contains a NUL character")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, viewer.csrf):
        raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")
    return viewer


CsrfViewerDep = Annotated[Viewer, Depends(check_csrf)]


def require_csrf_admin(viewer: CsrfViewerDep) -> Viewer:
    if not viewer.is_admin:
        raise HTTPException(403, "admins only")
    return viewer


CsrfAdminDep = Annotated[Viewer, Depends(require_csrf_admin)]
